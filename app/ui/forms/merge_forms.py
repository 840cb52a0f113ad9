"""Merge with another record… and Undo merge… (docs/front-desk/merge.md).

The merge form finds the other record by search, shows both records side by side (name, birth
date, phone, identifiers, counts of items, allergies) and needs an explicit "same person" tick:
a wrong merge shows one person's allergies on another's chart until someone undoes it.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QSizePolicy

from app.domain.commands import Command, MergePatients, UndoMerge
from app.domain.errors import DomainError, ValidationError
from app.i18n import N_, _, ngettext
from app.i18n.formatting import count
from app.services.dto import ChartView
from app.ui.forms.chart_form import ChartFormDialog

MIN_QUERY = 2


def _counts(chart: ChartView) -> str:
    vitals = sum(len(v) for v in chart.vitals_series.values())
    parts = [
        ngettext("{count} encounter", "{count} encounters", len(chart.encounters)),
        ngettext("{count} problem", "{count} problems", len(chart.problems)),
        ngettext("{count} medication", "{count} medications", len(chart.medications)),
        ngettext("{count} vital sign", "{count} vital signs", vitals),
        ngettext("{count} note", "{count} notes", len(chart.notes)),
    ]
    counts = (
        len(chart.encounters),
        len(chart.problems),
        len(chart.medications),
        vitals,
        len(chart.notes),
    )
    # Translators: joins the items of a list ("3 encounters, 2 problems")
    return _(", ").join(p.format(count=count(n)) for p, n in zip(parts, counts, strict=True))


def summary_rows(chart: ChartView) -> list[tuple[str, str]]:
    p = chart.patient
    return [
        (_("Name"), _("{family}, {given}").format(family=p.family, given=p.given)),
        (_("Birth date"), p.birth_date),
        (_("Phone"), p.phone or "—"),
        (
            _("Identifiers"),
            ", ".join(f"{i['system']}: {i['value']}" for i in p.identifiers) or "—",
        ),
        (_("Items"), _counts(chart)),
        (_("Allergies"), ", ".join(chart.allergy_banner) or _("none recorded")),
    ]


def side_by_side(this: ChartView, other: ChartView | None) -> str:
    """Both records as one HTML table, row by row."""
    theirs = dict(summary_rows(other)) if other is not None else {}
    rows = "".join(
        f"<tr><th align='left'>{escape(label)}</th><td>{escape(mine)}</td>"
        f"<td>{escape(theirs.get(label, ''))}</td></tr>"
        for label, mine in summary_rows(this)
    )
    return (
        "<table cellspacing='0' cellpadding='3'>"
        "<tr><th></th><th align='left'>"
        + escape(_("This chart (stays)"))
        + "</th><th align='left'>"
        + escape(_("Other record (merged in)"))
        + f"</th></tr>{rows}</table>"
    )


class MergeDialog(ChartFormDialog):
    COMMAND = MergePatients
    SAVE_LABEL = N_("Merge records")
    TITLE = N_("Merge with another record")
    INTRO = N_(
        "Make another record of this same person part of this chart. Its items stay on their "
        "own record and are shown here; the merge can be undone."
    )

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        self.other_chart: ChartView | None = None
        self.search = self.add_field("search", _("Find the other record"), QLineEdit(self))
        self.search.setPlaceholderText(_("Name, birth date, phone or identifier"))
        self.search.textChanged.connect(self._find)
        self.other = self.add_field("replaced_patient_id", _("Other record"), QComboBox(self))
        self.other.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.other.currentIndexChanged.connect(self._compare)
        self.comparison = QLabel(self)
        self.comparison.setTextFormat(Qt.TextFormat.RichText)
        self.comparison.setWordWrap(True)
        self.comparison.setAccessibleName(_("Both records side by side"))
        self.form.addRow(self.comparison)
        self.reason = self.add_reason_field()
        self.confirm = self.add_field(
            "confirm",
            _("Confirm"),
            QCheckBox(_("These two records are the same person"), self),
        )
        self._compare()

    def _find(self, text: str) -> None:
        self.other.clear()
        if len(text.strip()) < MIN_QUERY:
            return
        for p in self.session.clinic.queries.search_patients(text, limit=20):
            if p.patient_id != self.patient_id:
                self.other.addItem(
                    _("{family}, {given} — born {birth_date}").format(
                        family=p.family, given=p.given, birth_date=p.birth_date
                    ),
                    p.patient_id,
                )

    def _compare(self) -> None:
        chosen = self.other.currentData()
        self.other_chart = None
        if chosen:
            try:
                self.other_chart = self.session.clinic.queries.chart(
                    str(chosen), self.session.actor
                )
            except DomainError:
                self.other_chart = None
        self.comparison.setText(side_by_side(self.chart, self.other_chart))

    def build_command(self) -> Command:
        chosen = self.picked(self.other, "replaced_patient_id", _("Choose the other record"))
        if not self.confirm.isChecked():
            raise ValidationError(
                _("Tick this once you are sure both are the same person"), "confirm"
            )
        return MergePatients(
            command_id=self.command_id,
            patient_id=self.patient_id,
            replaced_patient_id=chosen,
            reason=self.text(self.reason) or "",
        )


class UndoMergeDialog(ChartFormDialog):
    COMMAND = UndoMerge
    SAVE_LABEL = N_("Undo merge")
    TITLE = N_("Undo merge")
    INTRO = N_("Separate a merged record again: each record keeps exactly its own items.")

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        combo = QComboBox(self)
        for merge in self.chart.merges:
            combo.addItem(
                _("{name} — born {birth_date}").format(
                    name=merge.name, birth_date=merge.birth_date
                ),
                merge.merge_id,
            )
        self.merge = self.add_field("merge_id", _("Merged record"), combo)
        self.reason = self.add_reason_field()

    def build_command(self) -> Command:
        return UndoMerge(
            command_id=self.command_id,
            patient_id=self.patient_id,
            merge_id=self.picked(self.merge, "merge_id", _("Choose the merged record")),
            reason=self.text(self.reason) or "",
        )
