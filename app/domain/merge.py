"""Merging two records of one person into one chart, and undoing it (docs/front-desk/merge.md).

A merge LINKS, it does not copy: the replaced record's items stay in its own stream, and the
survivor's chart reads both while the merge holds. Undo removes the link, so each record has
exactly its own items again. The merge is recorded on the survivor's stream (PatientMerged,
MergeUndone); who replaced a record is read from the read models (`ctx.replaced_by`).

Deciding a command on a survivor sees the linked records' items too (`with_linked`): the
prescribing check must know the replaced record's penicillin allergy.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from app.domain import values as v
from app.domain.chart import Item, PatientChart
from app.domain.commands import MergePatients, UndoMerge
from app.domain.context import DecisionContext
from app.domain.decision import Decision, require_registered
from app.domain.errors import NotFoundError, RoleError, ValidationError
from app.domain.events import MergeUndone, PatientMerged
from app.domain.reference import fold
from app.domain.roles import Role
from app.domain.wording import N_, Text, t

# Kinds front-desk staff record themselves: a record holding only these is "demographics
# only", which staff may merge. Anything else is clinical and needs a clinician.
FRONT_DESK_KINDS = frozenset({"appointment", "call"})


def clinical_items(chart: PatientChart) -> list[Item]:
    return [
        i for i in chart.items.values() if i.kind not in FRONT_DESK_KINDS and not i.entered_in_error
    ]


def merge(chart: PatientChart | None, cmd: MergePatients, ctx: DecisionContext) -> Decision:
    survivor = require_registered(chart)
    replaced_id = v.text(cmd.replaced_patient_id, "replaced_patient_id", N_("Record to merge"))
    if replaced_id == survivor.patient_id:
        raise ValidationError(t("A record cannot be merged with itself"), "replaced_patient_id")
    reason = v.required_text(cmd.reason, "reason", N_("Reason"), max_len=300)
    if ctx.replaced_by(survivor.patient_id) is not None:
        raise ValidationError(
            t("This record was merged into another chart: merge from that chart"), "patient_id"
        )
    other = ctx.chart_of(replaced_id or "")
    if other is None or not other.registered:
        raise NotFoundError(t("No patient with this id on this device"), "replaced_patient_id")
    if ctx.replaced_by(other.patient_id) is not None:
        raise ValidationError(
            t("That record is already merged into a chart (undo that merge first)"),
            "replaced_patient_id",
        )
    if other.merged:
        raise ValidationError(
            t("Other records are merged into that record: undo those merges first"),
            "replaced_patient_id",
        )
    if ctx.actor.role is not Role.CLINICIAN and (clinical_items(survivor) or clinical_items(other)):
        raise RoleError(
            t(
                "Staff may merge records that hold demographics only; these hold clinical items,"
                " so a clinician is needed"
            )
        )
    merge_id = v.item_id(cmd.merge_id, "merge_id") if cmd.merge_id else ctx.new_id()
    event = PatientMerged(merge_id=merge_id, replaced_patient_id=other.patient_id, reason=reason)
    linked = with_linked(survivor, [other])
    facts = allergy_facts(linked.of_kind("allergy"), other.items)
    return Decision([event], v.iso(ctx.now), warnings=allergy_warnings(facts))


def undo(chart: PatientChart | None, cmd: UndoMerge, ctx: DecisionContext) -> Decision:
    survivor = require_registered(chart)
    merge_id = v.required_text(cmd.merge_id, "merge_id", N_("Merge"))
    replaced = next((r for r, m in survivor.merged.items() if m == merge_id), None)
    if replaced is None:
        raise NotFoundError(t("No merge with this id is in effect on this chart"), "merge_id")
    reason = v.required_text(cmd.reason, "reason", N_("Reason"), max_len=300)
    event = MergeUndone(merge_id=merge_id, replaced_patient_id=replaced, reason=reason)
    return Decision([event], v.iso(ctx.now))


def with_linked(chart: PatientChart, linked: Iterable[PatientChart]) -> PatientChart:
    """A copy of `chart` that also holds the items of the records merged into it (the
    survivor's own items win on an id clash, which new ids make impossible in practice)."""
    items = {}
    for other in linked:
        items.update(other.items)
    items.update(chart.items)
    return replace(chart, items=items)


@dataclass(frozen=True)
class AllergyFact:
    """One allergy as the conflict check compares them."""

    substance: str
    criticality: str | None
    status: str
    from_merged: bool


def allergy_facts(items: Iterable[Item], merged_ids: Iterable[str] = ()) -> list[AllergyFact]:
    from_merged = set(merged_ids)
    return [
        AllergyFact(
            str(i.data.get("substance") or ""),
            i.data.get("criticality"),
            i.status,
            i.id in from_merged,
        )
        for i in items
        if i.kind == "allergy" and not i.entered_in_error
    ]


def allergy_warnings(facts: Iterable[AllergyFact]) -> list[Text]:
    """A warning per substance the records disagree on (criticality or status): both are
    kept, and the chart says so. Substances compare ignoring case and accents; the
    survivor's own spelling names it."""
    by_substance: dict[str, list[AllergyFact]] = {}
    for f in sorted(facts, key=lambda f: f.from_merged):
        by_substance.setdefault(fold(f.substance), []).append(f)
    warnings: list[Text] = []
    for same in by_substance.values():
        differs = [
            label
            for label, values in (
                ("criticality", {f.criticality for f in same}),
                ("status", {f.status for f in same}),
            )
            if len(values) > 1
        ]
        if len(same) > 1 and differs:
            warnings.append(
                t(
                    "Allergy to {substance}: the merged records differ in {fields}; both are "
                    "kept — check with the patient",
                    substance=same[0].substance,
                    fields=" and ".join(differs),
                )
            )
    return warnings


def linked_item_changed(item_ids: Iterable[str], linked: Mapping[str, Any]) -> str | None:
    """The first of `item_ids` that belongs to a linked record (a command on the survivor
    may not change it: it lives in the other record's stream), or None."""
    return next((i for i in item_ids if i in linked), None)


def server_merge_events(
    chart: PatientChart, merges: Mapping[str, str] | None, unsent: Collection[str] = ()
) -> list[PatientMerged | MergeUndone]:
    """The merges a pulled Patient version of this survivor makes or undoes here, so that the
    chart's merges become the server's: except the merges and undos recorded here and not yet
    sent (`unsent`: their merge ids), which the server does not know yet and which win."""
    now = dict(merges or {})
    events: list[PatientMerged | MergeUndone] = []
    for replaced, merge_id in sorted(chart.merged.items()):
        if now.get(replaced) != merge_id and merge_id not in unsent:
            events.append(
                MergeUndone(
                    merge_id=merge_id,
                    replaced_patient_id=replaced,
                    # i18n: ignore (stored as the merge's reason)
                    reason="Undone on another device",
                    source="server",
                )
            )
    for replaced, merge_id in sorted(now.items()):
        if chart.merged.get(replaced) != merge_id and merge_id not in unsent:
            events.append(
                PatientMerged(
                    merge_id=merge_id,
                    replaced_patient_id=replaced,
                    # i18n: ignore (stored as the merge's reason)
                    reason="Merged on another device",
                    source="server",
                )
            )
    return events
