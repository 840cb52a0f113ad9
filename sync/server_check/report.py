"""The report of check-server: one ``Check`` per line, the ``ServerReport`` they make, and what
every check shares (which errors end a check, how an error reads in a line).

A module of its own because every part of the check writes to it, and the CLI renders it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sync.fhir.errors import AuthError, FhirError, OfflineError, RateLimitedError

__all__ = ["FATAL", "Check", "ServerReport", "Status", "entry_id", "short"]

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
    """What check-server found about one server; ``to_json`` is what ``--json`` prints."""

    server: str
    write_probe: bool
    checks: list[Check] = field(default_factory=list)
    fhir_version: str | None = None
    software: str | None = None
    atomic_transactions: bool | None = None
    #: resource type -> "put" (update-as-create, our ids) or "post" (server-assigned ids)
    create_strategy: dict[str, str] = field(default_factory=dict)
    #: scope kind ("Organization", "Group") -> the strategy the pull would use on this server
    scope_strategies: dict[str, str] = field(default_factory=dict)
    #: the strategy of the device's own scope, when the check knows it and the server can
    scope_strategy: str | None = None

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
            "scope_strategies": dict(self.scope_strategies),
            "scope_strategy": self.scope_strategy,
            "checks": [c.to_json() for c in self.checks],
            "blocking": self.blocking,
        }


#: Fatal for a check: the server cannot be reached or refuses the device; say so, stop.
FATAL = (OfflineError, AuthError, RateLimitedError)


def entry_id(entry: Any) -> str | None:
    """The id of a search entry's resource, or None."""
    resource = entry.get("resource") if isinstance(entry, dict) else None
    found = resource.get("id") if isinstance(resource, dict) else None
    return found if isinstance(found, str) else None


def short(exc: FhirError) -> str:
    """How a FhirError reads in a report line: its status, then what it says."""
    status = f"HTTP {exc.status}: " if exc.status is not None else ""
    return f"{status}{exc}"
