"""The main window of an unlocked session: navigation, the pages, menus and status bar."""

from __future__ import annotations

from contextlib import suppress

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.commands import RegisterPatient
from app.i18n import N_, _
from app.services.dto import Changes
from app.services.sync_status import SyncStatus
from app.ui import shortcuts
from app.ui.audit_view import AuditView
from app.ui.calls_view import CallsView
from app.ui.chart.view import TABS, PatientChartView
from app.ui.forms.patient_forms import RegisterPatientDialog
from app.ui.help_dialog import ShortcutsDialog
from app.ui.patient_list import PatientListView
from app.ui.permissions import ADMIN_ONLY, ADMINS_NO_CHARTS, gate, role_name
from app.ui.reports_view import ADMINS_NO_REPORTS, ReportsView
from app.ui.schedule_view import ScheduleView
from app.ui.session import ClinicSession
from app.ui.settings_view import SettingsView
from app.ui.style import icon
from app.ui.sync_panel import SyncPanelView, describe_state
from app.ui.users_view import UsersView
from app.ui.widgets import WINDOW_CHROME

MINIMUM_SIZE = (760, 440)
STATUS_MS = 6000
# The sections (N_-marked; shown as `_(title)`).
NAV_MAX_WIDTH = 210  # the section list at its widest (long names elide beyond)
PAGES = (
    N_("Patients"),
    N_("Schedule"),
    # Translators: the section about sending and receiving changes with the server
    N_("Sync"),
    N_("Settings"),
    N_("Users"),
    N_("Audit"),
    N_("Reports"),
    N_("Calls"),
)
ICONS = ("patients", "schedule", "sync", "settings", "users", "audit", "reports", "calls")


class MainView(QMainWindow):
    lock_requested = Signal()
    quit_requested = Signal()

    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.last_form: RegisterPatientDialog | None = None
        self.shortcut_stand_ins: list[QShortcut] = []
        self._closing_for_lock = False
        self.setWindowTitle(
            # Translators: the main window's title: the signed-in user and their role
            _("FieldChart — {user} ({role})").format(
                user=session.actor.user, role=role_name(session.role)
            )
        )
        self.setWindowIcon(icon("fieldchart"))
        # Fits 1366×768 at 150 % (910×512 logical, less the window frame); pages scroll
        # (self.page_scroll) when they need more than the window has.
        self.setMinimumSize(*MINIMUM_SIZE)
        self.patients = PatientListView(session, self)
        self.chart = PatientChartView(session, self)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.patients)
        self.splitter.addWidget(self.chart)
        # A smaller window takes a little from the list and most from the chart.
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)
        self._splitter_set = False
        self.schedule = ScheduleView(session, self)
        self.sync_panel = SyncPanelView(session, self)
        self.settings = SettingsView(session, self)
        self.users = UsersView(session, self)
        self.audit = AuditView(session, self)
        self.reports = ReportsView(session, self)
        self.calls = CallsView(session, self)
        self.stack = QStackedWidget(self)
        for page in (
            self.splitter,
            self.schedule,
            self.sync_panel,
            self.settings,
            self.users,
            self.audit,
            self.reports,
            self.calls,
        ):
            self.stack.addWidget(page)
        self.setCentralWidget(self._build_body())
        self._build_menus()
        self._build_status_bar()
        self.patients.patient_selected.connect(self.chart.show_patient)
        self.patients.new_patient_requested.connect(self.new_patient)
        self.schedule.open_patient.connect(self.open_patient)
        self.calls.open_patient.connect(self.open_patient)
        session.ops.busy_changed.connect(self._busy)
        session.sync.status_changed.connect(self._sync_status)
        self._sync_status(session.sync.status)
        self._restore()

    # -- layout ----------------------------------------------------------------------------

    def _build_body(self) -> QWidget:
        body = QWidget(self)
        row = QHBoxLayout(body)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        side = QWidget(body)
        side.setFixedWidth(150)
        side.setStyleSheet("background: #1f3a5f;")
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        self.nav = QListWidget(side)
        self.nav.setObjectName("navigation")
        self.nav.setAccessibleName(_("Sections"))
        self.nav.setIconSize(QSize(20, 20))
        admin = self.session.is_admin
        no_charts, admin_only = _(ADMINS_NO_CHARTS), _(ADMIN_ONLY)
        reasons = [
            no_charts if admin else None,
            no_charts if admin else None,
            None,
            None,
            None if admin else admin_only,
            None if admin else admin_only,
            _(ADMINS_NO_REPORTS) if admin else None,
            no_charts if admin else None,
        ]
        for n, (title, name, reason) in enumerate(zip(PAGES, ICONS, reasons, strict=True)):
            shown = _(title)  # PAGES are N_-marked
            item = QListWidgetItem(icon(name), shown)
            # Translators: a section's tooltip: its name and its keyboard shortcut
            tip = _("{page} ({keys})").format(page=shown, keys=shortcuts.PAGE_KEYS[n])
            item.setToolTip(reason or tip)
            if reason:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
            self.nav.addItem(item)
        self.nav.currentRowChanged.connect(self.show_page)
        # As wide as the longest section name in the user's language ("Synchronisation"),
        # never a scroll bar under the sections.
        self.nav.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        side.setFixedWidth(max(150, min(NAV_MAX_WIDTH, self.nav.sizeHintForColumn(0) + 28)))
        column.addWidget(self.nav, 1)
        who = QLabel(f"{self.session.actor.user}\n{role_name(self.session.role)}", side)
        who.setObjectName("navigationUser")
        column.addWidget(who)
        # Translators: the button that locks the app at once (verb)
        lock = QPushButton(icon("lock"), "  " + _("Lock"), side)
        lock.setToolTip(
            _("Lock now ({keys}); unlock with your passphrase").format(keys=shortcuts.LOCK)
        )
        lock.setStyleSheet(
            "QPushButton { background: #1a3252; color: #e8eef6; border: none;"  # i18n: ignore (CSS)
            " border-radius: 0; padding: 10px; text-align: left; }"
            " QPushButton:hover { background: #2a4d78; }"
        )
        lock.clicked.connect(self.lock_requested)
        column.addWidget(lock)
        row.addWidget(side)
        # One scroll area around the pages: a page that needs more room than the window has
        # (a small screen at 150 %) scrolls instead of being cut off.
        self.page_scroll = QScrollArea(body)
        self.page_scroll.setObjectName("pageScroll")
        self.page_scroll.setWidgetResizable(True)
        self.page_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.page_scroll.setWidget(self.stack)
        row.addWidget(self.page_scroll, 1)
        return body

    def _action(self, text: str, keys: str, slot: object, tip: str = "") -> QAction:
        action = QAction(text, self)
        if keys:
            action.setShortcut(QKeySequence(keys))
        action.triggered.connect(slot)
        if tip:
            action.setStatusTip(tip)
        self.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu(_("&File"))
        self.lock_action = self._action(_("&Lock"), shortcuts.LOCK, self.lock_requested.emit)
        file.addAction(self.lock_action)
        file.addSeparator()
        file.addAction(self._action(_("&Quit"), shortcuts.QUIT, self.quit_requested.emit))
        patient = bar.addMenu(_("&Patient"))
        self.find_action = self._action(
            _("&Find patient"), shortcuts.FIND_PATIENT, self.find_patient
        )
        self.new_action = self._action(_("&New patient…"), shortcuts.NEW_PATIENT, self.new_patient)
        chart_reason = _(ADMINS_NO_CHARTS) if self.session.is_admin else None
        gate(self.find_action, chart_reason)
        gate(self.new_action, chart_reason or self.session.why_not(RegisterPatient))
        gate(
            self.patients.new_button,
            self.new_action.toolTip() if not self.new_action.isEnabled() else None,
            _("Register a new patient ({keys})").format(keys=shortcuts.NEW_PATIENT),
        )
        patient.addAction(self.find_action)
        patient.addAction(self.new_action)
        chart = bar.addMenu(_("&Chart"))
        for action in self.chart.chart_actions.actions.values():
            chart.addAction(action)
            self.addAction(action)
        chart.addSeparator()
        self.tab_actions = []
        for n, title in enumerate(TABS[: len(shortcuts.TAB_KEYS)]):
            tab = _(title)  # TABS are N_-marked in app/ui/chart/view.py
            action = self._action(
                # Translators: a Chart menu entry; {tab} is the tab's name in lower case
                _("Show {tab}").format(tab=tab.lower()),
                shortcuts.TAB_KEYS[n],
                lambda _checked=False, i=n: self.show_tab(i),
            )
            gate(action, chart_reason, _("Show the chart's {tab} tab").format(tab=tab))
            chart.addAction(action)
            self.tab_actions.append(action)
        go = bar.addMenu(_("&Go"))
        for n, title in enumerate(PAGES):
            page = self._action(
                _(title), shortcuts.PAGE_KEYS[n], lambda _checked=False, i=n: self.show_page(i)
            )
            item = self.nav.item(n)  # a page the role may not open: greyed, says why
            allowed = bool(item.flags() & Qt.ItemFlag.ItemIsEnabled)
            gate(page, None if allowed else item.toolTip(), item.toolTip())
            go.addAction(page)
        go.addSeparator()
        go.addAction(self._action(_("&Refresh"), shortcuts.REFRESH, self.refresh_page))
        sync = bar.addMenu(_("&Sync"))
        sync.addAction(self._action(_("Sync &now"), shortcuts.SYNC_NOW, self.sync_panel.sync_now))
        helpmenu = bar.addMenu(_("&Help"))
        helpmenu.addAction(
            self._action(_("&Keyboard shortcuts"), shortcuts.SHORTCUT_HELP, self.show_shortcuts)
        )
        for menu in bar.findChildren(QMenu):
            menu.setToolTipsVisible(True)  # a disabled entry's tooltip says why
        for action in self.actions():
            if not action.shortcut().isEmpty():
                self._explain_when_disabled(action)

    def _explain_when_disabled(self, action: QAction) -> None:
        """A disabled action's shortcut does nothing; say why in the status bar instead.

        Qt skips disabled actions when it matches a key, so this stand-in shortcut, enabled
        exactly while the action is disabled, is never ambiguous with it.
        """
        stand_in = QShortcut(action.shortcut(), self)
        stand_in.setEnabled(not action.isEnabled())
        action.changed.connect(lambda: stand_in.setEnabled(not action.isEnabled()))
        stand_in.activated.connect(lambda: self.say(action.toolTip()))
        self.shortcut_stand_ins.append(stand_in)

    def say(self, message: str) -> None:
        """A short message in the status bar (why a key did nothing, and the like)."""
        self.statusBar().showMessage(message, STATUS_MS)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.busy_label = QLabel(self)
        self.busy_bar = QProgressBar(self)
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setMaximumWidth(120)
        self.busy_bar.setMaximumHeight(12)
        self.busy_bar.setAccessibleName(_("Working"))
        self.busy_bar.hide()
        self.sync_label = QLabel(self)
        self.sync_label.setAccessibleName(_("Sync state"))
        status.addWidget(self.busy_bar)
        status.addWidget(self.busy_label)
        status.addPermanentWidget(self.sync_label)

    # -- behaviour -------------------------------------------------------------------------

    def show_page(self, index: int) -> None:
        item = self.nav.item(index)
        if item is None or not item.flags() & Qt.ItemFlag.ItemIsEnabled:
            self.say(item.toolTip() if item else "")
            return
        if self.nav.currentRow() != index:
            self.nav.setCurrentRow(index)  # re-enters through currentRowChanged
            return
        # Only the page shown counts for the scroll area's size (QStackedWidget would ask
        # for the largest page's minimum size).
        for n in range(self.stack.count()):
            policy = QSizePolicy.Policy.Preferred if n == index else QSizePolicy.Policy.Ignored
            page = self.stack.widget(n)
            if page is not None:
                page.setSizePolicy(policy, policy)
        self.stack.setCurrentIndex(index)
        self.page_scroll.verticalScrollBar().setValue(0)
        self.page_scroll.horizontalScrollBar().setValue(0)
        self.session.prefs.set("window/page", index)
        self.refresh_page()

    def refresh_page(self) -> None:
        page = self.stack.currentWidget()
        if page is self.splitter:
            self.patients.refresh()
        elif page is self.schedule:
            self.schedule.refresh()
        elif page is self.sync_panel:
            self.sync_panel.refresh_overview()
        elif page is self.settings:
            self.settings.refresh()
        elif page is self.users:
            self.users.refresh()
        elif page is self.audit:
            self.audit.refresh()
        elif page is self.reports:
            self.reports.refresh()
        elif page is self.calls:
            self.calls.refresh()

    def show_tab(self, index: int) -> None:
        """Show chart tab `index` (Alt+1 … Alt+5) and move the focus into it."""
        if self.chart.patient_id is None:
            self.say(
                # TABS are N_-marked in app/ui/chart/view.py
                _("Open a patient's chart first (no chart to show the {tab} tab of).").format(
                    tab=_(TABS[index])
                )
            )
            return
        self.show_page(0)
        self.chart.show_tab(index)

    def find_patient(self) -> None:
        if self.find_action.isEnabled():
            self.show_page(0)
            self.patients.focus_search()

    def new_patient(self) -> None:
        if not self.new_action.isEnabled():
            self.say(self.new_action.toolTip())
            return
        self.show_page(0)
        dialog = RegisterPatientDialog(self.session, self)
        dialog.recorded.connect(self._registered)
        dialog.existing_chosen.connect(self.open_patient)  # duplicate check: already here
        self.last_form = dialog
        dialog.open()

    def _registered(self, changes: Changes) -> None:
        self.patients.search.blockSignals(True)
        self.patients.search.clear()
        self.patients.search.blockSignals(False)
        self.open_patient(changes.patient_id)

    def open_patient(self, patient_id: str) -> None:
        self.show_page(0)
        self.patients.refresh(select=patient_id)
        self.chart.show_patient(patient_id)

    def show_shortcuts(self) -> None:
        ShortcutsDialog(self).open()

    def _busy(self, count: int, label: str) -> None:
        self.busy_bar.setVisible(count > 0)
        self.busy_label.setText(label if count > 0 else "")

    def _sync_status(self, status: SyncStatus) -> None:
        # Translators: the status bar's sync state ("Sync: Up to date")
        self.sync_label.setText(_("Sync: {state}").format(state=describe_state(status)) + "  ")

    # -- persistence (non-PHI only) --------------------------------------------------------

    def _restore(self) -> None:
        prefs = self.session.prefs
        geometry = prefs.blob("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            # 1280×720, or the whole screen where that is smaller (1366×768 at 150 %).
            room = self.screen().availableGeometry().size()
            self.resize(min(1280, room.width()), min(720, room.height() - WINDOW_CHROME))
        sizes = prefs.text("patients/splitter")
        if sizes:
            with suppress(ValueError):  # a damaged preference: keep the default sizes
                self.splitter.setSizes([int(x) for x in sizes.split(",")])
                self._splitter_set = True
        page = prefs.integer("window/page", 2 if self.session.is_admin else 0)
        first = next(
            i
            for i in range(self.nav.count())
            if self.nav.item(i).flags() & Qt.ItemFlag.ItemIsEnabled
        )
        item = self.nav.item(page)
        self.show_page(
            page if item is not None and item.flags() & Qt.ItemFlag.ItemIsEnabled else first
        )

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._splitter_set:
            # First run: the list takes about a quarter of the room, the chart the rest.
            self._splitter_set = True
            total = sum(self.splitter.sizes()) or self.width()
            # The chart keeps at least 640 px (two summary columns) where there is room.
            wide = max(self.patients.minimumSizeHint().width(), min(320, total - 640))
            self.splitter.setSizes([wide, max(total - wide, 1)])

    def save_layout(self) -> None:
        prefs = self.session.prefs
        prefs.set("window/geometry", self.saveGeometry())
        prefs.set("patients/splitter", ",".join(str(s) for s in self.splitter.sizes()))
        prefs.sync()

    def close_for_lock(self) -> None:
        """Close at once, without asking (locking hides every patient detail)."""
        self._closing_for_lock = True
        self.save_layout()
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closing_for_lock:
            self._closing_for_lock = True
            self.save_layout()
            self.quit_requested.emit()
        event.accept()
