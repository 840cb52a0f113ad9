"""Refer a patient (facility, reason, urgency, the chart items the clinical summary is made of,
a note) and cancel a referral.

The summary is chosen by ticking chart items: active problems, allergies and medications and
the last vitals start ticked (what a receiving clinician needs first), recent test results
start unticked. The command carries only the ticked ids; the domain copies their text into the
referral, so the summary stays what was sent.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.domain.commands import URGENCIES, CancelReferral, Command, ReferPatient
from app.i18n import N_, _
from app.services.dto import ItemView
from app.ui.chart_text import describe
from app.ui.formatting import number, when
from app.ui.forms.chart_form import ChartFormDialog, choices
from app.ui.referral_text import OPEN_STATUSES, describe_referral, urgency_text

RECENT_RESULTS = 5  # test results offered for the summary, newest first


class SummaryChecklist(QWidget):
    """A checkbox per chart item that may go into the summary, grouped under headings."""

    def __init__(self, groups: list[tuple[str, list[tuple[ItemView, str, bool]]]], parent: QWidget):
        super().__init__(parent)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        self.boxes: dict[str, QCheckBox] = {}
        for heading, entries in groups:
            if not entries:
                continue
            title = QLabel(heading, self)
            title.setObjectName("hint")
            column.addWidget(title)
            for item, text, ticked in entries:
                # Long lines (a full set of vitals) are cut on screen, never in the summary.
                box = QCheckBox(text if len(text) <= 64 else text[:63] + "…", self)
                box.setToolTip(text)
                box.setChecked(ticked)
                box.setAccessibleName(_("{heading}: {item}").format(heading=heading, item=text))
                column.addWidget(box)
                self.boxes[item.item_id] = box
        if not self.boxes:
            column.addWidget(QLabel(_("Nothing on the chart to summarise yet."), self))

    def chosen(self) -> tuple[str, ...]:
        return tuple(item_id for item_id, box in self.boxes.items() if box.isChecked())


class ReferPatientDialog(ChartFormDialog):
    COMMAND = ReferPatient
    SAVE_LABEL = N_("Refer")
    TITLE = N_("Refer patient")
    INTRO = N_(
        "The ticked chart items are copied into the referral as they read now. "
        "The printable referral letter comes with the front-desk reports."
    )

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        self.setMinimumWidth(720)  # the summary's lines and the facility names are long
        self.facility = self.add_field(
            "to_facility", _("Receiving facility"), _facility_combo(self, self._known_facilities())
        )
        self.reason = self.add_field("reason", _("Reason for referral"), QLineEdit(self))
        self.urgency = self.add_field(
            "urgency", _("Urgency"), choices(self, [(urgency_text(u), u) for u in URGENCIES])
        )
        self.summary = self.add_field(
            "summary_item_ids", _("Clinical summary"), SummaryChecklist(self._groups(), self)
        )
        self.note = self.add_field("note", _("Note"), QPlainTextEdit(self))
        self.note.setTabChangesFocus(True)
        self.note.setFixedHeight(70)
        self.encounter = self.add_encounter_field()

    def _known_facilities(self) -> list[str]:
        """Facilities this patient was referred to before, newest first."""
        seen: dict[str, None] = {}
        for item in sorted(self.chart.referrals, key=lambda i: i.clinical_time, reverse=True):
            name = item.data.get("to_facility")
            if isinstance(name, str) and name:
                seen.setdefault(name)
        return list(seen)

    def _groups(self) -> list[tuple[str, list[tuple[ItemView, str, bool]]]]:
        chart = self.chart
        vitals = [chart.last_vitals] if chart.last_vitals is not None else []
        results = sorted(
            getattr(chart, "test_results", []), key=lambda i: i.clinical_time, reverse=True
        )[:RECENT_RESULTS]
        return [
            (_("Active problems"), [(i, describe(i), True) for i in chart.problems]),
            (_("Allergies"), [(i, describe(i), True) for i in chart.allergies]),
            (_("Active medications"), [(i, describe(i), True) for i in chart.medications]),
            (
                _("Last vitals"),
                [
                    (
                        i,
                        _("{vitals} ({time})").format(
                            vitals=describe(i), time=when(i.clinical_time)
                        ),
                        True,
                    )
                    for i in vitals
                ],
            ),
            (_("Recent test results"), [(i, _result_text(i), False) for i in results]),
        ]

    def build_command(self) -> Command:
        return ReferPatient(
            command_id=self.command_id,
            patient_id=self.patient_id,
            to_facility=self.text(self.facility) or "",
            reason=self.text(self.reason) or "",
            urgency=str(self.urgency.currentData()),
            summary_item_ids=self.summary.chosen(),
            note=self.text(self.note),
            encounter_id=self.encounter.currentData() or None,
        )


def _facility_combo(parent: QWidget, known: list[str]) -> QComboBox:
    """Typed freely, or one of the facilities used before (offered as completions)."""
    combo = QComboBox(parent)
    combo.setEditable(True)
    combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    combo.addItems(known)
    combo.setCurrentIndex(-1)
    combo.setEditText("")
    line = combo.lineEdit()
    if line is not None:
        line.setPlaceholderText(_("e.g. District Hospital, medical outpatients"))
    return combo


def _result_text(item: ItemView) -> str:
    d = item.data
    value = d.get("value")
    shown = (
        f"{number(value)} {d.get('unit_label') or ''}".strip()
        if isinstance(value, float)
        else d.get("result")
    )
    name = d.get("name") or d.get("test")
    time = when(item.clinical_time)
    if d.get("abnormal"):
        return _("{test}: {result} (abnormal), {time}").format(
            test=name, result=shown or "—", time=time
        )
    return _("{test}: {result}, {time}").format(test=name, result=shown or "—", time=time)


class CancelReferralDialog(ChartFormDialog):
    """The status the clinician saw travels with the cancel, so a referral the receiving
    facility completed meanwhile is not revoked behind its back."""

    COMMAND = CancelReferral
    SAVE_LABEL = N_("Cancel referral")
    TITLE = N_("Cancel referral")

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        self.open_ones = [r for r in self.chart.referrals if r.status in OPEN_STATUSES]
        combo = QComboBox(self)
        for item in self.open_ones:
            combo.addItem(describe_referral(item), item.item_id)
        combo.setCurrentIndex(max(combo.findData(selected) if selected else -1, 0))
        self.referral = self.add_field("referral_id", _("Referral"), combo)
        self.reason = self.add_reason_field()

    def build_command(self) -> Command:
        chosen = self.picked(self.referral, "referral_id", _("Choose the referral"))
        seen = next((r.status for r in self.open_ones if r.item_id == chosen), None)
        return CancelReferral(
            command_id=self.command_id,
            patient_id=self.patient_id,
            referral_id=chosen,
            reason=self.text(self.reason) or "",
            expected_status=seen,
        )
