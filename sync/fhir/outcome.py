"""What a server's OperationOutcome says, read once for the error tree (``sync.fhir.errors``):
its issues, and whether (and with what limit) it refused a transaction for its size.

Apart from the error module because reading a FHIR resource is not mapping an HTTP failure;
the issues' texts are for the screen, never for messages or logs (they can echo patient data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Issue", "parse_operation_outcome", "says_too_many_entries", "stated_limit"]


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue: what the server said, for a person to read."""

    severity: str
    code: str
    diagnostics: str | None = None
    #: ``details.coding[].code``: machine codes some servers add (Medplum: a SQLSTATE)
    details_codes: tuple[str, ...] = ()


def parse_operation_outcome(body: Any) -> tuple[Issue, ...]:
    """Issues of an OperationOutcome (JSON value); () for anything else."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return ()
    issues = []
    for raw in body.get("issue") or []:
        if not isinstance(raw, dict):
            continue
        text = raw.get("diagnostics")
        if not isinstance(text, str):
            details = raw.get("details")
            text = details.get("text") if isinstance(details, dict) else None
        details = raw.get("details")
        codings = details.get("coding") if isinstance(details, dict) else None
        codes = tuple(
            str(c["code"])
            for c in (codings if isinstance(codings, list) else [])
            if isinstance(c, dict) and isinstance(c.get("code"), str | int)
        )
        issues.append(
            Issue(
                severity=str(raw.get("severity", "error")),
                code=str(raw.get("code", "unknown")),
                diagnostics=text if isinstance(text, str) else None,
                details_codes=codes,
            )
        )
    return tuple(issues)


# What servers say when a transaction has too many entries: Medplum "Transaction contains more
# update operations than allowed" / "... requires strict isolation but has too many entries",
# Azure "... exceeds the maximum ...", Google "too many entries; max is N".
_TOO_MANY_ENTRIES = re.compile(
    r"too many (entries|resources|operations|requests)"
    r"|more (update )?(operations|entries) than allowed"
    r"|exceeds? the max(imum)?|max(imum)? (number of )?entries|bundle (is )?too large",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"(?:max(?:imum)?|limit|at most)\D{0,20}(\d{1,6})", re.IGNORECASE)


def says_too_many_entries(issues: tuple[Issue, ...]) -> bool:
    """Whether the server's words say a transaction had too many entries."""
    return any(_TOO_MANY_ENTRIES.search(issue.diagnostics or "") for issue in issues)


def stated_limit(issues: tuple[Issue, ...]) -> int | None:
    """The maximum number of entries the server's words name, if any."""
    for issue in issues:
        found = _NUMBER.search(issue.diagnostics or "")
        if found:
            return int(found.group(1))
    return None
