"""What the server says it can do (``GET /metadata``), reduced to what sync depends on.

FieldChart adapts to any conformant FHIR R4 server instead of shipping its own, so enrolment
reads the CapabilityStatement and says in plain sentences what will not work (``warnings()``),
loudest of all when updates cannot be made conditional on a version: then two devices editing
one record overwrite each other without anyone noticing.

A CapabilityStatement states intent, not proof; the push/pull code still copes with servers that
claim more than they do (e.g. Medplum ignoring an unquoted If-Match).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sync.fhir.errors import InvalidResponseError, UnsupportedServerError

__all__ = ["SYNCED_RESOURCE_TYPES", "CapabilityInfo", "ResourceCapability"]

#: The resource types FieldChart reads and writes (DESIGN.md, "Sync protocol").
SYNCED_RESOURCE_TYPES: tuple[str, ...] = (
    "Patient",
    "Encounter",
    "Observation",
    "Condition",
    "AllergyIntolerance",
    "MedicationRequest",
    "Appointment",
    "DocumentReference",
    "AuditEvent",
)

#: ``versioned`` is accepted too: such servers keep versions and, in practice (Azure, Google),
#: honour If-Match; strictly only ``versioned-update`` promises to enforce it.
_VERSIONED = frozenset({"versioned-update", "versioned"})
_NEEDED_INTERACTIONS = ("read", "update", "search-type")


@dataclass(frozen=True)
class ResourceCapability:
    """One ``rest.resource`` entry: interactions and flags for one resource type."""

    type: str
    interactions: frozenset[str]
    versioning: str | None
    update_create: bool
    conditional_update: bool
    search_params: frozenset[str]
    #: Each declared search parameter's type ("reference", "date", ...), by name.
    search_param_types: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def lists_own_search_params(self) -> bool:
        """The entry names search parameters of its own type (not only `_`-prefixed common
        ones such as `_lastUpdated`): then it is taken at its word about which exist."""
        return any(not name.startswith("_") for name in self.search_params)

    @property
    def versioned_update(self) -> bool:
        """Updates can carry If-Match (``versioning`` is versioned-update or versioned)."""
        return self.versioning in _VERSIONED


@dataclass(frozen=True)
class CapabilityInfo:
    """The parts of a CapabilityStatement that decide how FieldChart syncs."""

    fhir_version: str
    software: str | None
    resources: Mapping[str, ResourceCapability]
    interactions: frozenset[str] = field(default_factory=frozenset)
    search_params: frozenset[str] = field(default_factory=frozenset)

    @property
    def transaction(self) -> bool:
        """Transaction Bundles (``POST [base]``) are supported."""
        return "transaction" in self.interactions

    @property
    def history_system(self) -> bool:
        """System ``GET [base]/_history?_since=`` is available (the other way to pull)."""
        return "history-system" in self.interactions

    @property
    def versioned_update(self) -> bool:
        """Every declared synced type supports versioned updates (If-Match)."""
        return bool(self._declared()) and not self._unversioned()

    @property
    def update_create(self) -> bool:
        """Every declared synced type may be created by PUT with a client-assigned id."""
        return bool(self._declared()) and not self._not_creatable()

    def _declared(self) -> list[str]:
        """The synced types the server declares."""
        return [t for t in SYNCED_RESOURCE_TYPES if t in self.resources]

    def _unversioned(self) -> list[str]:
        return [t for t in self._declared() if not self.resources[t].versioned_update]

    def _not_creatable(self) -> list[str]:
        return [t for t in self._declared() if not self.resources[t].update_create]

    def supports(self, resource_type: str, interaction: str) -> bool:
        """Whether ``resource_type`` declares ``interaction`` (e.g. "update")."""
        res = self.resources.get(resource_type)
        return res is not None and interaction in res.interactions

    @property
    def batch(self) -> bool:
        """Batch Bundles are declared (servers that do not declare them may still answer one:
        the pull tries and remembers a refusal)."""
        return "batch" in self.interactions

    def search_param(self, resource_type: str, name: str) -> bool:
        """Whether ``Type?name=`` can be expected to work.

        Declared on the type or for all types: yes. A type whose entry lists no search
        parameters of its own (only common ones like ``_lastUpdated``, as the test peer's
        statement does) is assumed to support the R4 base parameters of its type: many servers
        publish sparse statements. A type that lists its own and not this one: no.
        """
        res = self.resources.get(resource_type)
        if res is None or "search-type" not in res.interactions:
            return False
        if name in res.search_params or name in self.search_params:
            return True
        return not res.lists_own_search_params

    def reference_param(self, resource_type: str, name: str) -> bool:
        """``search_param``, and when the type is declared, of type ``reference`` (a chain
        can only follow a reference)."""
        if not self.search_param(resource_type, name):
            return False
        res = self.resources[resource_type]
        declared = res.search_param_types.get(name)
        return declared is None or declared == "reference"

    @property
    def reverse_chaining(self) -> bool:
        """``_has`` searches work: declared (as a common or a type's search parameter), or the
        server is one known to support them. Servers rarely declare ``_has`` (Medplum does not,
        yet supports it); the test peer's router does not support it and answers 0 results,
        so guessing wrong would silently pull nothing: only known software counts."""
        if "_has" in self.search_params or any(
            "_has" in r.search_params for r in self.resources.values()
        ):
            return True
        return (self.software or "").strip().lower() in _KNOWN_HAS_SOFTWARE

    def searchable_by_last_updated(self, resource_type: str) -> bool:
        """``Type?_lastUpdated=ge...`` works (declared on the type or for all types)."""
        res = self.resources.get(resource_type)
        if res is None or "search-type" not in res.interactions:
            return False
        return "_lastUpdated" in res.search_params or "_lastUpdated" in self.search_params

    def warnings(self) -> list[str]:
        """Plain sentences about what will not work with this server; [] if all is well."""
        out: list[str] = []
        missing = [t for t in SYNCED_RESOURCE_TYPES if t not in self.resources]
        if missing:
            out.append(
                f"the server does not declare {_names(missing)}: records of those kinds cannot sync"
            )
        if not self.versioned_update and (unversioned := self._unversioned()):
            everywhere = len(unversioned) == len(self._declared())
            which = "" if everywhere else f" for {_names(unversioned)}"
            out.append(
                f"the server does not support versioned updates (If-Match){which}: concurrent "
                "edits could overwrite each other"
            )
        for interaction in _NEEDED_INTERACTIONS:
            lacking = [t for t in self._declared() if not self.supports(t, interaction)]
            if lacking:
                out.append(
                    f"the server does not support '{interaction}' for {_names(lacking)}: "
                    f"{_CONSEQUENCE[interaction]}"
                )
        if not self.update_create and (no_create := self._not_creatable()):
            out.append(
                f"the server does not allow creating {_names(no_create)} with a client-assigned "
                "id (update-as-create): new records of those kinds cannot be pushed"
            )
        if not self.transaction:
            out.append(
                "the server does not support transaction Bundles: the writes of one change "
                "cannot succeed or fail together"
            )
        if not self.history_system:
            no_pull = [t for t in self._declared() if not self.searchable_by_last_updated(t)]
            if no_pull:
                out.append(
                    f"the server offers neither search by _lastUpdated for {_names(no_pull)} nor "
                    "system _history with _since: changes made elsewhere cannot be pulled"
                )
        return out

    @classmethod
    def from_statement(cls, statement: Any) -> CapabilityInfo:
        """Parse a CapabilityStatement; UnsupportedServerError unless it is FHIR R4 (4.0.x)."""
        if not isinstance(statement, dict) or (
            statement.get("resourceType") != "CapabilityStatement"
        ):
            raise InvalidResponseError("the /metadata answer is not a CapabilityStatement")
        version = statement.get("fhirVersion")
        if not isinstance(version, str) or not version.startswith("4.0."):
            raise UnsupportedServerError(
                f"the server speaks FHIR {version or '(version not stated)'}; FieldChart needs "
                "FHIR R4 (4.0.x)"
            )
        servers = [
            r
            for r in statement.get("rest") or []
            if isinstance(r, dict) and r.get("mode") == "server"
        ]
        rest = servers[0] if servers else None
        if rest is None:
            raise UnsupportedServerError("the server declares no FHIR REST server interface")
        resources = {}
        for raw in rest.get("resource") or []:
            if isinstance(raw, dict) and isinstance(raw.get("type"), str):
                res = _resource(raw)
                resources[res.type] = res
        software = statement.get("software")
        name = software.get("name") if isinstance(software, dict) else None
        return cls(
            fhir_version=version,
            software=name if isinstance(name, str) else None,
            resources=resources,
            interactions=_codes(rest.get("interaction")),
            search_params=_param_names(rest.get("searchParam")),
        )


#: Server software (CapabilityStatement ``software.name``, compared exactly, case aside) known to
#: support ``_has`` without declaring it: Medplum's server (measured, docs/district/pull.md)
#: and HAPI FHIR.
_KNOWN_HAS_SOFTWARE = frozenset({"medplum", "hapi fhir server"})

_CONSEQUENCE = {
    "read": "conflicting edits cannot be rebased on the server's version",
    "update": "changes to those records cannot be pushed",
    "search-type": "changes made elsewhere cannot be pulled",
}


def _names(types: list[str]) -> str:
    return ", ".join(types)


def _codes(items: Any) -> frozenset[str]:
    return frozenset(
        i["code"] for i in items or [] if isinstance(i, dict) and isinstance(i.get("code"), str)
    )


def _param_names(items: Any) -> frozenset[str]:
    return frozenset(
        p["name"] for p in items or [] if isinstance(p, dict) and isinstance(p.get("name"), str)
    )


def _resource(raw: dict[str, Any]) -> ResourceCapability:
    versioning = raw.get("versioning")
    return ResourceCapability(
        type=raw["type"],
        interactions=_codes(raw.get("interaction")),
        versioning=versioning if isinstance(versioning, str) else None,
        update_create=raw.get("updateCreate") is True,
        conditional_update=raw.get("conditionalUpdate") is True,
        search_params=_param_names(raw.get("searchParam")),
        search_param_types={
            p["name"]: p["type"]
            for p in raw.get("searchParam") or []
            if isinstance(p, dict)
            and isinstance(p.get("name"), str)
            and isinstance(p.get("type"), str)
        },
    )
