"""What a chart reads when records are merged into it (docs/front-desk/merge.md).

A merge links records: the survivor's chart shows its own items and those of every record
merged into it (read from the read models by a set of patient ids); the replaced record is
left out of search and, opened by id, says who replaced it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from app.domain.chart import Item
from app.domain.merge import allergy_facts, allergy_warnings
from app.i18n import say
from app.projections import chart_items, patient_index, patient_links, timeline, vitals_series
from app.services.dto import MergeView
from app.store.database import Transaction


def chart_ids(conn: Transaction, patient_id: str) -> tuple[list[str], list[MergeView]]:
    """The patient ids whose items make up this chart (the patient's first) and its merges."""
    merges = []
    for replaced_id, merge_id, merged_at in patient_links.merged_into(conn, patient_id):
        row = patient_index.get(conn, replaced_id)
        name = f"{row.family}, {row.given}" if row is not None else replaced_id
        birth = row.birth_date if row is not None else ""
        merges.append(MergeView(merge_id, replaced_id, name, birth, merged_at))
    return [patient_id, *(m.replaced_patient_id for m in merges)], merges


def _instant(text: Any) -> tuple[int, datetime | str]:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return (1, str(text or ""))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (0, moment.astimezone(UTC))


def items_for(conn: Transaction, ids: Sequence[str]) -> tuple[list[tuple[Any, ...]], list[str]]:
    """chart_items.for_chart of every record, oldest first (clinical time; each record's own
    order where it ties), and the ids of the items from the merged records."""
    own = chart_items.for_chart(conn, ids[0])
    if len(ids) == 1:
        return own, []
    merged = [row for pid in ids[1:] for row in chart_items.for_chart(conn, pid)]
    rows = sorted([*own, *merged], key=lambda row: _instant(row[4]))
    return rows, [str(row[0]) for row in merged]


def timeline_for(conn: Transaction, ids: Sequence[str]) -> list[tuple[Any, ...]]:
    return [row for pid in ids for row in timeline.for_chart(conn, pid)]


def series_for(conn: Transaction, ids: Sequence[str]) -> dict[str, list[tuple[str, float]]]:
    if len(ids) == 1:
        return vitals_series.for_patient(conn, ids[0])
    series: dict[str, list[tuple[str, float]]] = {}
    for pid in ids:
        for key, points in vitals_series.for_patient(conn, pid).items():
            series.setdefault(key, []).extend(points)
    return {k: sorted(v, key=lambda p: _instant(p[0])) for k, v in series.items()}


def warnings_for(allergies: Sequence[Item], from_merged: Sequence[str]) -> list[str]:
    """Where the merged records disagree about an allergy (criticality or status)."""
    return [say(w) for w in allergy_warnings(allergy_facts(allergies, from_merged))]
