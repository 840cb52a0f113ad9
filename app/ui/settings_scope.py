"""The sync scope in Settings (issue 14): the facility this device serves — its Organization
(and Locations, for the encounters recorded here), or a Group of its patients — or IT's
explicit choice to pull every patient on the server. Shown to everyone, changed by admins.

A device enrolled before scopes has none and still pulls everything: the summary says so.
Saving a changed scope is checked with the server first, as ``fieldchart enroll`` does (through
the backend's ``check_scope``; the UI never talks to the server itself).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QCheckBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from app.domain.errors import ValidationError
from app.domain.wording import t
from app.i18n import N_, _
from app.services.clinic import Clinic
from app.services.settings import DeviceSettings
from app.ui.widgets import hint_label

#: (clinic, the settings about to be saved) -> the pull strategy's description; raises a
#: DomainError naming the setting at fault (the server lacks what the scope names, cannot
#: honour it, or cannot be reached).
ScopeCheck = Callable[[Clinic, DeviceSettings], str]

# N_-marked: shown as `_(text)`.
NO_SCOPE = N_(
    "No scope: this device was enrolled before scopes and pulls every patient on the server. "
    "Name its Organization or a Group below."
)
NO_SERVER = N_("No server yet: name the facility this device serves when entering one.")
SCOPE_HINT = N_(
    "References as IT gives them (Organization/<id>; a bare id is accepted). Patients "
    "registered here are created under the Organization; encounters at the first Location."
)
# A refusal (a domain Text: rendered in the user's language where it is shown).
NAME_THE_FACILITY = t(
    "Name the facility this device serves (its Organization, or a Group of its patients), or "
    "choose 'Pull every patient on the server'"
)
#: The scope settings, in the order of the form.
SCOPE_FIELDS = ("scope_organization", "scope_locations", "scope_group", "pull_everything")


def summary(s: DeviceSettings) -> str:
    """One line for what the device pulls."""
    named = [r for r in (s.scope_organization, *s.scope_locations, s.scope_group) if r]
    # References (Organization/<id>) are codes: listed as they are.
    references = ", ".join(named)
    if s.pull_everything:
        if named:
            return _(
                "Every patient on the server (IT's choice). New records name {references}."
            ).format(references=references)
        return _("Every patient on the server (IT's choice).")
    if named:
        return _("This facility: {references}.").format(references=references)
    return _(NO_SCOPE) if s.sync_configured else _(NO_SERVER)


def scope_changed(old: DeviceSettings, changes: dict[str, Any]) -> bool:
    """Whether saving `changes` enrols anew or changes the scope (then it is checked)."""
    if not changes.get("server_url"):
        return False
    keys = ("server_url", *SCOPE_FIELDS)
    return any(k in changes and changes[k] != getattr(old, k) for k in keys)


def unscoped_enrolment(old: DeviceSettings, changes: dict[str, Any]) -> ValidationError | None:
    """The error for enrolling (a new server or a changed scope) without naming the facility
    or choosing to pull everything, as enroll refuses it; None when that is not the case."""
    if not scope_changed(old, changes):
        return None
    named = any(changes.get(k) for k in SCOPE_FIELDS)
    field = "scope_organization"  # a setting's name: not translated
    return None if named else ValidationError(NAME_THE_FACILITY, field)


#: Adds one labelled input with its error line to a form: (form, setting, label, widget).
AddField = Callable[[QFormLayout, str, str, QWidget], QWidget]


class ScopeForm(QWidget):
    """The scope's inputs; `add_field` (the Settings view's) files each with its error line
    under its setting's name, so errors stand where the setting is."""

    def __init__(self, add_field: AddField, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel(self)
        self.summary.setObjectName("scopeSummary")
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName(_("Sync scope"))
        column.addWidget(self.summary)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.organization = QLineEdit(self)
        self.organization.setPlaceholderText("Organization/<id>")  # i18n: ignore (a FHIR reference)
        self.locations = QLineEdit(self)
        self.locations.setPlaceholderText(_("Location/<id>, Location/<id>  (optional)"))
        self.group = QLineEdit(self)
        self.group.setPlaceholderText(_("Group/<id>  (instead of an Organization)"))
        self.pull_everything = QCheckBox(_("Pull every patient on the server"), self)
        self.pull_everything.setToolTip(
            _("IT's choice for a server that cannot pull one facility, or a single-clinic server")
        )
        # Translators: FHIR resource names (Organization, Location, Group) as IT names them
        add_field(self.form, "scope_organization", _("Organization"), self.organization)
        add_field(self.form, "scope_locations", _("Locations"), self.locations)
        add_field(self.form, "scope_group", _("Group"), self.group)
        # Translators: the setting that pulls every patient on the server
        add_field(self.form, "pull_everything", _("Everything"), self.pull_everything)
        column.addLayout(self.form)
        column.addWidget(hint_label(_(SCOPE_HINT), self))

    def load(self, s: DeviceSettings) -> None:
        self.summary.setText(summary(s))
        self.organization.setText(s.scope_organization or "")
        self.locations.setText(", ".join(s.scope_locations))
        self.group.setText(s.scope_group or "")
        self.pull_everything.setChecked(s.pull_everything)

    def changes(self) -> dict[str, Any]:
        locations = self.locations.text().replace(",", " ").split()
        return {
            "scope_organization": self.organization.text().strip() or None,
            "scope_locations": tuple(locations),
            "scope_group": self.group.text().strip() or None,
            "pull_everything": self.pull_everything.isChecked(),
        }
