"""The desktop flow: first run or unlock -> main window -> lock -> unlock ...

Locking (by hand, Ctrl+L, or after the idle time from the device settings) keeps every open
form's unsaved changes as a draft in the vault, drops every result still in flight, closes the
main window with every form in it at once, closes the clinic (keys dropped) and shows the
unlock dialog again. Unlocking gives the user their drafts back (app/ui/drafts.py).
"""

from __future__ import annotations

from PySide6.QtCore import QLocale, QObject, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QDialog, QMenu

from app import heap
from app.i18n import N_, _
from app.services.clinic import Clinic
from app.services.settings import DeviceSettings
from app.ui.backend import Backend, CreatedVault
from app.ui.drafts import DraftKeeper
from app.ui.first_run import FirstRunDialog
from app.ui.idle_lock import IdleLockFilter
from app.ui.language import QtLanguage
from app.ui.main_window import MainView
from app.ui.operation import OperationRunner
from app.ui.preferences import Preferences
from app.ui.session import ClinicSession
from app.ui.unlock_dialog import UnlockDialog
from app.ui.user_dialogs import ChangePassphraseDialog

DEFAULT_AUTO_LOCK_MINUTES = 10
SETTLE_HEAP_AFTER_MS = 2_000  # after the window's first loads (see app/heap.py)
LOCKED_NOTICE = N_("FieldChart was locked. Sign in again to continue.")
# The language the unlock dialog speaks: the last user's on this computer (the vault, which
# holds each user's own choice, is still locked then).
LAST_LANGUAGE = "unlock/language"


class AppController(QObject):
    session_opened = Signal(object)  # ClinicSession
    locked = Signal()
    language_switched = Signal(str)  # the window was rebuilt in this language

    def __init__(
        self,
        app: QApplication,
        backend: Backend,
        prefs: Preferences,
        ops: OperationRunner | None = None,
    ) -> None:
        super().__init__(app)
        self.app, self.backend, self.prefs = app, backend, prefs
        self.ops = ops or OperationRunner(self)
        self.idle = IdleLockFilter(app, DEFAULT_AUTO_LOCK_MINUTES * 60_000)
        self.idle.idle.connect(self.lock)
        self.session: ClinicSession | None = None
        self.window: MainView | None = None
        self.dialog: QDialog | None = None
        self.auto_lock_override_ms: int | None = None  # tests shorten the idle time
        self.drafts = DraftKeeper(self)  # unsaved forms outlive a lock (app/ui/drafts.py)
        self.language = QtLanguage(app)
        # Before anyone signed in here: the computer's own language, if FieldChart speaks it.
        self.language.apply(prefs.text(LAST_LANGUAGE) or QLocale.system().name())

    def start(self) -> None:
        if self.backend.vault_exists():
            self.show_unlock()
        else:
            self.show_first_run()

    # -- before a session ------------------------------------------------------------------

    def show_first_run(self) -> None:
        wizard = FirstRunDialog(self.backend, self.ops)
        wizard.finished_setup.connect(lambda created: self._first_run_done(created))
        wizard.rejected.connect(self.app.quit)
        self.dialog = wizard
        wizard.show()

    def _first_run_done(self, created: CreatedVault) -> None:
        self.dialog = None
        # The first admin set the clinic up in this language: it is theirs from now on.
        clinic = created.clinic
        clinic.user_settings.set_language(clinic.actor, self.language.language)
        self.open_session(clinic)

    def show_unlock(self, notice: str = "") -> None:
        dialog = UnlockDialog(self.backend, self.ops, self.prefs, notice=notice)
        dialog.unlocked.connect(self.open_session)
        dialog.rejected.connect(self.app.quit)
        self.dialog = dialog
        dialog.show()

    # -- the session -----------------------------------------------------------------------

    def open_session(self, clinic: Clinic) -> None:
        if self.dialog is not None:
            self.dialog.deleteLater()
            self.dialog = None
        # Layout preferences are each user's own; the last user name is the computer's.
        prefs = self.prefs.for_user(clinic.actor.user)
        session = ClinicSession(clinic, self.backend, self.ops, prefs, self)
        self.prefs.set("unlock/last_user", session.actor.user)
        # The user's own language before the first widget is built (one small vault read).
        self._use_language(clinic.user_settings.language(clinic.actor))
        session.settings_changed.connect(self._apply_settings)
        session.language_requested.connect(self.change_language)
        self.session = session
        self._open_window(session)
        settings = clinic.settings
        self.ops.run(settings.get, success=self._apply_settings, label=_("Reading settings…"))
        self.idle.start()
        self.session_opened.emit(session)
        QTimer.singleShot(SETTLE_HEAP_AFTER_MS, lambda: self._settle_heap(session))

    def _open_window(self, session: ClinicSession) -> MainView:
        window = MainView(session)
        window.lock_requested.connect(self.lock)
        window.quit_requested.connect(self.quit)
        self.window = window
        window.show()
        self._add_account_actions(session, window)
        # After the unlock dialog closes, the main window takes the keyboard focus at once.
        window.raise_()
        window.activateWindow()
        self.drafts.offer(session, window)
        return window

    def _use_language(self, code: str) -> str:
        language = self.language.apply(code)
        self.prefs.set(LAST_LANGUAGE, language)
        return language

    # -- language ------------------------------------------------------------------------

    def change_language(self, code: str) -> None:
        """Keep `code` as the user's language (in the vault), then show every screen in it."""
        session = self.session
        if session is None:
            return
        user_settings, actor = session.clinic.user_settings, session.actor
        self.ops.run(
            lambda: user_settings.set_language(actor, code),
            success=lambda language: self._switch_language(session, language),
            label=_("Changing the language…"),
        )

    def _switch_language(self, session: ClinicSession, language: str) -> None:
        """Every screen in `language` at once: the main window is built again, on the same
        page and chart, and the forms open in it come back with what was typed (the drafts
        kept for a lock, given back at once)."""
        window = self.window
        if session is not self.session or window is None:
            return
        self._use_language(language)
        patient_id = window.chart.patient_id
        self.drafts.keep(session, window)
        window.save_layout()
        window.close_for_lock()
        window.deleteLater()
        new_window = self._open_window(session)
        if patient_id is not None:
            new_window.open_patient(patient_id)
        new_window.statusBar().showMessage(_("FieldChart now speaks your language."), 10_000)
        self.language_switched.emit(language)

    def _add_account_actions(self, session: ClinicSession, window: MainView) -> None:
        """File ▸ Change my passphrase… for every user (the File menu holds Lock)."""
        action = QAction(_("Change my &passphrase…"), window)
        action.setStatusTip(_("Change the passphrase you sign in with"))
        action.triggered.connect(lambda: self.change_passphrase())
        menu = window.menuBar().actions()[0].menu()
        if isinstance(menu, QMenu):
            menu.insertAction(window.lock_action, action)
        window.addAction(action)
        self.change_passphrase_action = action

    def change_passphrase(self) -> ChangePassphraseDialog | None:
        if self.session is None or self.window is None:
            return None
        window = self.window
        dialog = ChangePassphraseDialog(self.session, window)
        dialog.accepted.connect(
            lambda: window.statusBar().showMessage(_("Your passphrase was changed."), 10_000)
        )
        dialog.open()
        return dialog

    def _settle_heap(self, session: ClinicSession) -> None:
        if self.session is session:  # not locked meanwhile
            heap.settle()

    def _apply_settings(self, settings: DeviceSettings) -> None:
        if self.auto_lock_override_ms is not None:
            self.idle.set_timeout_ms(self.auto_lock_override_ms)
        else:
            self.idle.set_minutes(settings.auto_lock_minutes)

    def _end_session(self) -> None:
        session, window = self.session, self.window
        self.session, self.window = None, None
        self.idle.stop()
        if session is not None and window is not None:
            self.drafts.keep(session, window)  # before the forms close and the keys go
        self.ops.invalidate()  # nothing started in this session reaches a widget any more
        if window is not None:
            window.close_for_lock()
            window.deleteLater()
        if session is not None:
            session.sync.close()
            self.backend.lock(session.clinic)
            session.deleteLater()
        heap.release()

    def lock(self) -> None:
        """Hide all patient data at once and ask for a passphrase again."""
        if self.session is None:
            return
        self._end_session()
        self.locked.emit()
        self.show_unlock(_(LOCKED_NOTICE))

    def quit(self) -> None:
        self._end_session()
        self.app.quit()
