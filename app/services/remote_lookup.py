"""A patient from elsewhere (issue 14): the plain values and rules shared by the UI, the CLI and
sync for looking a patient up on the central server and bringing their record onto the device.

The work itself talks to the server, so it lives in sync (sync/remote_patients.py implements
RemotePatientLookup); what is decided without the network is here, where the UI and the CLI
can use it: who may look up, what a search must contain, and the shapes of the answers.
Messages name fields, never what was typed into them (they may be logged).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Protocol

from app.domain.errors import DomainError, RoleError, ValidationError
from app.domain.roles import Actor, Role
from app.i18n import _, ngettext

#: At most this many patients are shown for one search; the answer says when there are more.
RESULT_LIMIT = 20
#: Staff register and look patients up at the desk, clinicians see them: both may look a
#: patient up. Admins record no patient data and open no charts (docs/decisions.md "Roles").
MAY_LOOK_UP = frozenset({Role.CLINICIAN, Role.STAFF})
MAX_NAME_WORDS = 4
MAX_FIELD_LENGTH = 64
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: Characters with a meaning of their own in a FHIR search value (`,` is "or", `$` and `\`
#: escape) or none in a name or number (controls).
_SPECIAL = re.compile(r"[$\\\x00-\x1f\x7f]")
#: A FHIR resource id (what `remote-fetch` takes).
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


class RemoteUnavailableError(DomainError):
    """The central server could not be asked or refused: nothing was changed on this device.

    `kind`: "not-enrolled" (no server set up), "offline" (no answer), "refused" (the server
    refused this device), "server" (the server failed or answered something unusable)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def check_may_look_up(actor: Actor) -> None:
    """RoleError unless `actor` may look patients up on the server and bring them here."""
    if actor.role not in MAY_LOOK_UP:
        raise RoleError(
            _(
                "A user with the {role} role may not look patients up on the central "
                "server; this needs a clinician or staff"
            ).format(role=actor.role.value)
        )


def check_server_id(server_id: str) -> str:
    """The server's id of a patient, checked (ValidationError names the field "server_id")."""
    value = server_id.strip()
    if not _FHIR_ID.fullmatch(value):
        raise ValidationError(
            _(
                "The server patient id must be 1-64 letters, digits, '-' or '.' (as the search "
                "shows it)"
            ),
            "server_id",
        )
    return value


@dataclass(frozen=True)
class RemoteQuery:
    """What a person typed to find a patient on the server; any of the three may be empty."""

    name: str = ""
    identifier: str = ""
    birth_date: str = ""

    def checked(self, today: date) -> RemoteQuery:
        """The query tidied (spaces collapsed), or ValidationError naming the field at fault.

        A birth date alone is refused: across a district it matches too many people to be a
        look-up for one patient who is here."""
        name = " ".join(self.name.replace(",", " ").split())
        identifier = self.identifier.strip()
        birth_date = self.birth_date.strip()
        if not (name or identifier or birth_date):
            raise ValidationError(
                _("Enter a name, an identifier or a birth date to search"), "name"
            )
        if name:
            if _SPECIAL.search(name) or "|" in name:
                raise ValidationError(
                    _("The name may not contain $, \\, | or control characters"), "name"
                )
            if len(name) > MAX_FIELD_LENGTH or len(name.split()) > MAX_NAME_WORDS:
                raise ValidationError(
                    _("Search with at most {count} words of the name").format(count=MAX_NAME_WORDS),
                    "name",
                )
            if sum(c.isalnum() for c in name) < 2:
                raise ValidationError(_("Enter at least 2 letters of the name"), "name")
        if identifier and (
            _SPECIAL.search(identifier) or "," in identifier or len(identifier) > MAX_FIELD_LENGTH
        ):
            raise ValidationError(
                _(
                    "The identifier may not contain $, \\, commas or control characters, or be "
                    "longer than {count} characters"
                ).format(count=MAX_FIELD_LENGTH),
                "identifier",
            )
        if birth_date:
            born = _date_or_none(birth_date)
            if born is None:
                raise ValidationError(
                    _("Write the birth date as YYYY-MM-DD, e.g. 1984-03-02"), "birth_date"
                )
            if born > today:
                raise ValidationError(_("The birth date is in the future"), "birth_date")
            if not (name or identifier):
                raise ValidationError(
                    _("A birth date alone matches too many people: add a name or an identifier"),
                    "name",
                )
        return RemoteQuery(name, identifier, birth_date)

    def fields_used(self) -> list[str]:
        """The names of the fields searched on (what the server's audit record may say)."""
        used = (("name", self.name), ("identifier", self.identifier))
        return [n for n, v in (*used, ("birthdate", self.birth_date)) if v]

    def describe(self) -> str:
        """The search as the device's own audit keeps it (inside the encrypted vault only)."""
        parts = [
            f"{label} {value!r}"
            for label, value in (
                ("name", self.name),
                ("identifier", self.identifier),
                ("birth date", self.birth_date),
            )
            if value
        ]
        return ", ".join(parts)


def _date_or_none(text: str) -> date | None:
    if not _DATE.fullmatch(text):
        return None
    try:
        born = date.fromisoformat(text)
    except ValueError:
        return None
    return born if born.year >= 1850 else None


@dataclass(frozen=True)
class RemotePatientRow:
    """One patient the server found: shown, not stored, until someone brings them here."""

    server_id: str
    given: str
    family: str
    sex: str
    birth_date: str
    identifiers: tuple[str, ...]  # "value (system)"
    organization: str  # the managing organization's name, else its reference; "" if none
    organization_reference: str | None
    local_id: str | None  # this device already holds the patient under this id
    readable: bool = True  # False: FieldChart cannot read this record (it would be quarantined)

    @property
    def display_name(self) -> str:
        return f"{self.family.upper()}, {self.given}" if self.given else self.family.upper()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["identifiers"] = list(self.identifiers)
        return data


@dataclass(frozen=True)
class RemoteSearchResult:
    patients: tuple[RemotePatientRow, ...]
    more: bool  # the server holds more matches than are shown: narrow the search
    total: int | None = None  # the server's count of matches, when it gives one

    def summary(self) -> str:
        """One line for a person: how many were found and whether there are more."""
        n = len(self.patients)
        if n == 0:
            return _("No patient on the central server matches.")
        if self.more and self.total and self.total > n:
            return ngettext(
                "{count} patient found. {total} match: add a birth date or an identifier to "
                "narrow the search.",
                "{count} patients found. {total} match: add a birth date or an identifier to "
                "narrow the search.",
                n,
            ).format(count=n, total=self.total)
        if self.more:
            return ngettext(
                "{count} patient found. More match: add a birth date or an identifier to "
                "narrow the search.",
                "{count} patients found. More match: add a birth date or an identifier to "
                "narrow the search.",
                n,
            ).format(count=n)
        return ngettext("{count} patient found.", "{count} patients found.", n).format(count=n)

    def to_json(self) -> dict[str, Any]:
        return {
            "patients": [p.to_json() for p in self.patients],
            "more": self.more,
            "total": self.total,
        }


@dataclass(frozen=True)
class BroughtPatient:
    """A patient brought onto this device from the server, with their compartment."""

    server_id: str
    patient_id: str  # our id: open the chart with it
    received: int  # resources read from the server
    new: int  # of which this device did not have yet
    visiting: bool  # recorded as visiting (not in this device's scope): kept while seen
    organization_reference: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class RemotePatientLookup(Protocol):
    """Look patients up on the central server and bring one onto this device, as the signed-in
    user (both audited). Raises ValidationError for bad input (nothing sent), RoleError,
    NotFoundError, or RemoteUnavailableError when the server cannot be asked."""

    def search(self, query: RemoteQuery) -> RemoteSearchResult: ...

    def bring(self, server_id: str) -> BroughtPatient: ...
