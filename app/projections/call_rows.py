"""Rows the follow-up call worklist reads from the chart items read model
(app/services/call_worklist.py): the "call" items, and when patients came (appointments and
encounters). No table of its own: calls are chart items like any other."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select

from app.projections.chart_items import items


def calls(conn: Connection, patient_ids: Iterable[str] | None = None) -> list[tuple[str, str, Any]]:
    """(call id, patient id, data) of the calls and removals not entered in error, of some
    patients or of all."""
    query = select(items.c.item_id, items.c.patient_id, items.c.data).where(
        items.c.kind == "call", items.c.entered_in_error.is_(False)
    )
    if patient_ids is not None:
        query = query.where(items.c.patient_id.in_(list(patient_ids)))
    return [(r.item_id, r.patient_id, json.loads(r.data)) for r in conn.execute(query)]


def visits(conn: Connection, patient_ids: Iterable[str]) -> list[tuple[str, str]]:
    """(patient id, clinical time) of each attended appointment and each encounter (not in
    error) of these patients: the times they came to the clinic."""
    query = select(items.c.patient_id, items.c.kind, items.c.status, items.c.clinical_time).where(
        items.c.patient_id.in_(sorted(patient_ids)),
        items.c.kind.in_(("appointment", "encounter")),
        items.c.entered_in_error.is_(False),
    )
    return [
        (r.patient_id, r.clinical_time)
        for r in conn.execute(query)
        if r.kind == "encounter" or r.status == "fulfilled"
    ]
