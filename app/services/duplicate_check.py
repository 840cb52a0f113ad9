"""The duplicate check at registration: patients on this device (and, when a server lookup is
given, on the central server within the device's scope) who may be the person being registered.

The rules are the domain's (app/domain/duplicates.py); this module reads the blocked candidates
from the read model and asks the server through the "Find on the central server" lookup
(app/services/remote_lookup.py), so the server's scope and audit apply unchanged.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from app.domain.duplicates import Candidate, Person, assess, candidates
from app.domain.errors import DomainError, ValidationError
from app.i18n import _, say
from app.projections import duplicate_keys, patient_links
from app.services.clock import local_now
from app.services.remote_lookup import RemotePatientLookup, RemotePatientRow, RemoteQuery
from app.store.database import read_transaction

if TYPE_CHECKING:
    from app.services.clinic import Clinic

log = logging.getLogger(__name__)

SHOWN = 10  # candidates listed at most (most alike first)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_IDENTIFIER = re.compile(r"^(?P<value>.*) \((?P<system>[^()]*)\)$")  # "value (system)"


@dataclass(frozen=True)
class RegistrationDraft:
    """What the New patient form (or a draft JSON file) holds before Save."""

    given: str
    family: str
    birth_date: str = ""
    sex: str = ""
    phone: str | None = None
    identifiers: tuple[tuple[str, str], ...] = ()  # (system, value)

    @classmethod
    def from_json(cls, data: Any) -> RegistrationDraft:
        """A draft from its JSON object; ValidationError names the field at fault."""
        if not isinstance(data, dict):
            raise ValidationError(_("The draft must be a JSON object"), "draft")
        text: dict[str, str] = {}
        for name in ("given", "family", "birth_date", "sex", "phone"):
            value = data.get(name, "")
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise ValidationError(_("The {field} must be text").format(field=name), name)
            text[name] = value.strip()
        found = data.get("identifiers", [])
        if not isinstance(found, list) or not all(
            isinstance(i, dict) and isinstance(i.get("value"), str) for i in found
        ):
            raise ValidationError(
                _('The identifiers must be a list of {{"system": ..., "value": ...}}'),
                "identifiers",
            )
        ids = tuple((str(i.get("system", "")), str(i["value"])) for i in found)
        return cls(
            text["given"],
            text["family"],
            text["birth_date"],
            text["sex"],
            text["phone"] or None,
            ids,
        )

    def checked(self) -> RegistrationDraft:
        """The draft, or ValidationError when there is nothing to compare or a bad date."""
        if not (self.given.strip() or self.family.strip()):
            raise ValidationError(
                _("Enter the given or family name to look for the patient"), "given"
            )
        if self.birth_date and not _DATE.fullmatch(self.birth_date):
            raise ValidationError(
                _("Write the birth date as YYYY-MM-DD, e.g. 1984-03-02"), "birth_date"
            )
        return self

    def person(self) -> Person:
        return Person(
            self.given, self.family, self.birth_date, self.sex, self.phone, self.identifiers
        )


@dataclass(frozen=True)
class SimilarPatient:
    """One candidate, as the form and the CLI show it."""

    patient_id: str  # on this device; "" for a patient only on the server
    given: str
    family: str
    birth_date: str
    sex: str
    score: int
    reasons: tuple[str, ...]
    server_id: str = ""  # the central server's id, for a patient found there
    where: str = "device"  # "device" or "server"

    @property
    def display_name(self) -> str:
        return f"{self.family.upper()}, {self.given}" if self.given else self.family.upper()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["reasons"] = list(self.reasons)
        return data


@dataclass(frozen=True)
class SimilarPatients:
    patients: tuple[SimilarPatient, ...]
    server_note: str = ""  # why the server was not asked or could not answer; "" if it was
    asked_server: bool = False


def similar_on_device(clinic: Clinic, draft: RegistrationDraft) -> list[SimilarPatient]:
    """Candidates among the patients on this device, most alike first."""
    person = draft.checked().person()
    with read_transaction(clinic.vault.engine) as conn:
        # A record merged into another chart is that chart now: offering it would open a
        # read-only record (the survivor is found on its own, under its own name).
        replaced = patient_links.all_replaced(conn)
        rows = [
            r for r in duplicate_keys.blocked_patients(conn, person) if r.patient_id not in replaced
        ]
    by_id = {r.patient_id: r for r in rows}
    found = candidates(person, (duplicate_keys.person_of(r) for r in rows), limit=SHOWN)
    return [_shown(c, by_id[c.patient_id]) for c in found]


def _shown(c: Candidate, row: Any) -> SimilarPatient:
    return SimilarPatient(
        c.patient_id, row.given, row.family, row.birth_date, row.sex, c.score, c.reasons
    )


def similar_on_server(
    lookup: RemotePatientLookup, draft: RegistrationDraft, today: date
) -> list[SimilarPatient]:
    """Candidates the central server holds that this device does not, found by the family name
    (the server matches name prefixes, so spelling variants are scored here, not there).
    Raises what the lookup raises (RemoteUnavailableError when offline)."""
    person = draft.checked().person()
    family = draft.family.split()[0] if draft.family.split() else draft.given.split()[0]
    result = lookup.search(RemoteQuery(name=family).checked(today))
    shown: list[SimilarPatient] = []
    for row in result.patients:
        if row.local_id or not row.readable:
            continue  # already on this device (scored there) or not readable here
        c = assess(person, _remote_person(row))
        if c is not None:
            shown.append(
                SimilarPatient(
                    "",
                    row.given,
                    row.family,
                    row.birth_date,
                    row.sex,
                    c.score,
                    c.reasons,
                    server_id=row.server_id,
                    where="server",
                )
            )
    return shown


def _remote_person(row: RemotePatientRow) -> Person:
    ids = []
    for text in row.identifiers:
        m = _IDENTIFIER.match(text)
        ids.append((m["system"], m["value"]) if m else ("", text))
    return Person(row.given, row.family, row.birth_date, row.sex, None, tuple(ids), row.server_id)


def similar_patients(
    clinic: Clinic, draft: RegistrationDraft, lookup: RemotePatientLookup | None = None
) -> SimilarPatients:
    """Candidates on this device, and on the server when `lookup` is given (online): a server
    that cannot be asked leaves the device's candidates and a note saying so."""
    here = similar_on_device(clinic, draft)
    if lookup is None:
        return SimilarPatients(tuple(here), _("The central server was not asked (offline)."))
    try:
        there = similar_on_server(lookup, draft, local_now(clinic.clock).date())
    except DomainError as exc:
        # The kind of failure only: the draft's names stay out of the log.
        log.info("duplicate check: server not asked (%s)", type(exc).__name__)
        return SimilarPatients(
            tuple(here),
            _("The central server could not be asked: {error}").format(error=say(exc.text)),
        )
    ordered = sorted([*here, *there], key=lambda p: (-p.score, p.where, p.patient_id))
    return SimilarPatients(tuple(ordered[:SHOWN]), "", asked_server=True)
