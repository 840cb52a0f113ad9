"""The device's scope strategy, kept in the sync journal so an idle cycle asks nothing for it.

The CapabilityStatement (64 KB on Medplum) is read when the scope changes, when the decision is
a day old, or when the server refused a chained search; otherwise the journal's decision
stands. A read that fails for a passing reason keeps the last decision for the same scope.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from app.i18n import _
from app.services.sync_gateway import SyncGateway
from sync.fhir.client import FhirClient
from sync.fhir.errors import FhirError, UnsupportedServerError
from sync.scope import (
    COMPARTMENT_TYPES,
    ScopeStrategy,
    ScopeUnsupportedError,
    SyncScope,
    choose_strategy,
    everything_strategy,
)

__all__ = ["STRATEGY_KEY", "chaining_refused", "record_strategy", "strategy_for"]

log = logging.getLogger(__name__)

STRATEGY_KEY = "scope_strategy"
CHAINING_REFUSED_KEY = "scope_chaining_refused"
DECIDE_AGAIN_AFTER = timedelta(days=1)


def strategy_for(
    gateway: SyncGateway, client: FhirClient, scope: SyncScope, now: datetime
) -> ScopeStrategy:
    """How the pull honours ``scope`` on this server (UnsupportedServerError if it cannot)."""
    if not scope.configured or scope.everything:
        return everything_strategy(scope)
    stored = gateway.journal(STRATEGY_KEY)
    same = isinstance(stored, dict) and stored.get("scope") == _scope_key(scope)
    if same and not _stale(stored, now) and _strategy(stored).covers(COMPARTMENT_TYPES):
        return _strategy(stored)
    try:
        info = client.capabilities()
    except FhirError as exc:
        if same:
            log.info("could not read the server's capabilities (%s): keeping the strategy", exc)
            return _strategy(stored)
        raise
    chaining = not gateway.journal(CHAINING_REFUSED_KEY)
    try:
        strategy = choose_strategy(info, scope, chaining=chaining)
    except ScopeUnsupportedError as exc:
        raise UnsupportedServerError(
            _("the device's scope cannot be pulled: {exc}").format(exc=exc)
        ) from exc
    record_strategy(gateway, scope, strategy, now)
    return strategy


def record_strategy(
    gateway: SyncGateway, scope: SyncScope, strategy: ScopeStrategy, now: datetime
) -> None:
    """Keep the decision (enrolment may record the one it made: the first cycle then reads no
    CapabilityStatement); ``status --json`` shows it."""
    gateway.set_journal(
        STRATEGY_KEY,
        {
            "scope": _scope_key(scope),
            "name": strategy.name,
            "description": strategy.description,
            "patient_params": [list(p) for p in strategy.patient_params],
            "skipped": list(strategy.skipped),
            "decided_at": now.isoformat(timespec="seconds"),
        },
    )


def chaining_refused(gateway: SyncGateway, message: str) -> None:
    """The server refused a chained search: decide again, without chaining, for good."""
    log.warning("the server refused a chained search; pulling by patient lists (%s)", message)
    gateway.set_journal(CHAINING_REFUSED_KEY, True)
    gateway.set_journal(STRATEGY_KEY, None)


def _scope_key(scope: SyncScope) -> list[Any]:
    return [scope.organization, scope.group]


def _stale(stored: Any, now: datetime) -> bool:
    try:
        # A decision "from the future" was made by a clock since set back: decide again.
        age = now - datetime.fromisoformat(stored["decided_at"])
        return bool(age >= DECIDE_AGAIN_AFTER or age < timedelta(0))
    except (KeyError, TypeError, ValueError):
        return True


def _strategy(stored: Any) -> ScopeStrategy:
    params = tuple((str(t), str(p)) for t, p in stored.get("patient_params") or [])
    skipped = tuple(str(t) for t in stored.get("skipped") or [])
    return ScopeStrategy(str(stored["name"]), str(stored.get("description", "")), params, skipped)
