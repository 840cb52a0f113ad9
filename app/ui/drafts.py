"""Unsaved forms survive a lock: kept as drafts when a session ends, given back at unlock.

At the end of a session (auto-lock, Ctrl+L, quit) every open task form with changes is
captured and saved in the vault -- synchronously, because the keys are dropped right after.
When a user unlocks:
- the forms that were open when *their own* session just ended on this app are reopened at
  once with a notice ("Your unsaved changes to Write note … were restored");
- any other draft of theirs (another user unlocked in between, the app was restarted, or the
  draft is older than STALE_AFTER_DAYS) is offered with its date: Restore, Discard or Not now.
Another user never sees them. See docs/ui.md, "Drafts and locking".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMainWindow, QWidget

from app.i18n import _, ngettext
from app.i18n.formatting import count, moment
from app.services.drafts import Draft, DraftForm
from app.services.dto import ChartView
from app.ui import confirm
from app.ui.forms import reopen
from app.ui.forms.base import CommandFormDialog
from app.ui.session import ClinicSession

log = logging.getLogger(__name__)

RESTORE, DISCARD, LATER = "restore", "discard", "later"


def _when(draft: Draft) -> str:
    return moment(draft.saved().astimezone())


class DraftKeeper(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # Whose session ended last on this app, and which drafts it kept: only those come
        # back without asking (the user just left them; nobody else unlocked in between).
        self._last_user: str | None = None
        self._last_kept: set[str] = set()
        self.restored: list[CommandFormDialog] = []  # the forms reopened (tests look here)
        self.notice = ""

    # -- the end of a session --------------------------------------------------------------

    def keep(self, session: ClinicSession, window: QWidget) -> None:
        """Save every open form with changes as a draft of the session's user."""
        forms = [f for f in window.findChildren(CommandFormDialog) if f.isVisible()]
        for form in forms:
            form.closing_for_lock = True  # close without asking; the draft stays stored
        kept: list[DraftForm] = []
        drop: list[str] = []
        for form in forms:
            try:
                captured = self._capture(form)
            except Exception as exc:  # one odd form must not stop the lock or the other drafts
                log.error("could not capture a %s: %s", type(form).__name__, type(exc).__name__)
                continue
            if captured is not None:
                kept.append(captured)
            elif form.draft_stored and not form.has_changes():
                drop.append(form.command_id)  # reopened, then emptied again on purpose
        self._last_user, self._last_kept = session.actor.user, set()
        if not kept and not drop:
            return
        try:
            session.clinic.drafts.keep(session.actor, kept, drop)
        except Exception as exc:  # the lock must go ahead; say what failed, never what was typed
            log.error("could not keep %d draft(s): %s", len(kept), type(exc).__name__)
            return
        self._last_kept = {f.draft_id for f in kept}

    @staticmethod
    def _capture(form: CommandFormDialog) -> DraftForm | None:
        if not form.has_changes():
            return None
        described = reopen.describe(form)
        if described is None:
            log.warning("an open %s cannot be kept as a draft", type(form).__name__)
            return None
        name, context = described
        return DraftForm(form.command_id, name, form.windowTitle(), context, form.field_values())

    # -- a new session -----------------------------------------------------------------------

    def offer(self, session: ClinicSession, window: QMainWindow) -> None:
        """Look up the user's drafts (off the GUI thread) and give them back."""
        self.restored, self.notice = [], ""
        just_left = self._last_kept if self._last_user == session.actor.user else set()
        drafts, actor = session.clinic.drafts, session.actor
        session.run(
            lambda: (drafts.pending(actor), drafts.now()),
            success=lambda found: self._found(session, window, just_left, *found),
            owner=window,
            label=_("Looking for unsaved forms…"),
        )

    def _found(
        self,
        session: ClinicSession,
        window: QMainWindow,
        just_left: set[str],
        found: list[Draft],
        now: datetime,
    ) -> None:
        at_once = [d for d in found if d.draft_id in just_left and not d.is_stale(now)]
        ask = [d for d in found if d not in at_once]
        if at_once:
            self.restore(session, window, at_once)
        if ask:
            self._ask(session, window, ask, now)

    def _ask(
        self, session: ClinicSession, window: QMainWindow, found: list[Draft], now: datetime
    ) -> None:
        lines = []
        for d in found:
            if d.is_stale(now):
                days = (now - d.saved()).days
                lines.append(
                    ngettext(
                        "• {form} (from {time} — {days} day old)",
                        "• {form} (from {time} — {days} days old)",
                        days,
                    ).format(form=d.title, time=_when(d), days=count(days))
                )
            else:
                lines.append(_("• {form} (from {time})").format(form=d.title, time=_when(d)))
        question = confirm.Question(
            ngettext(
                "You have {count} unsaved form from an earlier session.",
                "You have {count} unsaved forms from an earlier session.",
                len(found),
            ).format(count=count(len(found))),
            ((RESTORE, _("Restore")), (DISCARD, _("Discard")), (LATER, _("Not now"))),
            escape=LATER,
            detail=_(
                "{forms}\n\nNot now keeps them for your next sign-in; nobody else can see them."
            ).format(forms="\n".join(lines)),
        )

        def answered(answer: str) -> None:
            if answer == RESTORE:
                self.restore(session, window, found)
            elif answer == DISCARD:
                drafts, actor, ids = (
                    session.clinic.drafts,
                    session.actor,
                    [d.draft_id for d in found],
                )
                session.run(lambda: drafts.discard(actor, ids), label=_("Discarding drafts…"))

        confirm.ask(window, question, answered)

    def restore(self, session: ClinicSession, window: QMainWindow, found: Sequence[Draft]) -> None:
        """Reopen each draft's form with its values; chart forms after their chart loads."""
        by_patient: dict[str, list[Draft]] = {}
        for draft in found:
            patient_id = reopen.chart_patient(draft.form, draft.context)
            if patient_id is None:
                self._reopen(session, window, draft, None)
            else:
                by_patient.setdefault(patient_id, []).append(draft)
        queries, actor = session.clinic.queries, session.actor
        for patient_id, drafts in by_patient.items():
            session.run(
                lambda p=patient_id: queries.chart(p, actor),  # type: ignore[misc]
                success=lambda chart, ds=drafts: self._reopen_on(session, window, chart, ds),  # type: ignore[misc]
                owner=window,
                label=_("Reopening your unsaved forms…"),
            )

    def _reopen_on(
        self, session: ClinicSession, window: QMainWindow, chart: ChartView, found: list[Draft]
    ) -> None:
        for draft in found:
            self._reopen(session, window, draft, chart)

    def _reopen(
        self, session: ClinicSession, window: QMainWindow, draft: Draft, chart: ChartView | None
    ) -> None:
        try:
            form = reopen.build(session, draft.form, draft.context, window, chart)
        except (KeyError, TypeError, ValueError) as exc:  # a draft of an older FieldChart
            log.warning("draft of %s cannot be reopened: %s", draft.form, type(exc).__name__)
            return
        form.command_id = draft.draft_id  # a command already sent before the lock is recognised
        notice = _("Your unsaved changes to {form} were restored (from {time}).").format(
            form=draft.title, time=_when(draft)
        )
        form.restore_draft(draft.fields, notice)
        open_patient = getattr(window, "open_patient", None)
        if chart is not None and callable(open_patient):
            open_patient(chart.patient.patient_id)  # the chart behind the form, as before
        elif draft.form == "RegisterPatientDialog" and callable(open_patient):
            form.recorded.connect(lambda changes: open_patient(changes.patient_id))
        form.open()
        self.restored.append(form)
        self.notice = notice if len(self.restored) == 1 else _("Your unsaved forms were restored.")
        window.statusBar().showMessage(self.notice, 15_000)
