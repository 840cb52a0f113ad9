"""The write probe of check-server (``--write-probe``): a clearly marked throwaway test patient
is created, updated with a current and a stale If-Match, created again conditionally
(If-None-Exist), tried with update-as-create and in a transaction with real writes, and every
patient it made is deleted at the end whatever happens.

Apart from the read-only checks because it is the only part that changes the server, and its
cleanup is a responsibility of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from app.domain.wording import Text, t
from sync.fhir.client import FhirClient
from sync.fhir.errors import FhirError, VersionConflictError
from sync.server_check.atomicity import PROBE_FAMILY, PROBE_SYSTEM, failing_entry, probe_patient
from sync.server_check.report import FATAL, ServerReport, entry_id, joined, short

__all__ = ["probe_writes"]


@contextmanager
def probe_writes(client: FhirClient, report: ServerReport) -> Iterator[None]:
    """Run the write probe; the block runs while its test patients exist (so paging has data to
    page), and everything the probe created is deleted at the end whatever happens."""
    with _cleanup(client, report) as created:
        _write_probe(created, report)
        yield


class _Created:
    """What the probe created, deleted at the end whatever happens."""

    def __init__(self, client: FhirClient) -> None:
        self.client = client
        self.ids: list[str] = []
        self.markers: list[str] = []

    def find(self, marker: str) -> list[str]:
        page = self.client.search_page(
            "Patient", {"identifier": f"{PROBE_SYSTEM}|{marker}", "_count": "10"}
        )
        return [i for i in (entry_id(e) for e in page.get("entry") or []) if i]


@contextmanager
def _cleanup(client: FhirClient, report: ServerReport) -> Iterator[_Created]:
    created = _Created(client)
    try:
        yield created
    finally:
        _delete_all(created, report)


def _write_probe(created: _Created, report: ServerReport) -> None:
    run = uuid.uuid4().hex[:12]
    _step(report, "probe_create", lambda: _probe_create(created, report, run))
    _step(report, "conditional_create", lambda: _conditional_create(created, report, run))
    _step(report, "update_as_create", lambda: _update_as_create(created, report))
    _step(report, "atomic_transactions_write", lambda: _atomicity_write(created, report, run))


def _step(report: ServerReport, name: str, run: Callable[[], None]) -> None:
    try:
        run()
    except FATAL:
        raise
    except FhirError as exc:
        report.add(
            name, "fail", short(exc), t("see the server's answer; FieldChart cannot rely on it")
        )


def _probe_create(created: _Created, report: ServerReport, run: str) -> None:
    marker = f"probe-{run}-1"
    created.markers.append(marker)
    first = created.client.create("Patient", probe_patient(marker))
    pid = first.resource["id"]
    created.ids.append(pid)
    report.add(
        "probe_create",
        "ok",
        t(
            "POST Patient -> server id {pid}, version {version_id}",
            pid=pid,
            version_id=first.version_id,
        ),
        t("learns the server's id from the answer and keeps it in the vault's id map"),
    )
    if first.version_id is None:
        report.add(
            "update_if_match",
            "fail",
            t("the created patient has no version (no ETag, no meta.versionId)"),
            t("updates cannot be made conditional: concurrent edits would overwrite each other"),
        )
        return
    changed = dict(first.resource)
    changed["name"] = [{"family": PROBE_FAMILY, "given": ["Delete", "me", "updated"]}]
    second = created.client.put("Patient", pid, changed, if_match_version=first.version_id)
    report.add(
        "update_if_match",
        "ok" if second.version_id != first.version_id else "warn",
        t("PUT with the current If-Match -> version {version_id}", version_id=second.version_id),
        t("updates with If-Match on the version it last saw"),
    )
    stale = dict(second.resource)
    stale["name"] = [{"family": PROBE_FAMILY, "given": ["stale", "write"]}]
    try:
        created.client.put("Patient", pid, stale, if_match_version=first.version_id)
    except VersionConflictError as exc:
        report.add(
            "stale_if_match",
            "ok",
            t("PUT with a stale If-Match -> {status} (refused)", status=exc.status),
            t("a concurrent edit is detected and rebased, never overwritten"),
        )
        return
    report.add(
        "stale_if_match",
        "fail",
        t("PUT with a stale If-Match was accepted"),
        t("concurrent edits from two devices would silently overwrite each other"),
    )


def _conditional_create(created: _Created, report: ServerReport, run: str) -> None:
    marker = f"probe-{run}-2"
    created.markers.append(marker)
    condition = f"identifier={PROBE_SYSTEM}|{marker}"
    first = created.client.create("Patient", probe_patient(marker), if_none_exist=condition)
    created.ids.append(first.resource["id"])
    again = created.client.create("Patient", probe_patient(marker), if_none_exist=condition)
    if again.resource["id"] not in created.ids:
        created.ids.append(again.resource["id"])
    found = created.find(marker)
    if again.resource["id"] == first.resource["id"] and len(found) == 1:
        report.add(
            "conditional_create",
            "ok",
            t(
                "If-None-Exist: the second create returned the first patient (same id, one on the "
                "server)"
            ),
            t("a create retried after a crash finds the first one instead of duplicating it"),
        )
        return
    needs_post = "post" in report.create_strategy.values()
    report.add(
        "conditional_create",
        "fail" if needs_post else "warn",
        t("If-None-Exist ignored: {number} patients with one identifier", number=len(found)),
        t("a create retried after a crash would duplicate the record")
        if needs_post
        else t("not needed: FieldChart creates with PUT and its own ids"),
    )


def _update_as_create(created: _Created, report: ServerReport) -> None:
    pid = str(uuid.uuid4())
    resource = probe_patient(f"put-create-{pid}") | {"id": pid}
    created.markers.append(f"put-create-{pid}")
    try:
        created.client.put("Patient", pid, resource)
    except FhirError as exc:
        if isinstance(exc, FATAL):
            raise
        declared = report.create_strategy.get("Patient") == "put"
        report.add(
            "update_as_create",
            "warn" if declared else "ok",
            t("PUT Patient/<new id> refused ({status})", status=exc.status),
            t(
                "the CapabilityStatement claims otherwise; FieldChart falls back to POST on "
                "this answer"
            )
            if declared
            else t("confirms: FieldChart creates with POST and server ids"),
        )
        return
    created.ids.append(pid)
    report.add(
        "update_as_create",
        "ok",
        t("PUT Patient/<new id> created it"),
        "FieldChart may create with PUT and its own ids"
        if report.create_strategy.get("Patient") == "put"
        else "not declared in the CapabilityStatement: FieldChart keeps to POST",
    )


def _atomicity_write(created: _Created, report: ServerReport, run: str) -> None:
    marker = f"probe-{run}-tx"
    created.markers.append(marker)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": probe_patient(marker),
                "request": {"method": "POST", "url": "Patient"},
            },
            failing_entry(created.client),
        ],
    }
    answer: str
    try:
        results = created.client.transaction(bundle)
        answer = f"HTTP 200, entries {', '.join(str(r.status) for r in results)}"
    except FhirError as exc:
        if isinstance(exc, FATAL):
            raise
        answer = f"HTTP {exc.status}"
    kept = created.find(marker)
    created.ids += [i for i in kept if i not in created.ids]
    atomic = not kept
    note: str | Text = ""
    if report.atomic_transactions is not None and report.atomic_transactions != atomic:
        note = t(" (the safe probe said otherwise; this answer counts)")
    report.atomic_transactions = atomic
    if atomic:
        report.add(
            "atomic_transactions_write",
            "ok",
            t(
                "a valid create beside a failing entry: {answer}, nothing kept{note}",
                answer=answer,
                note=note,
            ),
            t("one change's writes succeed or fail together"),
        )
    else:
        report.add(
            "atomic_transactions_write",
            "warn",
            t(
                "a valid create beside a failing entry: {answer}, the create was kept{note}",
                answer=answer,
                note=note,
            ),
            t(
                "FieldChart checks every entry's answer; a partly applied change stays pending and "
                "is finished on the next attempt, never shown as synced"
            ),
        )


def _delete_all(created: _Created, report: ServerReport) -> None:
    problems: list[Text] = []
    for marker in created.markers:  # also what a failed step created without telling us
        try:
            created.ids += [i for i in created.find(marker) if i not in created.ids]
        except FhirError as exc:
            problems.append(t("search {marker}: {problem}", marker=marker, problem=short(exc)))
    for pid in created.ids:
        try:
            created.client.delete("Patient", pid)
            if created.client.read("Patient", pid) is not None:
                problems.append(t("Patient/{pid} still readable after DELETE", pid=pid))
        except FhirError as exc:
            problems.append(t("Patient/{pid}: {problem}", pid=pid, problem=short(exc)))
    if problems:
        report.add(
            "probe_delete",
            "warn",
            joined(problems),
            t(
                "remove the test patients (family {PROBE_FAMILY}) by hand",
                PROBE_FAMILY=PROBE_FAMILY,
            ),
        )
    elif created.ids:
        report.add(
            "probe_delete",
            "ok",
            t("DELETE of the {number} test patient(s) -> gone", number=len(created.ids)),
            t("none needed: nothing of the probe is left on the server"),
        )
