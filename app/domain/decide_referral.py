"""Referrals: refer a patient to another facility, and revoke a referral.

A referral starts "active" (FHIR request-status); the receiving facility's system moves it on
(completed, on-hold, revoked) on the server, and pull brings that here. This device only
revokes (CancelReferral) or marks it entered in error (MarkEnteredInError, for every item).
"""

from __future__ import annotations

from app.domain import commands as c
from app.domain import values as v
from app.domain.chart import PatientChart
from app.domain.context import DecisionContext
from app.domain.decide_clinical import encounter_of, new_item_id
from app.domain.decision import Decision, require_item, require_registered
from app.domain.errors import AlreadyDoneError, PreconditionError, ValidationError
from app.domain.events import PatientReferred, ReferralCancelled
from app.domain.referral_summary import chosen_items, summary_entry
from app.domain.wording import N_, t

# Statuses a referral can no longer be revoked from (it is over).
FINISHED = frozenset({"completed", "revoked"})


def refer(chart: PatientChart | None, cmd: c.ReferPatient, ctx: DecisionContext) -> Decision:
    chart = require_registered(chart)
    facility = v.required_text(cmd.to_facility, "to_facility", N_("Receiving facility"))
    organization = None
    if cmd.facility_organization_id:
        organization = v.item_id(cmd.facility_organization_id, "facility_organization_id")
    reason = v.required_text(cmd.reason, "reason", N_("Reason for referral"), max_len=500)
    urgency = v.choice(cmd.urgency, "urgency", N_("Urgency"), c.URGENCIES)
    entries = [summary_entry(item) for item in chosen_items(chart, cmd.summary_item_ids)]
    note = v.text(cmd.note, "note", N_("Note"), required=False, max_len=2000)
    referred_at = v.iso(ctx.now)
    return Decision(
        [
            PatientReferred(
                referral_id=new_item_id(chart, cmd.referral_id, "referral_id", ctx),
                to_facility=facility,
                reason=reason,
                urgency=urgency or "routine",
                referred_at=referred_at,
                summary=entries,
                facility_organization_id=organization,
                note=note,
                encounter_id=encounter_of(chart, cmd.encounter_id),
            )
        ],
        referred_at,
    )


def cancel(chart: PatientChart | None, cmd: c.CancelReferral, ctx: DecisionContext) -> Decision:
    chart = require_registered(chart)
    item = require_item(chart, cmd.referral_id, "referral", "referral_id", N_("referral"))
    if cmd.expected_status is not None and cmd.expected_status != item.status:
        raise PreconditionError(
            t(
                "The referral's status was changed by someone else (e.g. the receiving facility) "
                "since you opened the chart"
            ),
            "status",
            expected=cmd.expected_status,
            actual=item.status,
        )
    if item.status == "revoked":
        raise AlreadyDoneError(t("This referral is already cancelled"), "referral_id")
    if item.status in FINISHED:
        raise ValidationError(
            t(
                "This referral is {status}, so it can no longer be cancelled; mark it entered in "
                "error if it was recorded by mistake",
                status=item.status,
            ),
            "referral_id",
        )
    reason = v.required_text(cmd.reason, "reason", N_("Reason"), max_len=500)
    now = v.iso(ctx.now)
    return Decision(
        [
            ReferralCancelled(
                referral_id=item.id, reason=reason, cancelled_at=now, previous=item.status
            )
        ],
        now,
    )
