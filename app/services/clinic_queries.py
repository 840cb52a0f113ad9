"""ClinicQueries: everything the screens and the CLI read, as plain DTOs.

Opening a chart is itself recorded (a ChartViewed event in this device's audit stream), so the
audit shows who viewed which chart and when.
"""

from __future__ import annotations

import json
import logging
from dataclasses import fields
from datetime import date, datetime
from typing import Any

from app.domain.chart import Item
from app.domain.errors import NotFoundError, RoleError
from app.domain.events import ChartViewed, patient_of_stream, stream_of
from app.domain.reference import Catalog
from app.domain.roles import Actor, Role
from app.i18n import _
from app.projections import (
    audit_log,
    patient_index,
    patient_links,
    schedule,
    timeline,
    timeline_order,
)
from app.projections.card_lookup import card_rows
from app.projections.runner import ProjectionRunner, replay_in_memory
from app.services import call_worklist as calls
from app.services import immunization_queries, merge_queries
from app.services.clock import Clock
from app.services.device_audit import record_device_audit
from app.services.dto import (
    AppointmentView,
    AuditEntry,
    ChartView,
    ItemView,
    PatientSummary,
    SyncCommandState,
    SyncOverview,
    TimelineEntry,
)
from app.services.immunization_queries import PatientDoseDue
from app.services.test_results import results_series
from app.store import outbox, recorded_order
from app.store.database import Transaction, read_transaction
from app.store.reference_data import bundled_catalog
from app.store.vault import Vault

log = logging.getLogger(__name__)

if tuple(f.name for f in fields(TimelineEntry)) != timeline.CHART_COLUMNS:  # pragma: no cover
    raise ImportError(
        # i18n: ignore (internal: a programming error)
        "timeline.CHART_COLUMNS must list TimelineEntry's fields in order"
    )


def _summary(row: Any) -> PatientSummary:
    return PatientSummary(
        patient_id=row.patient_id,
        given=row.given,
        family=row.family,
        birth_date=row.birth_date,
        sex=row.sex,
        phone=row.phone,
        address=row.address,
        identifiers=json.loads(row.identifiers),
    )


def _item(d: dict[str, Any]) -> ItemView:
    return ItemView(
        item_id=d["item_id"],
        kind=d["kind"],
        status=d["status"],
        entered_in_error=bool(d["entered_in_error"]),
        clinical_time=d["clinical_time"],
        recorded_at=d["recorded_at"],
        recorded_by=d["recorded_by"],
        data=d["data"],
    )


def _domain_item(view: ItemView) -> Item:
    return Item(view.kind, view.item_id, view.data, view.status, view.entered_in_error)


def age_on(birth: str, day: date) -> int:
    born = date.fromisoformat(birth)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def age_label(birth: str, day: date) -> str:
    """Age as a clinic writes it: days under a month, months under two years ("0 y" said
    nothing about an infant due for vaccines), then years."""
    born = date.fromisoformat(birth)
    months = (day.year - born.year) * 12 + day.month - born.month - (day.day < born.day)
    if months < 1:
        # Translators: an infant's age in days, short ("12 d")
        return _("{days} d").format(days=max((day - born).days, 0))
    if months < 24:
        # Translators: a child's age in months, short ("7 mo")
        return _("{months} mo").format(months=months)
    return _("{years} y").format(years=age_on(birth, day))


def read_chart(
    conn: Transaction, patient_id: str, today: date, catalog: Catalog | None = None
) -> ChartView:
    """The chart of one patient from the read models reachable through `conn`."""
    row = patient_index.get(conn, patient_id)
    if row is None:
        raise NotFoundError(_("No patient with this id on this device"), "patient_id")
    # A merged chart reads its own items and those of the records merged into it.
    ids, merges = merge_queries.chart_ids(conn, patient_id)
    rows, from_merged = merge_queries.items_for(conn, ids)
    items = [
        ItemView(item_id, kind, status, bool(error), clinical, recorded, by, data)
        for item_id, kind, status, error, clinical, recorded, by, data in rows
    ]
    live = [i for i in items if not i.entered_in_error]

    def active(kind: str) -> list[ItemView]:
        from app.domain.chart import ACTIVE_STATUSES

        return [i for i in live if i.kind == kind and i.status in ACTIVE_STATUSES[kind]]

    allergies = active("allergy")
    merged_set = set(from_merged)
    # The newest vitals not entered in error: items come oldest first (clinical time, then
    # log position), the order chart_items.latest_vitals would search backwards.
    latest = next((i for i in reversed(live) if i.kind == "vitals"), None)
    immunizations = [i for i in live if i.kind == "immunization"]
    cat = catalog if catalog is not None else bundled_catalog()
    on_schedule = immunization_queries.standing(
        cat, row.birth_date, row.sex, [(i.item_id, i.data) for i in immunizations], today
    )
    results = [i for i in live if i.kind == "test_result"]
    return ChartView(
        patient=_summary(row),
        age_years=age_on(row.birth_date, today),
        age_label=age_label(row.birth_date, today),
        allergy_banner=[
            (
                _("{allergy} (from the merged record)").format(allergy=banner_entry(a))
                if a.item_id in merged_set
                else banner_entry(a)
            )
            for a in allergies
        ],
        problems=active("diagnosis"),
        allergies=allergies,
        medications=active("medication"),
        last_vitals=latest,
        encounters=[i for i in live if i.kind == "encounter"],
        notes=[i for i in live if i.kind == "note"],
        appointments=[i for i in live if i.kind == "appointment"],
        referrals=[i for i in live if i.kind == "referral"],
        other_records=[i for i in items if i.kind == "other"],
        test_results=results,
        results_series=results_series(results),
        timeline=[
            # Rows of timeline.CHART_COLUMNS (plain tuples: cheap on 1,000-entry charts).
            TimelineEntry(
                position=p,
                occurred_at=o,
                recorded_at=r,
                user=u,
                role=ro,
                kind=k,
                type=ty,
                item_id=i,
                words=tx,
                entered_in_error=bool(e),
            )
            # Clinical time first; log order where it does not decide (docs/clocks.md).
            for p, o, r, u, ro, k, ty, i, tx, e in timeline_order.in_display_order(
                merge_queries.timeline_for(conn, ids)
            )
        ],
        vitals_series=merge_queries.series_for(conn, ids),
        immunizations=immunizations,
        immunizations_due=immunization_queries.due_views(on_schedule, cat.immunization_schedule),
        replaced_by=patient_links.replaced_by(conn, patient_id),
        merges=merges,
        merged_item_ids=from_merged,
        merge_warnings=merge_queries.warnings_for(
            [_domain_item(i) for i in live if i.kind == "allergy"], from_merged
        ),
    )


class ClinicQueries:
    def __init__(
        self,
        vault: Vault,
        runner: ProjectionRunner,
        clock: Clock,
        catalog: Catalog | None = None,
    ) -> None:
        self._vault = vault
        self._runner = runner
        self._clock = clock
        # The vaccines and immunization schedule the charts' due doses are computed from.
        self._catalog = catalog if catalog is not None else bundled_catalog()

    # -- patients ------------------------------------------------------------------------

    def search_patients(self, text: str, limit: int = 50) -> list[PatientSummary]:
        with read_transaction(self._vault.engine) as conn:
            # Records merged into another chart are left out, unless asked for by their id.
            replaced = patient_links.all_replaced(conn) - {text.strip()}
            found = patient_index.search(conn, text, limit + len(replaced))
            # A patient card's short number or scanned QR code (projections/card_lookup.py).
            shown = {r.patient_id for r in found}
            found = [*found, *card_rows(conn, text, shown)]
            return [_summary(r) for r in found if r.patient_id not in replaced][:limit]

    def patients_of_card(self, text: str) -> list[PatientSummary]:
        """The patients a scanned QR code or a typed card number identifies (a chart opens
        directly only when this is exactly one)."""
        with read_transaction(self._vault.engine) as conn:
            return [_summary(r) for r in card_rows(conn, text, set())]

    def patient(self, patient_id: str) -> PatientSummary | None:
        with read_transaction(self._vault.engine) as conn:
            row = patient_index.get(conn, patient_id)
        return None if row is None else _summary(row)

    def patient_count(self) -> int:
        with read_transaction(self._vault.engine) as conn:
            return patient_index.count(conn)

    # -- charts --------------------------------------------------------------------------

    def chart(
        self,
        patient_id: str,
        viewer: Actor,
        as_of: datetime | None = None,
        record_view: bool = True,
    ) -> ChartView:
        """The chart now, or as it was known at `as_of` (replayed from the log)."""
        if viewer.role is Role.ADMIN:
            raise RoleError(_("Admins manage users, devices and sync; they do not open charts"))
        if as_of is None:
            with read_transaction(self._vault.engine) as conn:
                view = read_chart(
                    conn, patient_id, self._clock().astimezone().date(), self._catalog
                )
        else:
            view = self._chart_as_of(patient_id, as_of)
        if record_view:
            self._record_view(patient_id, viewer)
        return view

    def _chart_as_of(self, patient_id: str, as_of: datetime) -> ChartView:
        """Everything recorded up to the last log position recorded at or before ``as_of``,
        in log order — not every event stamped before it: after the device clock stepped
        back, later events look older than earlier ones (docs/clocks.md)."""
        if as_of.tzinfo is None:
            raise NotFoundError(_("The 'as of' time needs a time zone"), "as_of")
        with read_transaction(self._vault.engine) as conn:
            cutoff = recorded_order.position_as_of(conn, as_of)
            records = (
                self._vault.events.read_stream(stream_of(patient_id), conn, cutoff)
                if cutoff
                else []
            )
        if not records:
            raise NotFoundError(_("This patient was not yet registered at that time"), "as_of")
        later = sum(1 for r in records if datetime.fromisoformat(r.metadata.recorded_at) > as_of)
        if later:  # said for IT; no patient data
            log.warning(
                "a chart 'as of' includes %d event(s) stamped after that time by a device clock"
                " later set back: the log's order decides (docs/clocks.md)",
                later,
            )
        engine = replay_in_memory(records)
        try:
            with engine.connect() as conn:
                view = read_chart(conn, patient_id, as_of.astimezone().date(), self._catalog)
        finally:
            engine.dispose()
        from dataclasses import replace

        return replace(view, as_of=as_of.isoformat())

    def _record_view(self, patient_id: str, viewer: Actor) -> None:
        event = ChartViewed(patient_id=patient_id)
        record_device_audit(self._vault, self._runner, self._clock, viewer, event)

    # -- schedule ------------------------------------------------------------------------

    def schedule(self, day: date, days: int = 1) -> list[AppointmentView]:
        with read_transaction(self._vault.engine) as conn:
            return self._appointments(conn, schedule.on_day(conn, day.isoformat(), days))

    def overdue_followups(self) -> list[AppointmentView]:
        with read_transaction(self._vault.engine) as conn:
            return self._appointments(conn, schedule.overdue(conn, self._clock()))

    def due_today(self) -> list[AppointmentView]:
        today = self._clock().astimezone().date()  # the device's day, not UTC's
        return [a for a in self.schedule(today) if a.status == "booked"]

    def immunizations_due(self, day: date | None = None) -> list[PatientDoseDue]:
        """Doses due or overdue on `day` (default: the device's today) for everyone on this
        device, overdue first (app/services/immunization_queries.py)."""
        today = day if day is not None else self._clock().astimezone().date()
        with read_transaction(self._vault.engine) as conn:
            return immunization_queries.clinic_due(conn, self._catalog, today)

    def missed_followups(self) -> list[AppointmentView]:
        """No-shows not yet followed up by a later booking, the most recent first."""
        with read_transaction(self._vault.engine) as conn:
            return self._appointments(conn, schedule.missed(conn))

    def call_worklist(self) -> list[calls.WorklistRow]:
        """Patients to call about a missed or overdue appointment (services/call_worklist.py)."""
        now = self._clock()
        with read_transaction(self._vault.engine) as conn:
            return calls.worklist(conn, now, now.astimezone().date())

    def calls_of(self, patient_id: str) -> list[calls.CallView]:
        """A patient's follow-up calls and removals, oldest first."""
        with read_transaction(self._vault.engine) as conn:
            return calls.call_items(conn, [patient_id])

    def calls_returned(self, month: str) -> list[calls.ReturnFigure]:
        """Calls of `month` (YYYY-MM) by outcome, and how many patients came within 30 days."""
        with read_transaction(self._vault.engine) as conn:
            return calls.returned_within_30_days(conn, month)

    def clinicians(self) -> list[str]:
        """Who a follow-up can be booked with: this device's active clinicians (any role may
        read the names; the user directory itself is for admins)."""
        with read_transaction(self._vault.engine) as conn:
            return schedule.clinicians(conn)

    def _appointments(self, conn: Transaction, rows: list[Any]) -> list[AppointmentView]:
        result = []
        for r in rows:
            p = patient_index.get(conn, r.patient_id)
            result.append(
                AppointmentView(
                    appointment_id=r.appointment_id,
                    patient_id=r.patient_id,
                    patient_name=f"{p.family}, {p.given}" if p else "?",
                    clinician=r.clinician,
                    start=r.start,
                    end_utc=r.end_utc,
                    status=r.status,
                    reason=r.reason,
                )
            )
        return result

    # -- audit and sync ------------------------------------------------------------------

    def audit(
        self, limit: int = 200, patient_id: str | None = None, user: str | None = None
    ) -> list[AuditEntry]:
        # Admin actions are appended by the vault itself, outside any command's catch-up.
        self._runner.catch_up()
        with read_transaction(self._vault.engine) as conn:
            rows = audit_log.recent(conn, limit, patient_id, user)
            names: dict[str, str | None] = {}
            for pid in {r.patient_id for r in rows if r.patient_id}:
                p = patient_index.get(conn, pid)
                names[pid] = f"{p.family}, {p.given}" if p is not None else None
        return [
            AuditEntry(
                position=r.position,
                at=r.at,
                user=r.user,
                role=r.role,
                device_id=r.device_id,
                action=r.action,
                patient_id=r.patient_id,
                command_id=r.command_id,
                patient_name=names.get(r.patient_id) if r.patient_id else None,
                subject=r.subject,
                detail=r.detail,
            )
            for r in rows
        ]

    def sync_overview(self) -> SyncOverview:
        with read_transaction(self._vault.engine) as conn:
            counts = outbox.counts(conn)
            attention = outbox.with_status(conn, outbox.NEEDS_ATTENTION)
        return SyncOverview(
            pending=counts[outbox.PENDING],
            synced=counts[outbox.SYNCED],
            needs_attention=counts[outbox.NEEDS_ATTENTION],
            attention=[
                SyncCommandState(
                    command_id=e.command_id,
                    command_type=e.command_type,
                    patient_id=patient_of_stream(e.stream_id),
                    recorded_at=e.recorded_at,
                    status=e.status,
                    attempts=e.attempts,
                    last_error=e.last_error,
                    detail=e.detail,
                )
                for e in attention
            ],
        )

    def digest(self) -> str:
        return self._runner.digest()


def banner_entry(allergy: ItemView) -> str:
    """An allergy as the banner names it: a high criticality (risk of a severe reaction)
    is said in words, never left to the allergy list."""
    substance = str(allergy.data["substance"])
    if allergy.data.get("criticality") != "high":
        return substance
    return _("{substance} (HIGH criticality)").format(substance=substance)
