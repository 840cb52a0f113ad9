"""The device's sync scope (the facility it serves) and how this server can honour it.

A district server holds many facilities' patients; a device pulls only its own: the patients of
its Organization (``Patient.managingOrganization``) or of a Group, and every resource of their
compartments, whoever wrote them. Which queries do that depends on the server, decided here
from its CapabilityStatement (docs/district/pull.md has the rules and what each test server
gets):

- ``chained``: ``Patient?organization=Organization/X`` and, per compartment type,
  ``Observation?patient.organization=Organization/X`` (or ``subject:Patient.organization`` where
  the type has ``subject`` but no ``patient``). One query per type, whatever the facility size.
- ``group-has``: ``Patient?_has:Group:member:_id=G`` and
  ``Observation?patient._has:Group:member:_id=G``.
- ``patient-list``: the patients first (by organization, or the Group's members), then the
  compartment types by ``patient=Patient/a,Patient/b,…`` lists sent as ``POST Type/_search``.
- ``everything``: every resource of every type, as before scopes (old enrolments, or IT's
  explicit choice for a single-clinic server).

Chaining is not something an R4 CapabilityStatement can declare, so it is assumed wherever the
reference search parameters it follows are there; a server that refuses a chained query is
remembered by the pull, which then asks again with ``chaining=False`` (patient lists).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from app.i18n import _
from app.services.settings import DeviceSettings
from sync.fhir.capability import CapabilityInfo
from sync.fhir.mapping import PULL_TYPES
from sync.fhir.mapping.adapter import FOREIGN_TYPES

__all__ = [
    "CHAINED",
    "EVERYTHING",
    "GROUP_HAS",
    "PATIENT_LIST",
    "ScopeStrategy",
    "ScopeUnsupportedError",
    "SyncScope",
    "choose_strategy",
    "everything_strategy",
]

CHAINED = "chained"
GROUP_HAS = "group-has"
PATIENT_LIST = "patient-list"
EVERYTHING = "everything"

#: The types of a patient's compartment that FieldChart pulls (everything but the Patient).
COMPARTMENT_TYPES: tuple[str, ...] = tuple(t for t in PULL_TYPES if t != "Patient")


class ScopeUnsupportedError(Exception):
    """The server cannot honour the scope; the message says what it lacks."""


@dataclass(frozen=True)
class SyncScope:
    """What the device pulls. ``organization``/``group`` are references as the server names
    them (``Organization/<server id>``, ``Group/<server id>``); ``locations`` are written on the
    encounters recorded here and do not narrow the pull."""

    organization: str | None = None
    locations: tuple[str, ...] = ()
    group: str | None = None
    everything: bool = False

    @classmethod
    def from_settings(cls, s: DeviceSettings) -> SyncScope:
        return cls(
            organization=s.scope_organization or None,
            locations=tuple(s.scope_locations),
            group=s.scope_group or None,
            everything=s.pull_everything,
        )

    @property
    def configured(self) -> bool:
        """False for an enrolment from before scopes: it keeps pulling everything."""
        return bool(self.organization or self.group or self.locations or self.everything)

    @property
    def group_id(self) -> str | None:
        return _server_id(self.group, "Group")

    @property
    def organization_ref(self) -> str | None:
        """``Organization/<id>``: the real server matches only the typed form."""
        org = _server_id(self.organization, "Organization")
        return f"Organization/{org}" if org else None


@dataclass(frozen=True)
class ScopeStrategy:
    """How the pull honours the scope on this server, and why (shown by check-server)."""

    name: str  # "chained" | "group-has" | "patient-list" | "everything"
    description: str
    #: Per compartment type, the search parameter that names its patient: "patient" where
    #: the type has one, else "subject" (searched as ``subject:Patient``).
    patient_params: tuple[tuple[str, str], ...] = ()
    #: Types of other systems' records (FOREIGN_TYPES) the server cannot search by patient:
    #: not pulled, rather than no scoped pull at all.
    skipped: tuple[str, ...] = ()

    def patient_param(self, resource_type: str) -> str:
        return dict(self.patient_params).get(resource_type, "patient")

    def pulls(self, resource_type: str) -> bool:
        return resource_type not in self.skipped

    def covers(self, types: tuple[str, ...]) -> bool:
        """Whether it was decided knowing each of `types` (a strategy kept from before a type
        was added to the pull is decided again)."""
        known = {t for t, _ in self.patient_params} | set(self.skipped)
        return self.name == EVERYTHING or set(types) <= known


def choose_strategy(
    info: CapabilityInfo, scope: SyncScope, *, chaining: bool = True
) -> ScopeStrategy:
    """The strategy for ``scope`` on the server ``info`` describes (ScopeUnsupportedError if it
    has none). ``chaining=False``: the server refused a chained or ``_has`` query, use
    patient lists."""
    strategy = _choose(info, scope, chaining)
    if not strategy.skipped:
        return strategy
    # check-server and the sync panel say what is left out, and why.
    missing = ", ".join(strategy.skipped)
    return dataclasses.replace(
        strategy,
        description=f"{strategy.description}; not pulled: {missing} (the server cannot "
        "search them by patient)",
    )


def _choose(info: CapabilityInfo, scope: SyncScope, chaining: bool) -> ScopeStrategy:
    if not scope.configured or scope.everything:
        return everything_strategy(scope)
    if not scope.organization and not scope.group:
        raise ScopeUnsupportedError(
            _(
                "Locations alone do not say which patients belong to the facility: name its "
                "Organization or a Group of its patients"
            )
        )
    params = _patient_params(info)
    skipped = tuple(t for t in COMPARTMENT_TYPES if t not in dict(params))
    if scope.organization:
        if not info.reference_param("Patient", "organization"):
            raise ScopeUnsupportedError(
                _(
                    "the server cannot search Patients by organization (Patient?organization=), "
                    "so it cannot tell which patients belong to the facility"
                )
            )
        org = scope.organization_ref
        if chaining:
            return ScopeStrategy(
                CHAINED,
                f"patients with managingOrganization {org}, and their records by chained "
                "search (patient.organization): one query per type",
                params,
                skipped,
            )
        return ScopeStrategy(
            PATIENT_LIST,
            f"patients with managingOrganization {org}, then their records by lists of "
            "patients (POST _search with patient=…): the server refused chained search",
            params,
            skipped,
        )
    if info.reverse_chaining and chaining:
        return ScopeStrategy(
            GROUP_HAS,
            f"the members of {scope.group} and their records by _has:Group:member",
            params,
            skipped,
        )
    group = info.resources.get("Group")
    if group is not None and "read" not in group.interactions:
        raise ScopeUnsupportedError(
            _(
                "the server supports neither _has nor reading a Group, so it cannot tell which "
                "patients are in the Group"
            )
        )
    return ScopeStrategy(
        PATIENT_LIST,
        f"the members of {scope.group} (read from the Group), then their records by lists of "
        "patients (POST _search with patient=…): the server does not support _has",
        params,
        skipped,
    )


def everything_strategy(scope: SyncScope) -> ScopeStrategy:
    """Pulling everything: needs nothing from the server's statement."""
    why = "IT chose to pull everything" if scope.everything else "the device has no scope"
    return ScopeStrategy(EVERYTHING, f"every patient on the server ({why})")


#: Types whose R4 base search parameters include ``subject`` (a sparse statement is assumed to
#: have the base parameters, so the list says which have one).
R4_SUBJECT = frozenset(
    {
        "Observation",
        "Condition",
        "Encounter",
        "MedicationRequest",
        "DocumentReference",
        "ServiceRequest",
        "DiagnosticReport",
        "Procedure",
        "MedicationStatement",
        "Communication",
    }
)


def _patient_params(info: CapabilityInfo) -> tuple[tuple[str, str], ...]:
    found = []
    for resource_type in COMPARTMENT_TYPES:
        # `subject` first: R4 defines Observation's (and others') `patient` as
        # `subject.where(resolve() is Patient)`, which a server may resolve per resource — on
        # the peer, one page of a 20,000-patient district took 98 s by `patient.organization`
        # and 1.1 s by `subject:Patient.organization` (docs/performance.md, "Sync over slow
        # links"). Types without a subject (AllergyIntolerance, Appointment, Immunization)
        # use `patient`.
        if resource_type in R4_SUBJECT and info.reference_param(resource_type, "subject"):
            found.append((resource_type, "subject"))
        elif info.reference_param(resource_type, "patient"):
            found.append((resource_type, "patient"))
        elif resource_type in FOREIGN_TYPES:
            continue  # skipped: FieldChart's own records do not depend on it
        else:
            raise ScopeUnsupportedError(
                _(
                    "the server cannot search {resource_type} by patient "
                    "(neither 'patient' nor 'subject' is a search parameter of "
                    "it), so it cannot pull one facility's records"
                ).format(resource_type=resource_type)
            )
    return tuple(found)


def _server_id(reference: str | None, resource_type: str) -> str | None:
    """The id in ``Type/<id>`` (a bare id is taken as it is)."""
    if not reference:
        return None
    prefix = f"{resource_type}/"
    return reference[len(prefix) :] if reference.startswith(prefix) else reference
