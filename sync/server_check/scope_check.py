"""The device's sync scope against the server: at enrolment (``enroll``, Settings) and in
check-server.

Enrolment refuses, before anything is saved, a scope naming an Organization, Group or Location
the server does not have, and a scope the server supports no scoped query for, unless IT chose
to pull everything. check-server says which scoped strategies the server supports, what the
device's own scope would use, and whether the chained search really filters: a server that
ignored the parameter instead of refusing it would hand a scoped device every patient.

The strategy is kept in the sync journal by ``sync.scope_cache`` (decided at enrolment, again
daily or when the scope changes); ``status --json`` shows it with ``recorded_strategy``.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from app.domain.wording import Text, t
from app.i18n import _
from sync.fhir.capability import CapabilityInfo
from sync.fhir.client import FhirClient
from sync.fhir.errors import FhirError
from sync.scope import (
    EVERYTHING,
    ScopeStrategy,
    ScopeUnsupportedError,
    SyncScope,
    choose_strategy,
    everything_strategy,
)
from sync.scope_cache import STRATEGY_KEY
from sync.server_check.report import FATAL, ServerReport, joined, short

if TYPE_CHECKING:
    from app.services.settings import DeviceSettings
    from app.services.sync_gateway import SyncGateway

__all__ = [
    "ScopeCheckError",
    "check_scope",
    "describe_scope",
    "missing_reference",
    "recorded_strategy",
    "require_scope",
    "verify_scope",
]

#: One sample scope of each kind, to ask choose_strategy what the server supports.
_SAMPLES = (
    ("Organization", SyncScope(organization="Organization/example")),
    ("Group", SyncScope(group="Group/example")),
)
NO_SCOPE = t("no scope (enrolled before scopes): pulls every patient on the server")


class ScopeCheckError(Exception):
    """The scope cannot be used with this server; the message says why and what to do.
    ``field`` names the setting at fault (for the Settings screen)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def references_of(settings: DeviceSettings) -> list[tuple[str, str]]:
    """(setting, reference) of everything the scope names, in the order IT reads them."""
    named = [("scope_organization", settings.scope_organization)]
    named += [("scope_locations", loc) for loc in settings.scope_locations]
    named.append(("scope_group", settings.scope_group))
    return [(field, ref) for field, ref in named if ref]


def missing_reference(client: FhirClient, settings: DeviceSettings) -> ScopeCheckError | None:
    """The first reference of the scope the server does not have, as the error to show."""
    for field, reference in references_of(settings):
        resource_type, _slash, resource_id = reference.partition("/")
        if client.read(resource_type, resource_id) is None:
            return ScopeCheckError(
                _("the server has no {resource_type} {resource_id} — check the id with IT").format(
                    resource_type=resource_type, resource_id=resource_id
                ),
                field,
            )
    return None


#: How IT chooses to pull everything, named in the errors: the CLI's flag by default.
CLI_PULL_EVERYTHING = "--pull-everything"


def require_scope(settings: DeviceSettings) -> None:
    """ScopeCheckError unless the settings name a scope or IT chose to pull everything (a new
    enrolment must say which; only enrolments from before scopes have neither)."""
    if not settings.scope_named and not settings.pull_everything:
        raise ScopeCheckError(
            _(
                "name the facility this device serves: --organization "
                "Organization/<id> (with --location Location/<id> for its "
                "encounters) or --group Group/<id>; or, only if every "
                "patient on the server may be on this device, "
                "{CLI_PULL_EVERYTHING}"
            ).format(CLI_PULL_EVERYTHING=CLI_PULL_EVERYTHING),
            "scope_organization",
        )


def verify_scope(
    client: FhirClient,
    info: CapabilityInfo,
    settings: DeviceSettings,
    *,
    pull_everything: str = CLI_PULL_EVERYTHING,
) -> ScopeStrategy:
    """The strategy the pull will use for the device's scope, after checking that the server
    has what the scope names. ScopeCheckError when it lacks one, when no scope is named and
    IT did not choose to pull everything, or when the server cannot honour the scope and IT
    did not choose to pull everything (`pull_everything` names how IT would). Reads only."""
    require_scope(settings)
    missing = missing_reference(client, settings)
    if missing is not None:
        raise missing
    scope = SyncScope.from_settings(settings)
    try:
        return choose_strategy(info, scope)
    except ScopeUnsupportedError as exc:
        raise ScopeCheckError(
            _(
                "the server cannot pull only this facility's patients: "
                "{exc}. Choose {pull_everything} only if every patient on "
                "the server may be on this device"
            ).format(exc=exc, pull_everything=pull_everything),
            "scope_group" if scope.group else "scope_organization",
        ) from None


def describe_scope(settings: DeviceSettings) -> dict[str, Any]:
    """The device's scope as ``status --json`` shows it (``configured`` False: old enrolment)."""
    scope = SyncScope.from_settings(settings)
    parts = [ref for _, ref in references_of(settings)]
    if settings.pull_everything:
        summary = "every patient on the server (IT's choice)"
        summary += f"; creates records as {', '.join(parts)}" if parts else ""
    elif parts:
        summary = ", ".join(parts)
    else:
        summary = str(NO_SCOPE)
    return {
        "configured": scope.configured,
        "organization": scope.organization,
        "locations": list(scope.locations),
        "group": scope.group,
        "pull_everything": scope.everything,
        "summary": summary,
    }


def recorded_strategy(gateway: SyncGateway, settings: DeviceSettings) -> dict[str, Any] | None:
    """The strategy of the device's scope: everything without a scope or by IT's choice, else
    what the pull last decided (None: not enrolled, or not decided yet: the next sync does)."""
    scope = SyncScope.from_settings(settings)
    if not settings.sync_configured:
        return None
    if not scope.configured or scope.everything:
        strategy = everything_strategy(scope)
        return {"name": strategy.name, "description": strategy.description}
    stored = gateway.journal(STRATEGY_KEY)
    if not isinstance(stored, dict) or "name" not in stored:
        return None
    return {k: stored.get(k) for k in ("name", "description", "decided_at")}


def check_scope(
    client: FhirClient,
    info: CapabilityInfo,
    report: ServerReport,
    settings: DeviceSettings | None,
) -> None:
    """The scope lines of check-server: strategies supported, the device's own scope (when
    known), and whether the chained search filters."""
    found: list[Text] = []
    for kind, sample in _SAMPLES:
        try:
            name = choose_strategy(info, sample).name
        except ScopeUnsupportedError as exc:
            found.append(t("{kind}: unsupported ({problem})", kind=kind, problem=str(exc)))
        else:
            report.scope_strategies[kind] = name
            found.append(t("{kind}: {strategy}", kind=kind, strategy=name))
    if report.scope_strategies:
        report.add(
            "scope_strategies",
            "ok",
            joined(found),
            t("a device scoped to a facility pulls only its patients and their records"),
        )
    else:
        report.add(
            "scope_strategies",
            "warn",
            joined(found),
            t(
                "no scoped pull: enrol only with --pull-everything, and every device receives "
                "every patient on the server"
            ),
        )
    if settings is not None:
        _device_scope(client, info, report, settings)
    if "Organization" in report.scope_strategies:
        _probe_chained_search(client, report)


def _device_scope(
    client: FhirClient, info: CapabilityInfo, report: ServerReport, settings: DeviceSettings
) -> None:
    described = describe_scope(settings)["summary"]
    if not settings.scope_named and not settings.pull_everything:
        report.add("scope", "info", NO_SCOPE, t("keeps pulling everything until IT names a scope"))
        return
    try:
        strategy = verify_scope(client, info, settings)
    except ScopeCheckError as exc:
        report.add(
            "scope",
            "fail",
            t("{described}: {message}", described=described, message=exc.message),
            t("cannot sync this scope"),
        )
        return
    report.scope_strategy = strategy.name
    everything = strategy.name == EVERYTHING
    result = t("{described}: {strategy}", described=described, strategy=strategy.name)
    report.add("scope", "info" if everything else "ok", result, strategy.description)


def _probe_chained_search(client: FhirClient, report: ServerReport) -> None:
    """Does ``Observation?patient.organization=`` filter? Two reads of one entry each: any
    observation, and those of an Organization that cannot exist (there must be none)."""
    nobody = f"Organization/fieldchart-probe-{uuid.uuid4()}"
    try:
        anything = client.search_page("Observation", {"_count": "1"})
        chained = client.search_page("Observation", {"patient.organization": nobody, "_count": "1"})
    except FATAL:
        raise
    except FhirError as exc:
        report.add(
            "chained_search",
            "warn",
            t("Observation?patient.organization= refused: {exc}", exc=short(exc)),
            t("the pull falls back to lists of patients (more requests)"),
        )
        return
    if chained.get("entry"):
        report.add(
            "chained_search",
            "fail",
            t(
                "Observation?patient.organization= for an Organization that does not exist "
                "answered observations: the server ignores the chained parameter"
            ),
            t(
                "a scoped pull would receive other facilities' records; do not scope by "
                "Organization on this server"
            ),
        )
    elif not anything.get("entry"):
        report.add(
            "chained_search",
            "info",
            t("answered, but not seen to filter: the server holds no observations"),
            t("run check-server again once the server holds records"),
        )
    else:
        report.add(
            "chained_search",
            "ok",
            t(
                "Observation?patient.organization= filters (none for an Organization that "
                "does not exist, while the server holds observations)"
            ),
            t("one query per type pulls the facility's records"),
        )
