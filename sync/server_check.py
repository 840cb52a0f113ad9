"""Can FieldChart sync with this FHIR server? What `fieldchart check-server` runs for IT.

``check_server`` reads the CapabilityStatement and asks the server what sync will ask of it
(an authenticated search, ``_lastUpdated`` search with ``_sort`` and paging, the page size it
honours, type ``_history``), and tells whether its transactions are atomic with a probe that
writes nothing (``transaction_atomicity``). With ``write_probe`` it also writes: it creates a
clearly marked throwaway test patient (family ``FIELDCHART-CHECK-SERVER-PROBE``, identifiers
under ``urn:fieldchart:fhir:check-server``), updates it with a current and a stale If-Match,
creates another conditionally (If-None-Exist) twice, tries update-as-create and a transaction
with real writes, and deletes everything it created.

Each check says what the server did and what FieldChart will do about it. A check that
``fails`` means FieldChart cannot sync with the server; ``warn`` means it can, with the
consequence stated.

The device also keeps one fact from here in its sync journal (``status --json`` shows it):
whether the server's transactions are atomic, probed at enrolment and again at the start of a
sync cycle at most once a day (``record_server_facts``, ``refresh_server_facts``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from sync.fhir.capability import SYNCED_RESOURCE_TYPES, CapabilityInfo
from sync.fhir.client import FhirClient, next_link
from sync.fhir.errors import (
    AuthError,
    FhirError,
    OfflineError,
    RateLimitedError,
    UnsupportedServerError,
    VersionConflictError,
)
from sync.fhir.mapping.adapter import PULL_TYPES
from sync.pull import PAGE_SIZE

if TYPE_CHECKING:
    from app.services.sync_gateway import SyncGateway

__all__ = [
    "PROBE_FAMILY",
    "PROBE_SYSTEM",
    "SERVER_FACTS_KEY",
    "Check",
    "ServerReport",
    "check_server",
    "record_server_facts",
    "refresh_server_facts",
    "server_facts",
    "transaction_atomicity",
]

log = logging.getLogger(__name__)

PROBE_SYSTEM = "urn:fieldchart:fhir:check-server"
PROBE_FAMILY = "FIELDCHART-CHECK-SERVER-PROBE"
#: The sync journal key of what the device knows about its server (``status --json``).
SERVER_FACTS_KEY = "server"
REFRESH_AFTER = timedelta(days=1)
#: Before any real data: every resource matches ``_lastUpdated=ge`` this.
_EPOCH = "1970-01-01T00:00:00Z"

Status = Literal["ok", "warn", "fail", "info"]


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, what the server did, what FieldChart does."""

    name: str
    status: Status
    result: str
    action: str

    def to_json(self) -> dict[str, str]:
        return {
            "check": self.name,
            "status": self.status,
            "result": self.result,
            "action": self.action,
        }


@dataclass
class ServerReport:
    server: str
    write_probe: bool
    checks: list[Check] = field(default_factory=list)
    fhir_version: str | None = None
    software: str | None = None
    atomic_transactions: bool | None = None
    #: resource type -> "put" (update-as-create, our ids) or "post" (server-assigned ids)
    create_strategy: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, status: Status, result: str, action: str) -> None:
        self.checks.append(Check(name, status, result, action))

    @property
    def can_sync(self) -> bool:
        return not self.blocking

    @property
    def blocking(self) -> list[str]:
        """One line per reason FieldChart cannot sync with this server."""
        return [f"{c.name}: {c.result}" for c in self.checks if c.status == "fail"]

    def to_json(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "can_sync": self.can_sync,
            "write_probe": self.write_probe,
            "fhir_version": self.fhir_version,
            "software": self.software,
            "atomic_transactions": self.atomic_transactions,
            "create_strategy": dict(self.create_strategy),
            "checks": [c.to_json() for c in self.checks],
            "blocking": self.blocking,
        }


# -- transaction atomicity ---------------------------------------------------------------------

#: Fatal for a check: the server cannot be reached or refuses the device; say so, stop.
_FATAL = (OfflineError, AuthError, RateLimitedError)


def _probe_patient(marker: str, *, family: str = PROBE_FAMILY) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": PROBE_SYSTEM, "value": marker}],
        "name": [{"family": family, "given": ["Delete", "me"]}],
        "active": False,
    }


def _failing_entry(client: FhirClient) -> dict[str, Any]:
    """A PUT that every server must refuse and none can apply: the body's id is not the URL's
    (400 everywhere), and the If-Match names a version that does not exist (412/404), for a
    server that would not compare ids. Both guards matter: a Medplum super-admin client ignores
    a stale If-Match on an id that does not exist and creates the resource."""
    url_id, body_id = str(uuid.uuid4()), str(uuid.uuid4())
    resource = _probe_patient(f"atomicity-{url_id}")
    resource["id"] = body_id
    return {
        "fullUrl": f"{client.base_url}Patient/{url_id}",
        "resource": resource,
        "request": {
            "method": "PUT",
            "url": f"Patient/{url_id}",
            "ifMatch": f'W/"{uuid.uuid4()}"',
        },
    }


def transaction_atomicity(client: FhirClient) -> bool | None:
    """Whether a failing entry fails the whole transaction Bundle; None if the answer says
    neither. Writes nothing: the Bundle is a harmless read and a write that must fail.

    Atomic servers refuse the Bundle (4xx); batch-like ones answer 200 with the read's result
    and a per-entry error. Unreachable, refused or rate-limited: that FhirError is raised.
    """
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"request": {"method": "GET", "url": f"Patient?_id={uuid.uuid4()}"}},
            _failing_entry(client),
        ],
    }
    try:
        results = client.transaction(bundle)
    except _FATAL:
        raise
    except FhirError as exc:
        if exc.retryable and exc.status is not None and exc.status < 500:
            raise  # a concurrent-update clash (409): says nothing about atomicity
        if exc.status is not None and 400 <= exc.status < 500:
            return True
        log.info("transaction probe: no verdict (%s)", exc)
        return None
    if results[1].status >= 400:
        return False
    log.warning("transaction probe: the server accepted a write it should have refused")
    return None


# -- the device's record of its server ---------------------------------------------------------


def server_facts(gateway: SyncGateway) -> dict[str, Any]:
    """What ``status --json`` shows under ``server``: atomic_transactions and when it was
    checked (both None until the first check)."""
    facts = gateway.journal(SERVER_FACTS_KEY)
    base: dict[str, Any] = {"atomic_transactions": None, "checked_at": None}
    return base | facts if isinstance(facts, dict) else base


def record_server_facts(gateway: SyncGateway, client: FhirClient, now: datetime) -> bool | None:
    """Probe atomicity now and keep the answer (a probe without a verdict keeps the last one)."""
    atomic = transaction_atomicity(client)
    if atomic is None:
        atomic = server_facts(gateway)["atomic_transactions"]
    facts = {"atomic_transactions": atomic, "checked_at": now.isoformat(timespec="seconds")}
    gateway.set_journal(SERVER_FACTS_KEY, facts)
    return atomic


def refresh_server_facts(
    gateway: SyncGateway, client: FhirClient, now: datetime, *, force: bool = False
) -> None:
    """At the start of a sync cycle: probe again when the last check is a day old or missing
    (``force``: now, at enrolment). A failed probe is logged and never fails the cycle or the
    enrolment: their own requests say what is wrong with the server."""
    checked = server_facts(gateway)["checked_at"]
    try:
        due = force or checked is None or now - datetime.fromisoformat(checked) >= REFRESH_AFTER
    except (TypeError, ValueError):
        due = True
    if not due:
        return
    try:
        record_server_facts(gateway, client, now)
    except FhirError as exc:
        log.info("could not check the server's transactions: %s", exc)


# -- the read-only checks ----------------------------------------------------------------------


def check_server(
    client: FhirClient, *, auth_mode: str = "none", write_probe: bool = False
) -> ServerReport:
    """Every check, in order. Raises the FhirError when the server cannot be reached at all,
    the TLS handshake fails or the credentials are refused (there is nothing to check then)."""
    report = ServerReport(server=client.base_url, write_probe=write_probe)
    try:
        info = client.capabilities()
    except UnsupportedServerError as exc:
        report.add("fhir_version", "fail", exc.message, "FieldChart needs a FHIR R4 (4.0.x) server")
        return report
    report.fhir_version, report.software = info.fhir_version, info.software
    report.add(
        "fhir_version",
        "ok",
        f"FHIR {info.fhir_version} ({info.software or 'software not named'})",
        "none needed",
    )
    _token(client, report, auth_mode)
    _resource_types(info, report)
    _interactions(info, report)
    _create_strategy(info, report)
    _versioned_update(info, report)
    _transactions(client, info, report)
    if write_probe:  # the reads run while the test patients exist: paging has data to page
        with _cleanup(client, report) as created:
            _write_probe(created, report)
            _reads(client, report)
    else:
        _reads(client, report)
    return report


def _reads(client: FhirClient, report: ServerReport) -> None:
    _search(client, report)
    _paging(client, report)
    _page_size(client, report)
    _history(client, report)


def _token(client: FhirClient, report: ServerReport, auth_mode: str) -> None:
    client.search_page("Patient", {"_count": "1"})  # AuthError when the credentials are refused
    if auth_mode == "none":
        report.add(
            "token",
            "warn",
            "no authentication configured, and the server served a search without it",
            "syncs without credentials: make sure the server is not open to others",
        )
    else:
        report.add(
            "token",
            "ok",
            f"{auth_mode}: accepted (an authenticated search succeeded)",
            "tokens are cached in memory and renewed before they expire",
        )


def _resource_types(info: CapabilityInfo, report: ServerReport) -> None:
    missing = [t for t in SYNCED_RESOURCE_TYPES if t not in info.resources]
    blocking = [t for t in missing if t in PULL_TYPES]
    if blocking:
        report.add(
            "resource_types",
            "fail",
            f"not declared: {', '.join(blocking)}",
            "records of those kinds could never sync",
        )
    elif missing:
        report.add(
            "resource_types",
            "warn",
            f"not declared: {', '.join(missing)}",
            "chart views are kept on the device only (the audit trail is not sent)",
        )
    else:
        report.add(
            "resource_types",
            "ok",
            f"all {len(SYNCED_RESOURCE_TYPES)} declared",
            "none needed",
        )


def _interactions(info: CapabilityInfo, report: ServerReport) -> None:
    lacking: list[str] = []
    for resource_type in SYNCED_RESOURCE_TYPES:
        if resource_type not in info.resources:
            continue
        needed = ["update"] if resource_type == "AuditEvent" else ["read", "update", "search-type"]
        lacking += [
            f"{resource_type} {interaction}"
            for interaction in needed
            if not info.supports(resource_type, interaction)
        ]
    if lacking:
        report.add(
            "interactions",
            "fail",
            f"not declared: {', '.join(lacking)}",
            "changes of those kinds cannot be pushed, pulled or rebased",
        )
    else:
        report.add(
            "interactions",
            "ok",
            "read, update and search-type declared for every synced type",
            "none needed",
        )


def _create_strategy(info: CapabilityInfo, report: ServerReport) -> None:
    put, post, neither = [], [], []
    for resource_type in SYNCED_RESOURCE_TYPES:
        res = info.resources.get(resource_type)
        if res is None:
            continue
        if res.update_create:
            put.append(resource_type)
            report.create_strategy[resource_type] = "put"
        elif "create" in res.interactions:
            post.append(resource_type)
            report.create_strategy[resource_type] = "post"
        else:
            neither.append(resource_type)
    if neither:
        report.add(
            "create",
            "fail",
            f"neither create nor update-as-create declared for {', '.join(neither)}",
            "new records of those kinds could never reach the server",
        )
    actions = []
    if put:
        actions.append(f"PUT and its own ids ({_which(put)})")
    if post:
        actions.append(
            f"POST and server ids ({_which(post)}), If-None-Exist on its identifier so a "
            "retry cannot duplicate"
        )
    if actions:
        result = (
            "update-as-create allowed"
            if not post
            else "update-as-create not allowed"
            if not put
            else f"update-as-create allowed for {', '.join(put)} only"
        )
        report.add(
            "create_strategy", "ok", result, "FieldChart will create with " + "; ".join(actions)
        )


def _which(types: list[str]) -> str:
    return "every type" if len(types) == len(SYNCED_RESOURCE_TYPES) else ", ".join(types)


def _versioned_update(info: CapabilityInfo, report: ServerReport) -> None:
    unversioned = [
        t
        for t in SYNCED_RESOURCE_TYPES
        if t in info.resources and not info.resources[t].versioned_update
    ]
    if unversioned:
        report.add(
            "if_match",
            "warn",
            f"versioned updates (If-Match) not declared for {', '.join(unversioned)}",
            "FieldChart still sends If-Match; if the server ignores it, two devices editing one "
            "record can overwrite each other (run --write-probe to find out)",
        )
    else:
        report.add(
            "if_match",
            "ok",
            "versioned updates declared (If-Match)",
            "every update is conditional on the version FieldChart last saw; a conflict is rebased",
        )


def _transactions(client: FhirClient, info: CapabilityInfo, report: ServerReport) -> None:
    if not info.transaction:
        report.add(
            "transactions",
            "fail",
            "transaction Bundles not declared",
            "FieldChart pushes each change as one transaction and cannot sync without them",
        )
    else:
        report.add("transactions", "ok", "transaction Bundles declared", "none needed")
    atomic = transaction_atomicity(client)
    report.atomic_transactions = atomic
    if atomic is True:
        report.add(
            "atomic_transactions",
            "ok",
            "atomic: a failing entry failed the whole Bundle (probe wrote nothing)",
            "one change's writes succeed or fail together",
        )
    else:
        report.add(
            "atomic_transactions",
            "warn",
            "not atomic: the Bundle succeeded with a per-entry error (probe wrote nothing)"
            if atomic is False
            else "unknown: the probe's answer was neither",
            "FieldChart checks every entry's answer; a partly applied change stays pending and "
            "is finished on the next attempt, never shown as synced",
        )


def _search(client: FhirClient, report: ServerReport) -> None:
    failed = []
    for resource_type in PULL_TYPES:
        params = {"_lastUpdated": f"ge{_EPOCH}", "_sort": "_lastUpdated", "_count": "1"}
        try:
            client.search_page(resource_type, params)
        except _FATAL:
            raise
        except FhirError as exc:
            failed.append(f"{resource_type} ({_short(exc)})")
    if failed:
        report.add(
            "search_last_updated",
            "fail",
            f"_lastUpdated + _sort=_lastUpdated refused for {', '.join(failed)}",
            "changes made elsewhere could not be pulled",
        )
    else:
        report.add(
            "search_last_updated",
            "ok",
            f"_lastUpdated=ge… with _sort=_lastUpdated answered for all {len(PULL_TYPES)} types",
            "pulls every type by _lastUpdated from an inclusive watermark",
        )


def _paging(client: FhirClient, report: ServerReport) -> None:
    params = {"_lastUpdated": f"ge{_EPOCH}", "_sort": "_lastUpdated", "_count": "1"}
    try:
        first = client.search_page("Patient", params)
        link = next_link(first)
        if link is None:
            report.add(
                "paging",
                "info",
                f"not seen: {len(first.get('entry') or [])} patient(s) on the server, one page",
                "follows next links as given (run --write-probe on an empty server to see them)",
            )
            return
        second = client.search_page(link)
    except _FATAL:
        raise
    except FhirError as exc:
        report.add("paging", "fail", _short(exc), "changes made elsewhere could not be pulled")
        return
    ids = [_entry_id(e) for e in first.get("entry") or []]
    again = [_entry_id(e) for e in second.get("entry") or []]
    style = "_cursor" if "_cursor=" in link else "_offset" if "_offset=" in link else "own"
    if set(ids) & set(again):
        report.add(
            "paging",
            "warn",
            f"next link ({style}) repeated an entry of the first page",
            "de-duplicates by type, id and version; nothing is pulled twice",
        )
    else:
        report.add(
            "paging",
            "ok",
            f"next links work ({style} style), page 2 distinct from page 1",
            "follows next links as given and keeps the last one to resume after a crash",
        )


def _page_size(client: FhirClient, report: ServerReport) -> None:
    page = client.search_page("Patient", {"_count": str(PAGE_SIZE)})
    got = len(page.get("entry") or [])
    if next_link(page) is not None and got < PAGE_SIZE:
        report.add(
            "page_size",
            "info",
            f"asked for {PAGE_SIZE}, the server caps pages at {got}",
            f"follows next links: pulls take {PAGE_SIZE // max(got, 1)}x the requests",
        )
    else:
        report.add(
            "page_size",
            "ok",
            f"_count={PAGE_SIZE} honoured ({got} on the first page)",
            f"asks for {PAGE_SIZE} a page",
        )


def _history(client: FhirClient, report: ServerReport) -> None:
    try:
        client.search_page("Patient/_history?_count=1")
        supported = True  # a searchset for a history request: odd, but an answer
    except _FATAL:
        raise
    except FhirError as exc:
        # A 200 that is not a searchset is the history Bundle itself.
        supported = exc.status == 200
    report.add(
        "history",
        "info",
        "type-level _history supported" if supported else "no type-level _history",
        "not needed: FieldChart pulls by search on _lastUpdated",
    )


# -- the write probe ---------------------------------------------------------------------------


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
        return [i for i in (_entry_id(e) for e in page.get("entry") or []) if i]


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
    except _FATAL:
        raise
    except FhirError as exc:
        report.add(
            name, "fail", _short(exc), "see the server's answer; FieldChart cannot rely on it"
        )


def _probe_create(created: _Created, report: ServerReport, run: str) -> None:
    marker = f"probe-{run}-1"
    created.markers.append(marker)
    first = created.client.create("Patient", _probe_patient(marker))
    pid = first.resource["id"]
    created.ids.append(pid)
    report.add(
        "probe_create",
        "ok",
        f"POST Patient -> server id {pid}, version {first.version_id}",
        "learns the server's id from the answer and keeps it in the vault's id map",
    )
    if first.version_id is None:
        report.add(
            "update_if_match",
            "fail",
            "the created patient has no version (no ETag, no meta.versionId)",
            "updates cannot be made conditional: concurrent edits would overwrite each other",
        )
        return
    changed = dict(first.resource)
    changed["name"] = [{"family": PROBE_FAMILY, "given": ["Delete", "me", "updated"]}]
    second = created.client.put("Patient", pid, changed, if_match_version=first.version_id)
    report.add(
        "update_if_match",
        "ok" if second.version_id != first.version_id else "warn",
        f"PUT with the current If-Match -> version {second.version_id}",
        "updates with If-Match on the version it last saw",
    )
    stale = dict(second.resource)
    stale["name"] = [{"family": PROBE_FAMILY, "given": ["stale", "write"]}]
    try:
        created.client.put("Patient", pid, stale, if_match_version=first.version_id)
    except VersionConflictError as exc:
        report.add(
            "stale_if_match",
            "ok",
            f"PUT with a stale If-Match -> {exc.status} (refused)",
            "a concurrent edit is detected and rebased, never overwritten",
        )
        return
    report.add(
        "stale_if_match",
        "fail",
        "PUT with a stale If-Match was accepted",
        "concurrent edits from two devices would silently overwrite each other",
    )


def _conditional_create(created: _Created, report: ServerReport, run: str) -> None:
    marker = f"probe-{run}-2"
    created.markers.append(marker)
    condition = f"identifier={PROBE_SYSTEM}|{marker}"
    first = created.client.create("Patient", _probe_patient(marker), if_none_exist=condition)
    created.ids.append(first.resource["id"])
    again = created.client.create("Patient", _probe_patient(marker), if_none_exist=condition)
    if again.resource["id"] not in created.ids:
        created.ids.append(again.resource["id"])
    found = created.find(marker)
    if again.resource["id"] == first.resource["id"] and len(found) == 1:
        report.add(
            "conditional_create",
            "ok",
            "If-None-Exist: the second create returned the first patient (same id, one on the "
            "server)",
            "a create retried after a crash finds the first one instead of duplicating it",
        )
        return
    needs_post = "post" in report.create_strategy.values()
    report.add(
        "conditional_create",
        "fail" if needs_post else "warn",
        f"If-None-Exist ignored: {len(found)} patients with one identifier",
        "a create retried after a crash would duplicate the record"
        if needs_post
        else "not needed: FieldChart creates with PUT and its own ids",
    )


def _update_as_create(created: _Created, report: ServerReport) -> None:
    pid = str(uuid.uuid4())
    resource = _probe_patient(f"put-create-{pid}") | {"id": pid}
    created.markers.append(f"put-create-{pid}")
    try:
        created.client.put("Patient", pid, resource)
    except FhirError as exc:
        if isinstance(exc, _FATAL):
            raise
        declared = report.create_strategy.get("Patient") == "put"
        report.add(
            "update_as_create",
            "warn" if declared else "ok",
            f"PUT Patient/<new id> refused ({exc.status})",
            "the CapabilityStatement claims otherwise; FieldChart falls back to POST on this answer"
            if declared
            else "confirms: FieldChart creates with POST and server ids",
        )
        return
    created.ids.append(pid)
    report.add(
        "update_as_create",
        "ok",
        "PUT Patient/<new id> created it",
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
                "resource": _probe_patient(marker),
                "request": {"method": "POST", "url": "Patient"},
            },
            _failing_entry(created.client),
        ],
    }
    answer: str
    try:
        results = created.client.transaction(bundle)
        answer = f"HTTP 200, entries {', '.join(str(r.status) for r in results)}"
    except FhirError as exc:
        if isinstance(exc, _FATAL):
            raise
        answer = f"HTTP {exc.status}"
    kept = created.find(marker)
    created.ids += [i for i in kept if i not in created.ids]
    atomic = not kept
    note = ""
    if report.atomic_transactions is not None and report.atomic_transactions != atomic:
        note = " (the safe probe said otherwise; this answer counts)"
    report.atomic_transactions = atomic
    if atomic:
        report.add(
            "atomic_transactions_write",
            "ok",
            f"a valid create beside a failing entry: {answer}, nothing kept{note}",
            "one change's writes succeed or fail together",
        )
    else:
        report.add(
            "atomic_transactions_write",
            "warn",
            f"a valid create beside a failing entry: {answer}, the create was kept{note}",
            "FieldChart checks every entry's answer; a partly applied change stays pending and "
            "is finished on the next attempt, never shown as synced",
        )


def _delete_all(created: _Created, report: ServerReport) -> None:
    problems = []
    for marker in created.markers:  # also what a failed step created without telling us
        try:
            created.ids += [i for i in created.find(marker) if i not in created.ids]
        except FhirError as exc:
            problems.append(f"search {marker}: {_short(exc)}")
    for pid in created.ids:
        try:
            created.client.delete("Patient", pid)
            if created.client.read("Patient", pid) is not None:
                problems.append(f"Patient/{pid} still readable after DELETE")
        except FhirError as exc:
            problems.append(f"Patient/{pid}: {_short(exc)}")
    if problems:
        report.add(
            "probe_delete",
            "warn",
            "; ".join(problems),
            f"remove the test patients (family {PROBE_FAMILY}) by hand",
        )
    elif created.ids:
        report.add(
            "probe_delete",
            "ok",
            f"DELETE of the {len(created.ids)} test patient(s) -> gone",
            "none needed: nothing of the probe is left on the server",
        )


def _entry_id(entry: Any) -> str | None:
    resource = entry.get("resource") if isinstance(entry, dict) else None
    found = resource.get("id") if isinstance(resource, dict) else None
    return found if isinstance(found, str) else None


def _short(exc: FhirError) -> str:
    status = f"HTTP {exc.status}: " if exc.status is not None else ""
    return f"{status}{exc}"
