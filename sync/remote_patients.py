"""A patient from elsewhere (issue 14): look patients up on the central server and bring one's
record onto this device, for the signed-in user.

The search is an explicit look-up across the district (any facility), so it is not limited to
the device's scope; what it finds is shown, not stored. Bringing a patient here pulls their
Patient and every resource of their compartment with the pull's own code
(`Puller.pull_patients`), so they land like any pulled resource: confirmed events, shown in
the chart. A patient outside the device's scope is recorded in the sync journal's
`scope_visiting`, so later pulls keep them up to date while they are being seen; retention
decides when they leave (docs/district/elsewhere.md). Their managingOrganization stays theirs:
updates start from the server's copy, which keeps it.

Both the look-up and the fetch are audited: in the device's audit stream (inside the encrypted
vault; the search terms are kept only there) and as an AuditEvent on the server (names of the
search parameters, never their values; sync/remote_audit.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from app.domain.errors import NotFoundError
from app.i18n import _
from app.services.clinic import Clinic
from app.services.remote_lookup import (
    RESULT_LIMIT,
    BroughtPatient,
    RemotePatientRow,
    RemoteQuery,
    RemoteSearchResult,
    RemoteUnavailableError,
    check_may_look_up,
    check_server_id,
)
from app.services.settings import DeviceSettings
from sync.clinic_sync import SyncNotConfiguredError, client_for
from sync.fhir.client import FhirClient, next_link
from sync.fhir.errors import (
    AuthError,
    FhirError,
    OfflineError,
    RateLimitedError,
    RejectedError,
    TlsError,
)
from sync.fhir.mapping import MappingError
from sync.fhir.mapping.patient import from_fhir_patient, name_parts
from sync.fhir_mapper import FhirResourceMapper
from sync.pull import Puller
from sync.rebase import Rebaser
from sync.remote_audit import RemoteAuditSender, fetch_audit_event, search_audit_event

log = logging.getLogger(__name__)

VISITING_KEY = "scope_visiting"  # {server patient id: {"local_id": ..., "since": ...}}
SEARCHED = "RemotePatientSearched"  # actions in the device's audit stream
FETCHED = "RemotePatientFetched"
T = TypeVar("T")


class RemotePatients:
    """RemotePatientLookup (app/services/remote_lookup.py) over a clinic and its server."""

    def __init__(
        self,
        clinic: Clinic,
        client_factory: Callable[[DeviceSettings], FhirClient] = client_for,
    ) -> None:
        self._clinic = clinic
        self._gateway = clinic.sync_gateway
        self._client_factory = client_factory

    # -- look-up ---------------------------------------------------------------------------

    def search(self, query: RemoteQuery) -> RemoteSearchResult:
        actor = self._clinic.actor
        check_may_look_up(actor)
        q = query.checked(self._clinic.clock().astimezone().date())
        with self._client() as client:
            page = _asked(lambda: client.search_page("Patient", _search_params(q)))
            result = self._result(page)
            self._clinic.vault.record_admin_action(
                SEARCHED, "", f"{q.describe()}; {len(result.patients)} found", actor=actor
            )
            event = search_audit_event(
                actor.user,
                self._clinic.vault.device_id,
                self._clinic.clock(),
                q.fields_used(),
                len(result.patients),
            )
            RemoteAuditSender(self._gateway, client, self._clinic.clock).send(event)
        return result

    def _result(self, page: dict[str, Any]) -> RemoteSearchResult:
        entries = [e for e in page.get("entry") or [] if isinstance(e, dict)]
        resources = [e.get("resource") for e in entries]
        matches = [
            r
            for e, r in zip(entries, resources, strict=True)
            if isinstance(r, dict)
            and r.get("resourceType") == "Patient"
            and isinstance(r.get("id"), str)
            and (e.get("search") or {}).get("mode", "match") == "match"
        ]
        organizations = {
            f"Organization/{r['id']}": r["name"]
            for r in resources
            if isinstance(r, dict)
            and r.get("resourceType") == "Organization"
            and isinstance(r.get("id"), str)
            and isinstance(r.get("name"), str)
        }
        total = page.get("total")
        return RemoteSearchResult(
            tuple(self._row(p, organizations) for p in matches[:RESULT_LIMIT]),
            more=len(matches) > RESULT_LIMIT or next_link(page) is not None,
            total=total if isinstance(total, int) and not isinstance(total, bool) else None,
        )

    def _row(self, patient: dict[str, Any], organizations: dict[str, str]) -> RemotePatientRow:
        server_id = patient["id"]
        reference = organization_of(patient)
        managing = patient.get("managingOrganization")
        display = managing.get("display") if isinstance(managing, dict) else None
        organization = (
            display
            if isinstance(display, str) and display.strip()
            else organizations.get(reference or "", reference or "")
        )
        local_id = self._gateway.local_id("Patient", server_id)
        try:
            read = from_fhir_patient(patient)
        except MappingError:
            # Shown so the person knows it exists, but bringing it here would quarantine it.
            given, family = _any_name(patient)
            return RemotePatientRow(
                server_id, given, family or "(name not readable)", _text(patient.get("gender")),
                _text(patient.get("birthDate")), (), organization, reference, local_id, False,
            )  # fmt: skip
        d = read.demographics
        return RemotePatientRow(
            server_id=server_id,
            given=d.get("given") or "",
            family=d.get("family") or "",
            sex=d.get("sex") or "unknown",
            birth_date=d.get("birth_date") or "",
            identifiers=tuple(f"{i['value']} ({i['system']})" for i in read.identifiers),
            organization=organization,
            organization_reference=reference,
            local_id=local_id,
        )

    # -- bringing a patient here -----------------------------------------------------------

    def bring(self, server_id: str) -> BroughtPatient:
        actor = self._clinic.actor
        check_may_look_up(actor)
        sid = check_server_id(server_id)
        with self._client() as client:
            found = _asked(lambda: client.read("Patient", sid))
            if found is None:
                raise NotFoundError(
                    _("The central server has no patient with that id"), "server_id"
                )
            reference = organization_of(found.resource)
            # Recorded before the record arrives, so retention (the sync worker may be running)
            # never sees them here without knowing they are visiting; a failed fetch leaves an
            # entry the next pull completes.
            visiting = self._record_visiting(sid, reference)
            report = _asked(lambda: self._puller(client).pull_patients([sid]))
            local_id = self._gateway.local_id("Patient", sid)
            if local_id is None or self._clinic.queries.patient(local_id) is None:
                raise RemoteUnavailableError(
                    _(
                        "This patient's record on the central server could not be read on this "
                        "device; IT can see why in the sync status (quarantined items)"
                    ),
                    "server",
                )
            if visiting:
                self._gateway.update_journal(
                    VISITING_KEY, lambda kept: _with_local_id(kept, sid, local_id)
                )
            self._clinic.vault.record_admin_action(
                FETCHED, local_id, f"Patient/{sid}; {report.seen} records", actor=actor
            )
            event = fetch_audit_event(
                actor.user, self._clinic.vault.device_id, self._clinic.clock(), sid
            )
            RemoteAuditSender(self._gateway, client, self._clinic.clock).send(event)
        return BroughtPatient(sid, local_id, report.seen, report.new, visiting, reference)

    def _puller(self, client: FhirClient) -> Puller:
        mapper = FhirResourceMapper(self._clinic.catalog)
        rebaser = Rebaser(self._gateway, client, mapper)
        return Puller(self._gateway, client, mapper, rebaser, lambda _p: None, self._clinic.clock)

    def _record_visiting(self, server_id: str, organization: str | None) -> bool:
        """Record the patient as visiting unless the device's scope already holds them: their
        organization is the device's, or the device has no scope (it pulls everything)."""
        settings = self._clinic.settings.get()
        scoped = bool(
            settings.scope_organization or settings.scope_locations or settings.scope_group
        )
        if settings.pull_everything or not scoped:
            return False
        if organization is not None and organization == settings.scope_organization:
            return False
        since = self._clinic.clock().isoformat(timespec="seconds")
        entry = {"local_id": None, "since": since}
        self._gateway.update_journal(
            VISITING_KEY,
            lambda kept: {**(kept if isinstance(kept, dict) else {}), server_id: entry},
        )
        return True

    # -- the server ------------------------------------------------------------------------

    @contextmanager
    def _client(self) -> Iterator[FhirClient]:
        settings = self._clinic.settings.get()
        if not settings.sync_configured:
            raise RemoteUnavailableError(NOT_ENROLLED, "not-enrolled")
        try:
            client = self._client_factory(settings)
        except (SyncNotConfiguredError, ValueError):
            raise RemoteUnavailableError(NOT_ENROLLED, "not-enrolled") from None
        with client:
            client.use_clock(self._clinic.clock)
            client.begin_cycle()
            yield client


NOT_ENROLLED = (
    "This device is not enrolled with a central server, so it cannot look patients up there; "
    "ask IT to enrol it"
)


def _asked(ask: Callable[[], T]) -> T:
    """`ask()`, with the server's failures as one plain RemoteUnavailableError. The server's
    own diagnostics are not repeated: they may echo what was searched for."""
    try:
        return ask()
    except TlsError as exc:
        raise RemoteUnavailableError(
            _("The central server's certificate was not accepted ({reason}); ask IT").format(
                reason=exc.reason
            ),
            "refused",
        ) from None
    except OfflineError:
        raise RemoteUnavailableError(
            _(
                "The central server cannot be reached: this device looks offline. Nothing was "
                "changed; try again when it is connected"
            ),
            "offline",
        ) from None
    except AuthError:
        raise RemoteUnavailableError(
            _("The central server refused this device's credentials; ask IT"), "refused"
        ) from None
    except RateLimitedError:
        raise RemoteUnavailableError(
            _("The central server is busy; try again in a minute"), "server"
        ) from None
    except RejectedError as exc:
        raise RemoteUnavailableError(
            _(
                "The central server refused the request (HTTP {status}); ask "
                "IT if it keeps happening"
            ).format(status=exc.status),
            "refused",
        ) from None
    except FhirError as exc:
        log.info("a look-up on the central server failed: %s", type(exc).__name__)
        raise RemoteUnavailableError(
            _("The central server did not answer properly; nothing was changed. Try again"),
            "server",
        ) from None


def _search_params(q: RemoteQuery) -> list[tuple[str, str]]:
    """One `name` per word (both Medplum servers match a repeated `name` as "and", a single
    value with a space against the whole name), one more than shown (to know there are more),
    and the managing organizations, for their names."""
    params = [("name", word) for word in q.name.split()]
    if q.identifier:
        params.append(("identifier", q.identifier))
    if q.birth_date:
        params.append(("birthdate", q.birth_date))
    params += [("_count", str(RESULT_LIMIT + 1)), ("_include", "Patient:organization")]
    return params


def organization_of(patient: dict[str, Any]) -> str | None:
    """The patient's managingOrganization as "Organization/<server id>", if it names one."""
    managing = patient.get("managingOrganization")
    reference = managing.get("reference") if isinstance(managing, dict) else None
    if not isinstance(reference, str):
        return None
    parts = reference.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == "Organization" and parts[-1]:
        return f"Organization/{parts[-1]}"
    return None


def _any_name(patient: dict[str, Any]) -> tuple[str, str]:
    names = patient.get("name")
    first = names[0] if isinstance(names, list) and names else None
    return name_parts(first) if isinstance(first, dict) else ("", "")


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def remote_lookup_for(clinic: Clinic) -> RemotePatients:
    """The look-up of an unlocked clinic (what the desktop app's Backend hands the UI)."""
    return RemotePatients(clinic)


def _with_local_id(kept: Any, server_id: str, local_id: str) -> dict[str, Any]:
    """The visiting entries with our id of a patient whose record has arrived."""
    visiting = dict(kept) if isinstance(kept, dict) else {}
    entry = visiting.get(server_id)
    if isinstance(entry, dict):
        visiting[server_id] = {**entry, "local_id": local_id}
    return visiting
