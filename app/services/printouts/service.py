"""Printouts: what to print for a chart (a `Printout`: title and HTML, plus the QR code of a
patient card), and the audit entry once it was printed.

Only the patient's items are read here; app/ui turns the HTML into a PDF or sends it to a
printer, then calls `record_printed`, so a print dialog cancelled leaves no audit entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.domain.errors import NotFoundError, ValidationError
from app.domain.events import ChartPrinted, stream_of
from app.domain.reference import Catalog
from app.domain.roles import Actor
from app.i18n import N_, _, current_language, using_language
from app.projections import chart_items
from app.projections.runner import ProjectionRunner
from app.services.clinic import Clinic
from app.services.clinic_queries import ClinicQueries
from app.services.clock import Clock
from app.services.device_audit import record_device_audit
from app.services.dto import ChartView, ItemView
from app.services.printouts import layouts
from app.services.printouts.card_code import qr_matrix, qr_payload
from app.services.printouts.wording import words
from app.store import outbox
from app.store.database import read_transaction
from app.store.reference_data import bundled_catalog
from app.store.vault import Vault

DOCUMENTS = ("prescription", "referral", "visit", "slip", "card")
# What is missing or unknown, by the field named (`pick`); translated where raised.
_NOTHING_TO_PRINT = {
    "prescription": N_("This chart has no prescription to print"),
    "referral": N_("This chart has no referral to print"),
    "encounter": N_("This chart has no encounter to print"),
    "appointment": N_("This chart has no appointment to print"),
}
_NO_SUCH_ITEM = {
    "prescription": N_("No prescription with this id on this chart"),
    "referral": N_("No referral with this id on this chart"),
    "encounter": N_("No encounter with this id on this chart"),
    "appointment": N_("No appointment with this id on this chart"),
}
QR_SIZE_PX = 150  # the card's QR code on paper, in the document's pixels (~4 cm)


@dataclass(frozen=True)
class Printout:
    document: str
    title: str
    patient_id: str
    item_ids: tuple[str, ...]
    html: str
    pending_changes: int
    qr_payload: str | None = None  # the card's QR code holds this
    qr_matrix: tuple[tuple[bool, ...], ...] = ()  # its modules, True = dark
    qr_size_px: int = QR_SIZE_PX

    @property
    def file_stem(self) -> str:
        """A file name that carries no patient data (the patient's name is PHI)."""
        return f"{self.document}-{self.patient_id[:8]}"


def pending_changes(vault: Vault, patient_id: str) -> int:
    """Changes to this chart recorded here that the central server has not accepted yet."""
    stream = stream_of(patient_id)
    with read_transaction(vault.engine) as conn:
        return sum(
            1
            for status in (outbox.PENDING, outbox.NEEDS_ATTENTION)
            for e in outbox.with_status(conn, status)
            if e.stream_id == stream
        )


class Printouts:
    def __init__(
        self,
        vault: Vault,
        runner: ProjectionRunner,
        clock: Clock,
        queries: ClinicQueries,
        catalog: Catalog | None = None,
    ) -> None:
        self._vault, self._runner, self._clock, self._queries = vault, runner, clock, queries
        self._catalog = catalog if catalog is not None else bundled_catalog()

    def prepare(
        self,
        document: str,
        patient_id: str,
        actor: Actor,
        item_ids: Sequence[str] = (),
        clinic: str = "",
        language: str | None = None,
    ) -> Printout:
        """The printout of `document` for a patient. `item_ids`: the prescriptions to print
        (default: every active one), or the referral, encounter or appointment (default: the
        latest). `language`: the language printed (the patient's, say; default: the current
        language). Bad input raises a ValidationError/NotFoundError naming the field."""
        if document not in DOCUMENTS:
            raise ValidationError(
                _("Print one of: {documents}").format(documents=", ".join(DOCUMENTS)), "document"
            )
        # Reading a chart to print it is a view of it; the print itself is audited after.
        chart = self._queries.chart(patient_id, actor, record_view=False)
        # The items to print, picked first: a refusal is said in the user's language.
        chosen: list[ItemView] = []
        if document == "prescription":
            chosen = pick(chart.medications, item_ids, "prescription", everything=True)
        elif document == "referral":
            chosen = pick(chart.referrals, item_ids, "referral")
        elif document == "visit":
            chosen = pick(chart.encounters, item_ids, "encounter")
        elif document == "slip":
            chosen = pick(chart.appointments, item_ids, "appointment")
        with read_transaction(self._vault.engine) as conn:
            every = [
                ItemView(i, k, s, bool(e), c, r, b, d)
                for i, k, s, e, c, r, b, d in chart_items.for_chart(conn, patient_id)
            ]
        pending = pending_changes(self._vault, patient_id)
        # The page itself in the language asked for (the patient's, say).
        with using_language(language if language is not None else current_language()):
            page = layouts.Page(
                words=words(),
                printed_at=self._clock(),
                user=actor.user,
                pending_changes=pending,
                clinic=clinic,
            )
            return self._render(document, patient_id, chart, chosen, every, actor, page)

    def _render(
        self,
        document: str,
        patient_id: str,
        chart: ChartView,
        chosen: list[ItemView],
        every: list[ItemView],
        actor: Actor,
        page: layouts.Page,
    ) -> Printout:
        w = page.words
        if document == "card":
            payload = qr_payload(patient_id)
            return Printout(
                document,
                w["card"],
                patient_id,
                (),
                layouts.card(chart, QR_SIZE_PX, page),
                page.pending_changes,
                qr_payload=payload,
                qr_matrix=qr_matrix(payload),
            )
        if document == "prescription":
            html = layouts.prescription(chart, chosen, actor.user, page)
        elif document == "referral":
            html = layouts.referral(chart, chosen[0], page)
        elif document == "visit":
            follow = [
                a for a in chart.appointments if a.status == "booked"
            ]  # what is booked after this visit, as the patient leaves with it
            html = layouts.visit(chart, chosen[0], every, follow, page)
        else:
            html = layouts.slip(chart, chosen[0], page)
        ids = tuple(i.item_id for i in chosen)
        return Printout(document, w[document], patient_id, ids, html, page.pending_changes)

    def record_printed(self, printout: Printout, actor: Actor) -> None:
        """The audit entry of a printout written to a PDF or sent to a printer."""
        event = ChartPrinted(
            patient_id=printout.patient_id,
            document=printout.document,
            item_ids=list(printout.item_ids),
            pending_changes=printout.pending_changes,
        )
        record_device_audit(self._vault, self._runner, self._clock, actor, event)


def pick(
    items: Sequence[ItemView], item_ids: Sequence[str], field: str, everything: bool = False
) -> list[ItemView]:
    """The items asked for by id (each must be one of `items`), or by default every item
    (`everything`) or the latest one."""
    if not items:
        raise NotFoundError(_(_NOTHING_TO_PRINT[field]), field)  # an N_-marked message
    if not item_ids:
        return list(items) if everything else [items[-1]]
    by_id = {i.item_id: i for i in items}
    missing = [i for i in item_ids if i not in by_id]
    if missing:
        raise NotFoundError(_(_NO_SUCH_ITEM[field]), field)  # an N_-marked message
    return [by_id[i] for i in item_ids]


def printouts_of(clinic: Clinic) -> Printouts:
    """The printouts service of an open clinic."""
    return Printouts(clinic.vault, clinic.runner, clinic.clock, clinic.queries, clinic.catalog)
