"""The top of a chart: who the patient is, and an allergy banner nobody can miss."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.services.dto import ChartView
from app.ui.formatting import when

SEX = {"female": "Female", "male": "Male", "other": "Other", "unknown": "Sex unknown"}


class ChartHeaderWidget(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chartHeader")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(14, 10, 14, 10)
        outer.setSpacing(6)
        top = QHBoxLayout()
        self.name = QLabel(self)
        self.name.setObjectName("patientName")
        self.name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts = QLabel(self)
        self.facts.setObjectName("patientFacts")
        self.facts.setWordWrap(True)
        # age, sex, birth date, phone: wrap on a narrow chart
        self.facts.setTextFormat(Qt.TextFormat.RichText)
        self.facts.setMinimumWidth(120)
        top.addWidget(self.name)
        top.addSpacing(16)
        top.addWidget(self.facts, 1, Qt.AlignmentFlag.AlignBottom)
        outer.addLayout(top)
        self.identifiers = QLabel(self)
        self.identifiers.setObjectName("muted")
        self.identifiers.setWordWrap(True)
        self.identifiers.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        outer.addWidget(self.identifiers)
        self.allergies = QLabel(self)
        self.allergies.setWordWrap(True)
        self.allergies.setAccessibleName("Allergies")
        outer.addWidget(self.allergies)
        # Merges (docs/front-desk/merge.md): replaced-by, records merged in, allergy conflicts.
        self.merge = QLabel(self)
        self.merge.setObjectName("asOfBanner")
        self.merge.setWordWrap(True)
        self.merge.setAccessibleName("Merged records")
        self.merge.hide()
        outer.addWidget(self.merge)
        self.as_of = QLabel(self)
        self.as_of.setObjectName("asOfBanner")
        self.as_of.setWordWrap(True)
        self.as_of.hide()
        outer.addWidget(self.as_of)

    def show_chart(self, chart: ChartView) -> None:
        p = chart.patient
        self.name.setText(f"{p.family.upper()}, {p.given}")
        facts = [
            chart.age_label or f"{chart.age_years} y",
            SEX.get(p.sex, p.sex),
            f"born {p.birth_date}",
        ]
        if p.phone:
            facts.append(f"☎ {p.phone}")
        # Lines break between facts, never inside one (a phone number stays whole).
        self.facts.setText(
            " &nbsp;·&nbsp; ".join(
                f"<span style='white-space:nowrap'>{escape(f)}</span>" for f in facts
            )
        )
        idents = [
            f"{escape(i.get('system', ''))}: <b>{escape(i.get('value', ''))}</b>"
            for i in p.identifiers
        ]
        if p.address:
            idents.append(escape(p.address))
        separator = "&nbsp;&nbsp;·&nbsp;&nbsp;"
        self.identifiers.setText(separator.join(idents) if idents else "No identifiers recorded")
        self.identifiers.setTextFormat(Qt.TextFormat.RichText)
        if chart.allergy_banner:
            self.allergies.setObjectName("allergyBanner")
            self.allergies.setText("⚠  ALLERGIES:  " + ",  ".join(chart.allergy_banner))
        else:
            self.allergies.setObjectName("allergyBannerNone")
            self.allergies.setText("No allergies recorded")
        self.allergies.style().unpolish(self.allergies)
        self.allergies.style().polish(self.allergies)
        self.merge.setText("\n".join(merge_lines(chart)))
        self.merge.setVisible(bool(merge_lines(chart)))
        if chart.as_of:
            self.as_of.setText(
                f"Showing the chart as it was on {when(chart.as_of)} — read only. "
                "Untick “As of” to return to now."
            )
            self.as_of.show()
        else:
            self.as_of.hide()
        self.setAccessibleName(f"Chart of {p.given} {p.family}")


def merge_lines(chart: ChartView) -> list[str]:
    """What the header says about merges: this record replaced, records merged in, and where
    the merged records disagree about an allergy."""
    lines = []
    if chart.replaced_by:
        lines.append(
            f"Replaced by record {chart.replaced_by}: this record was merged into that chart "
            "(search finds that chart)."
        )
    for merge in chart.merges:
        lines.append(
            f"Merged here: {merge.name}, born {merge.birth_date} — its items are marked "
            "“from the merged record”."
        )
    lines += [f"⚠  {warning}" for warning in chart.merge_warnings]
    return lines
