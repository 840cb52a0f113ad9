"""The checks of what the server declares in its CapabilityStatement: the resource types and
interactions sync needs, how FieldChart will create on it (PUT with its own ids or POST), If-Match,
transactions, and whether those are atomic (the probe that writes nothing).

Apart from the checks that send searches (``read_checks``): these judge a declaration, and the
create strategy they find is what the write probe then tests.
"""

from __future__ import annotations

from app.domain.wording import Text, t
from sync.fhir.capability import SYNCED_RESOURCE_TYPES, CapabilityInfo
from sync.fhir.client import FhirClient
from sync.fhir.mapping.adapter import PULL_TYPES
from sync.server_check.atomicity import transaction_atomicity
from sync.server_check.report import ServerReport, joined

__all__ = [
    "check_create_strategy",
    "check_interactions",
    "check_resource_types",
    "check_transactions",
    "check_versioned_update",
]


#: Types FieldChart writes that a server may lack without stopping the rest of sync, and what
#: is lost there (the pull skips a type the server cannot search: sync/scope.py).
OPTIONAL_TYPES = {
    "AuditEvent": t("chart views are kept on the device only (the audit trail is not sent)"),
    "Immunization": t(
        "immunizations recorded here cannot be sent (they stay on this device) "
        "and campaigns' records are not pulled"
    ),
    "ServiceRequest": t(
        "referrals cannot be sent (they stay on this device) and the receiving "
        "facility's answers are not pulled"
    ),
    "Communication": t(
        "follow-up calls recorded here cannot be sent (they stay on this device) "
        "and other devices' calls are not pulled"
    ),
}


def check_resource_types(info: CapabilityInfo, report: ServerReport) -> None:
    """Every synced resource type declared; a pulled one missing fails, one FieldChart can do
    without (OPTIONAL_TYPES) warns with what is lost."""
    missing = [t for t in SYNCED_RESOURCE_TYPES if t not in info.resources]
    blocking = [t for t in missing if t in PULL_TYPES and t not in OPTIONAL_TYPES]
    missing += [t for t in OPTIONAL_TYPES if t not in info.resources and t not in missing]
    if blocking:
        report.add(
            "resource_types",
            "fail",
            t("not declared: {value}", value=", ".join(blocking)),
            t("records of those kinds could never sync"),
        )
    elif missing:
        report.add(
            "resource_types",
            "warn",
            t("not declared: {value}", value=", ".join(missing)),
            joined([OPTIONAL_TYPES[name] for name in missing]),
        )
    else:
        report.add(
            "resource_types",
            "ok",
            t("all {number} declared", number=len(SYNCED_RESOURCE_TYPES)),
            t("none needed"),
        )


def check_interactions(info: CapabilityInfo, report: ServerReport) -> None:
    """read, update and search-type declared for every synced type."""
    lacking: list[str] = []
    for resource_type in SYNCED_RESOURCE_TYPES:
        if resource_type not in info.resources:
            continue
        needed = ["update"] if resource_type == "AuditEvent" else ["read", "update", "search-type"]
        lacking += [
            f"{resource_type} {interaction}"
            for interaction in needed
            if not info.supports(resource_type, interaction)
        ]
    if lacking:
        report.add(
            "interactions",
            "fail",
            t("not declared: {value}", value=", ".join(lacking)),
            t("changes of those kinds cannot be pushed, pulled or rebased"),
        )
    else:
        report.add(
            "interactions",
            "ok",
            t("read, update and search-type declared for every synced type"),
            t("none needed"),
        )


def check_create_strategy(info: CapabilityInfo, report: ServerReport) -> None:
    """How FieldChart will create each type: PUT with its own ids, or POST."""
    put, post, neither = [], [], []
    for resource_type in SYNCED_RESOURCE_TYPES:
        res = info.resources.get(resource_type)
        if res is None:
            continue
        if res.update_create:
            put.append(resource_type)
            report.create_strategy[resource_type] = "put"
        elif "create" in res.interactions:
            post.append(resource_type)
            report.create_strategy[resource_type] = "post"
        else:
            neither.append(resource_type)
    if neither:
        report.add(
            "create",
            "fail",
            t("neither create nor update-as-create declared for {value}", value=", ".join(neither)),
            t("new records of those kinds could never reach the server"),
        )
    actions: list[Text] = []
    if put:
        actions.append(t("PUT and its own ids ({types})", types=_which(put)))
    if post:
        actions.append(
            t(
                "POST and server ids ({types}), If-None-Exist on its identifier so a "
                "retry cannot duplicate",
                types=_which(post),
            )
        )
    if actions:
        result = (
            t("update-as-create allowed")
            if not post
            else t("update-as-create not allowed")
            if not put
            else t("update-as-create allowed for {types} only", types=", ".join(put))
        )
        report.add(
            "create_strategy",
            "ok",
            result,
            t("FieldChart will create with {ways}", ways=joined(actions)),
        )


def _which(types: list[str]) -> str:
    return "every type" if len(types) == len(SYNCED_RESOURCE_TYPES) else ", ".join(types)


def check_versioned_update(info: CapabilityInfo, report: ServerReport) -> None:
    """Versioned updates (If-Match) declared for every synced type."""
    unversioned = [
        t
        for t in SYNCED_RESOURCE_TYPES
        if t in info.resources and not info.resources[t].versioned_update
    ]
    if unversioned:
        report.add(
            "if_match",
            "warn",
            t(
                "versioned updates (If-Match) not declared for {value}",
                value=", ".join(unversioned),
            ),
            t(
                "FieldChart still sends If-Match; if the server ignores it, two devices editing "
                "one record can overwrite each other (run --write-probe to find out)"
            ),
        )
    else:
        report.add(
            "if_match",
            "ok",
            t("versioned updates declared (If-Match)"),
            t(
                "every update is conditional on the version FieldChart last saw; a conflict is "
                "rebased"
            ),
        )


def check_transactions(client: FhirClient, info: CapabilityInfo, report: ServerReport) -> None:
    """Transaction Bundles declared, and whether they are atomic (probe writes nothing)."""
    if not info.transaction:
        report.add(
            "transactions",
            "fail",
            t("transaction Bundles not declared"),
            t("FieldChart pushes each change as one transaction and cannot sync without them"),
        )
    else:
        report.add("transactions", "ok", t("transaction Bundles declared"), t("none needed"))
    atomic = transaction_atomicity(client)
    report.atomic_transactions = atomic
    if atomic is True:
        report.add(
            "atomic_transactions",
            "ok",
            t("atomic: a failing entry failed the whole Bundle (probe wrote nothing)"),
            t("one change's writes succeed or fail together"),
        )
    else:
        report.add(
            "atomic_transactions",
            "warn",
            t("not atomic: the Bundle succeeded with a per-entry error (probe wrote nothing)")
            if atomic is False
            else t("unknown: the probe's answer was neither"),
            t(
                "FieldChart checks every entry's answer; a partly applied change stays pending and "
                "is finished on the next attempt, never shown as synced"
            ),
        )
