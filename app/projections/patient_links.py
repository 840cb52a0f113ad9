"""Merges in effect: which record was merged into which chart (app/domain/merge.py).

One row per replaced record while its merge holds; undo deletes it. The survivor's chart reads
its own items and those of every record linked to it here; search and the patient list leave
replaced records out (they stay findable by id and say who replaced them).
"""

from __future__ import annotations

from functools import singledispatch

from sqlalchemy import Column, Connection, Index, String, Table, select

from app.domain import events as ev
from app.projections.base import Writes, metadata, patient_of
from app.store.event_log import RecordedEvent

links = Table(
    "pl_links",
    metadata,
    Column("replaced_id", String, primary_key=True),
    Column("survivor_id", String, nullable=False),
    Column("merge_id", String, nullable=False),
    Column("merged_at", String, nullable=False),
    Index("ix_pl_links_survivor", "survivor_id"),
)


@singledispatch
def apply(event: ev.DomainEvent, w: Writes, record: RecordedEvent) -> None:
    """Events that do not change a link."""


@apply.register
def _(event: ev.PatientMerged, w: Writes, record: RecordedEvent) -> None:
    w.upsert(
        links,
        {"replaced_id": event.replaced_patient_id},
        {
            "survivor_id": patient_of(record) or "",
            "merge_id": event.merge_id,
            "merged_at": record.metadata.recorded_at,
        },
    )


@apply.register
def _(event: ev.MergeUndone, w: Writes, record: RecordedEvent) -> None:
    w.delete(links, {"replaced_id": event.replaced_patient_id, "merge_id": event.merge_id})


def replaced_by(conn: Connection, patient_id: str) -> str | None:
    """The survivor whose chart this record was merged into, or None."""
    found = conn.execute(
        select(links.c.survivor_id).where(links.c.replaced_id == patient_id)
    ).scalar()
    return None if found is None else str(found)


def merged_into(conn: Connection, survivor_id: str) -> list[tuple[str, str, str]]:
    """(replaced id, merge id, merged at) of each record linked into this chart, oldest first."""
    rows = conn.execute(
        select(links.c.replaced_id, links.c.merge_id, links.c.merged_at)
        .where(links.c.survivor_id == survivor_id)
        .order_by(links.c.merged_at, links.c.replaced_id)
    )
    return [(str(r), str(m), str(t)) for r, m, t in rows]


def replacements(conn: Connection) -> dict[str, str]:
    """Every replaced record -> the survivor whose chart it is part of now."""
    rows = conn.execute(select(links.c.replaced_id, links.c.survivor_id)).all()
    return {str(replaced): str(survivor) for replaced, survivor in rows}


def all_replaced(conn: Connection) -> set[str]:
    return {str(r) for r in conn.execute(select(links.c.replaced_id)).scalars()}
