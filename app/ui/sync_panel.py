"""The sync panel: state, progress, last success, next retry, pending count, and the
"needs attention" list with both values and the ways to resolve each item."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.i18n import N_, _, ngettext
from app.i18n.formatting import count
from app.services.dto import Changes, SyncOverview
from app.services.sync_status import AttentionItem, Resolution, SyncState, SyncStatus
from app.ui.formatting import when
from app.ui.permissions import gate
from app.ui.session import ClinicSession
from app.ui.tables import read_only_table
from app.ui.widgets import hint_label, make_primary, title_label

# The texts here are N_-marked: shown as `_(text)`.
STATES = {
    SyncState.NOT_CONFIGURED: (N_("Not configured"), "#5b6b7c"),
    SyncState.IDLE: (N_("Up to date"), "#2e7d32"),
    SyncState.SYNCING: (N_("Syncing…"), "#2f6fb0"),
    SyncState.OFFLINE: (N_("Offline"), "#b26a00"),
    SyncState.ERROR: (N_("Needs IT"), "#c62828"),
}
COLUMNS = (
    # Translators: the column naming the change that needs attention
    N_("Change"),
    N_("Field"),
    # Translators: this device's version of a value (beside "Server's")
    N_("Mine"),
    # Translators: the server's version of a value (beside "Mine")
    N_("Server's"),
    N_("Why"),
)
EXPLAIN = {
    SyncState.NOT_CONFIGURED: N_(
        "This device works offline: everything is kept here, encrypted, "
        "and waits to be sent. An admin can enrol a FHIR server in Settings."
    ),
    SyncState.OFFLINE: N_(
        "The server cannot be reached. Nothing is lost: changes wait here and "
        "are sent when the connection is back."
    ),
    SyncState.ERROR: N_(
        "Sync stopped and needs IT: check the server address and credentials in Settings."
    ),
}
NOT_CONFIGURED_TIP = N_("No server is enrolled; an admin can enrol one in Settings.")


# An OFFLINE device that did reach the server: saying "Offline" would send IT looking at the
# network for nothing.
WAITING = {
    "rate-limited": (
        # Translators: the sync state while the server asks this device to wait
        N_("Waiting — the server asked us to wait"),
        N_(
            "The server asked this device to wait (too many requests). Nothing is lost: changes "
            "wait here and are sent when it accepts them again; Sync now tries at once."
        ),
    ),
    "busy": (
        # Translators: the sync state while another sync of this vault runs
        N_("Waiting"),
        N_(
            "Another sync of this vault is running (a `fieldchart sync` on this computer); this "
            "device tries again after it."
        ),
    ),
}


def describe_state(status: SyncStatus) -> str:
    """The sync state in a line, in the current language."""
    label = _(STATES[status.state][0])
    if status.state is SyncState.OFFLINE and status.waiting_for in WAITING:
        label = _(WAITING[status.waiting_for][0])
    if status.state is SyncState.OFFLINE and status.next_attempt_at:
        # Translators: {state} is "Offline" or "Waiting…"; {time} a day and time
        return _("{state} — retrying at {time}").format(
            state=label, time=when(status.next_attempt_at)
        )
    if status.state is SyncState.ERROR and status.last_error:
        # Translators: {state} is "Needs IT"; {error} says what went wrong
        return _("{state}: {error}").format(state=label, error=status.last_error)
    if status.state is SyncState.IDLE and status.needs_attention:
        # Everything else went through, but some changes wait for a person: "Up to date"
        # alone would tell the clinic nothing is left to do.
        n = status.needs_attention
        return ngettext(
            "Synced; {count} change needs a decision",
            "Synced; {count} changes need a decision",
            n,
        ).format(count=n)
    return label


# N_-marked: shown as `_(hint)`.
HELD_BUTTON_HINTS = (
    N_("Keep this device's version and send it back to the server at the next sync"),
    N_("Take the server's version: the chart changes as the server says"),
)


def describe_item(item: AttentionItem) -> str:
    """Both versions of an attention item in full, for the line under the list."""
    mine, servers = item.mine or "—", item.servers or "—"
    if item.kind == "conflict":
        return _("Mine: {mine}\nServer's: {servers}\n{why}").format(
            mine=mine, servers=servers, why=item.message
        )
    change = (
        # Translators: a change and the field it is about ("UpdateDemographics (phone)")
        _("{change} ({field})").format(change=item.command_type, field=item.field)
        if item.field
        else item.command_type
    )
    return _(
        "{change}\nOurs (shown in the chart now): {mine}\nThe server's: {servers}\n{why}"
    ).format(change=change, mine=mine, servers=servers, why=item.message)


class EditValueDialog(QDialog):
    """Resolve an attention item with a value typed by the user."""

    def __init__(self, item: AttentionItem, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Edit the value to keep"))
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        form = QFormLayout(self)
        form.addRow(_("Mine:"), QLabel(item.mine or "—", self))
        form.addRow(_("Server's:"), QLabel(item.servers or "—", self))
        self.value = QLineEdit(item.mine or "", self)
        self.value.setAccessibleName(_("Value to keep"))
        # Translators: the value to keep (a caption)
        form.addRow(_("Keep:"), self.value)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class SyncPanelView(QWidget):
    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.bridge = session.sync
        self.overview: SyncOverview | None = None
        self.attention: list[AttentionItem] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        top = QHBoxLayout()
        top.addWidget(title_label(_("Sync"), self))
        top.addStretch(1)
        self.sync_button = QPushButton(_("Sync now"), self)
        make_primary(self.sync_button)
        self.sync_button.clicked.connect(self.sync_now)
        top.addWidget(self.sync_button)
        layout.addLayout(top)
        layout.addWidget(self._build_status())
        layout.addWidget(self._build_attention(), 1)
        self.bridge.status_changed.connect(self.show_status)
        session.changed.connect(self._on_changed)
        self.show_status(self.bridge.status)

    def _build_status(self) -> QGroupBox:
        # Translators: the sync panel's box showing the state of sync
        box = QGroupBox(_("Status"), self)
        grid = QGridLayout(box)
        grid.setHorizontalSpacing(18)
        self.state = QLabel(box)
        self.state.setObjectName("syncState")
        self.state.setAccessibleName(_("Sync state"))
        self.state.setWordWrap(True)
        grid.addWidget(self.state, 0, 0, 1, 4)
        self.explanation = hint_label("", box)
        grid.addWidget(self.explanation, 5, 0, 1, 4)
        self.progress = QProgressBar(box)
        self.progress.setAccessibleName(_("Sync progress"))
        grid.addWidget(self.progress, 1, 0, 1, 4)
        # The counts and the time left in words, for a screen reader as much as for the eye.
        self.progress_text = QLabel(box)
        self.progress_text.setObjectName("syncProgressText")
        self.progress_text.setAccessibleName(_("Sync progress details"))
        grid.addWidget(self.progress_text, 6, 0, 1, 4)
        self.values: dict[str, QLabel] = {}
        for n, (key, label) in enumerate(
            (
                ("server", _("Server")),
                ("last", _("Last successful sync")),
                ("next", _("Next attempt")),
                ("pending", _("Waiting to be sent")),
                ("attention", _("Needs attention")),
                ("synced", _("Sent and confirmed")),
            )
        ):
            # Translators: a caption before its value ("Server: https://…")
            caption = QLabel(_("{label}:").format(label=label), box)
            caption.setObjectName("muted")
            value = QLabel("—", box)
            value.setAccessibleName(label)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.values[key] = value
            grid.addWidget(caption, 2 + n // 2, (n % 2) * 2)
            grid.addWidget(value, 2 + n // 2, (n % 2) * 2 + 1)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        return box

    def _build_attention(self) -> QGroupBox:
        box = QGroupBox(_("Needs attention"), self)
        column = QVBoxLayout(box)
        column.addWidget(
            hint_label(
                _(
                    "Changes the server could not take as they are, because someone changed the "
                    "same thing elsewhere, and changes from the server that would change who a "
                    "patient is or move an item to another patient's chart (held until someone "
                    "decides). Both values are shown; the one not kept stays in the history."
                ),
                box,
            )
        )
        self.table = read_only_table(
            box,
            [_(title) for title in COLUMNS],
            _("Items that need attention"),
            stretch=4,
            single=True,
            stripes=False,
        )
        self.table.itemSelectionChanged.connect(self._update_buttons)
        column.addWidget(self.table, 1)
        # The selected item's two versions in full: who a patient is does not fit a cell.
        self.details = QLabel(box)
        self.details.setObjectName("attentionDetails")
        self.details.setAccessibleName(_("Both versions of the selected item"))
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.PlainText)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(self.details)
        row = QHBoxLayout()
        self.keep_button = QPushButton(_("Keep mine"), box)
        self.take_button = QPushButton(_("Take the server's"), box)
        self.edit_button = QPushButton(_("Edit…"), box)
        self.keep_button.clicked.connect(lambda: self.resolve(Resolution.KEEP_MINE))
        self.take_button.clicked.connect(lambda: self.resolve(Resolution.TAKE_SERVERS))
        self.edit_button.clicked.connect(self._edit)
        for button in (self.keep_button, self.take_button, self.edit_button):
            row.addWidget(button)
        row.addStretch(1)
        column.addLayout(row)
        return box

    # -- status ----------------------------------------------------------------------------

    def show_status(self, status: SyncStatus) -> None:
        colour = STATES[status.state][1]
        if status.state is SyncState.IDLE and status.needs_attention:
            colour = STATES[SyncState.OFFLINE][1]  # amber: something waits for a person
        self.state.setText(describe_state(status))
        self.state.setStyleSheet(f"color: {colour};")
        progress = status.progress
        syncing = status.state is SyncState.SYNCING
        self.progress.setVisible(syncing)
        if progress is not None and progress.total:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(min(progress.done, progress.total))
            self.progress.setFormat(progress.text())
        else:
            self.progress.setRange(0, 0)  # busy
        self.progress_text.setText(progress.text() if progress is not None else "")
        self.progress_text.setVisible(syncing and progress is not None)
        configured = status.state is not SyncState.NOT_CONFIGURED
        explained = _(EXPLAIN[status.state]) if status.state in EXPLAIN else ""
        if status.state is SyncState.OFFLINE and status.waiting_for in WAITING:
            explained = _(WAITING[status.waiting_for][1])
        self.explanation.setText(explained)
        self.explanation.setVisible(status.state in EXPLAIN)
        self.values["server"].setText(status.server_url or _("not enrolled"))
        self.values["last"].setText(
            when(status.last_success_at) if status.last_success_at else _("never")
        )
        self.values["next"].setText(when(status.next_attempt_at) if status.next_attempt_at else "—")
        self._show_counts(status)
        gate(
            self.sync_button,
            None if configured else _(NOT_CONFIGURED_TIP),
            _("Send and receive changes now ({keys})").format(keys="Ctrl+Shift+S"),
        )
        if status.state is SyncState.SYNCING:
            gate(self.sync_button, _("A sync is running."))
        self.attention = list(status.attention)
        self._fill_attention()
        if not configured:
            self.refresh_overview()

    def _show_counts(self, status: SyncStatus) -> None:
        local = self.overview
        use_local = status.state is SyncState.NOT_CONFIGURED and local is not None
        pending = local.pending if use_local and local else status.pending
        attention = local.needs_attention if use_local and local else status.needs_attention
        self.values["pending"].setText(count(pending))
        self.values["attention"].setText(count(attention))
        self.values["synced"].setText(count(local.synced) if local else "—")

    def refresh_overview(self) -> None:
        queries = self.session.clinic.queries
        self.session.run(
            queries.sync_overview, success=self._overview, owner=self, label=_("Counting changes…")
        )

    def _overview(self, overview: SyncOverview) -> None:
        self.overview = overview
        self._show_counts(self.bridge.status)

    def _on_changed(self, changes: Changes) -> None:
        if self.isVisible():  # otherwise counted again when the page is shown
            self.refresh_overview()

    # -- attention -------------------------------------------------------------------------

    def _fill_attention(self) -> None:
        self.table.setRowCount(len(self.attention))
        for r, item in enumerate(self.attention):
            for col, value in enumerate(
                (
                    item.command_type,
                    item.field or "",
                    item.mine or "—",
                    item.servers or "—",
                    item.message,
                )
            ):
                self.table.setItem(r, col, QTableWidgetItem(value))
        self._update_buttons()

    def selected_item(self) -> AttentionItem | None:
        row = self.table.currentRow()
        has = self.table.selectedItems() and 0 <= row < len(self.attention)
        return self.attention[row] if has else None

    def _update_buttons(self) -> None:
        item = self.selected_item()
        reason = None if item else _("Select an item first.")
        for button in (self.keep_button, self.take_button, self.edit_button):
            gate(button, reason)
        if item is not None and item.kind != "conflict":
            # A server change is accepted or refused whole: there is no value to type.
            gate(self.edit_button, _("A change made on the server is accepted or refused whole."))
        self.details.setText(describe_item(item) if item else "")
        self.details.setVisible(item is not None)

    def resolve(self, resolution: Resolution, value: str | None = None) -> None:
        item = self.selected_item()
        if item is not None:
            self.bridge.resolve(item.command_id, resolution, value, owner=self)

    def _edit(self) -> None:
        item = self.selected_item()
        if item is None:
            return
        dialog = EditValueDialog(item, self)
        dialog.accepted.connect(lambda: self.resolve(Resolution.EDIT, dialog.value.text()))
        dialog.open()

    def sync_now(self) -> None:
        if self.sync_button.isEnabled():
            self.bridge.sync_now(owner=self)
