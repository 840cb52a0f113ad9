"""The report of check-server: one ``Check`` per line, the ``ServerReport`` they make, and what
every check shares (which errors end a check, how an error reads in a line).

A module of its own because every part of the check writes to it, and the CLI renders it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from app.domain.wording import Text, as_text
from app.i18n import _, say
from sync.fhir.errors import AuthError, FhirError, OfflineError, RateLimitedError

__all__ = ["FATAL", "Check", "ServerReport", "Status", "entry_id", "joined", "short"]

Status = Literal["ok", "warn", "fail", "info"]


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, what the server did, what FieldChart does.

    The words are kept as `Text` (t("...", value=...)): `name`, `result` and `action` read
    them in the current language (the table a person reads), `to_json` in English (--json
    stays the same in every language)."""

    name_text: Text
    status: Status
    result_text: Text
    action_text: Text

    @property
    def name(self) -> str:
        return say(self.name_text)

    @property
    def result(self) -> str:
        return say(self.result_text)

    @property
    def action(self) -> str:
        return say(self.action_text)

    def to_json(self) -> dict[str, str]:
        return {
            "check": str(self.name_text),
            "status": self.status,
            "result": str(self.result_text),
            "action": str(self.action_text),
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

    def add(self, name: str | Text, status: Status, result: str | Text, action: str | Text) -> None:
        """A line; give its words as t("...") (app.domain.wording) so --json keeps English."""
        self.checks.append(Check(as_text(name), status, as_text(result), as_text(action)))

    @property
    def can_sync(self) -> bool:
        return not self.blocking

    @property
    def blocking(self) -> list[str]:
        """One line per reason FieldChart cannot sync with this server (current language)."""
        return [
            _("{check}: {result}").format(check=c.name, result=c.result)
            for c in self.checks
            if c.status == "fail"
        ]

    def blocking_in_english(self) -> list[str]:
        return [f"{c.name_text}: {c.result_text}" for c in self.checks if c.status == "fail"]

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
            "blocking": self.blocking_in_english(),
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


def joined(parts: list[Text], separator: str = "; ") -> Text:
    """Texts one after the other (each translated on its own), as one Text."""
    template = separator.join("{part%d}" % i for i in range(len(parts)))  # noqa: UP031
    return Text(template, {f"part{i}": part for i, part in enumerate(parts)})
