"""The chart's "Print…" submenu: one entry per document, each enabled only when the chart has
something to print as it (its tooltip says why not)."""

from __future__ import annotations

from PySide6.QtGui import QAction, QCursor
from PySide6.QtWidgets import QMenu, QWidget

from app.domain.roles import Role
from app.i18n import N_, _
from app.services.dto import ChartView
from app.ui.permissions import gate
from app.ui.printing.print_dialog import PrintDialog, why_not
from app.ui.session import ClinicSession

# English msgids (N_), translated where the menu is made.
ENTRIES = (
    ("prescription", N_("&Prescription…")),
    ("visit", N_("&Visit summary…")),
    ("referral", N_("&Referral letter…")),
    ("slip", N_("Appointment &slip…")),
    ("card", N_("Patient &card…")),
)


class PrintMenu(QMenu):
    def __init__(self, session: ClinicSession, parent: QWidget) -> None:
        super().__init__(_("&Print"), parent)
        self.setToolTipsVisible(True)
        self.session = session
        self.host = parent
        self.chart: ChartView | None = None
        self.last_dialog: PrintDialog | None = None
        self.actions_by_document: dict[str, QAction] = {}
        for document, text in ENTRIES:
            action = self.addAction(_(text))  # an ENTRIES msgid
            action.triggered.connect(lambda _=False, d=document: self.open(d))
            self.actions_by_document[document] = action
        self.update_chart(None)

    def update_chart(self, chart: ChartView | None) -> None:
        self.chart = chart
        for document, action in self.actions_by_document.items():
            reason = why_not(document, chart)
            if self.session.role is Role.ADMIN:
                reason = _("Admins do not open charts.")
            gate(action, reason)

    def open(self, document: str, selected: str | None = None) -> PrintDialog | None:
        """The print dialog of `document` for the chart shown (optionally one item chosen)."""
        if self.chart is None or why_not(document, self.chart) is not None:
            return None
        dialog = PrintDialog(self.session, self.chart, document, self.host, selected)
        self.last_dialog = dialog
        dialog.open()
        return dialog


def print_action(menu: PrintMenu, parent: QWidget) -> QAction:
    """ "Print…" among the chart's actions: it drops the menu of documents where the pointer
    is (under the toolbar button, or over the More menu it may have moved to)."""
    action = QAction(_("Print…"), parent)
    action.setIconText(_("Print…"))
    action.setToolTip(
        _(
            "Print or save as PDF: prescription, visit summary, referral letter, "
            "appointment slip, patient card"
        )
    )
    action.triggered.connect(lambda _=False: menu.popup(QCursor.pos()))
    return action
