"""The top of a chart: who the patient is, and an allergy banner nobody can miss."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.i18n import N_, _, ltr
from app.services.dto import ChartView
from app.ui.formatting import when

# English msgids, translated where shown.
SEX = {
    "female": N_("Female"),
    "male": N_("Male"),
    # Translators: a patient's sex
    "other": N_("Other"),
    "unknown": N_("Sex unknown"),
}


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
        self.allergies.setAccessibleName(_("Allergies"))
        outer.addWidget(self.allergies)
        # Merges (docs/front-desk/merge.md): replaced-by, records merged in, allergy conflicts.
        self.merge = QLabel(self)
        self.merge.setObjectName("asOfBanner")
        self.merge.setWordWrap(True)
        self.merge.setAccessibleName(_("Merged records"))
        self.merge.hide()
        outer.addWidget(self.merge)
        self.as_of = QLabel(self)
        self.as_of.setObjectName("asOfBanner")
        self.as_of.setWordWrap(True)
        self.as_of.hide()
        outer.addWidget(self.as_of)

    def show_chart(self, chart: ChartView) -> None:
        p = chart.patient
        # Translators: a patient's name in the chart header ("OKELLO, Grace")
        self.name.setText(_("{family}, {given}").format(family=p.family.upper(), given=p.given))
        sex = SEX.get(p.sex)
        facts = [
            # Translators: an age in years, short ("34 y")
            chart.age_label or _("{years} y").format(years=chart.age_years),
            _(sex) if sex else p.sex,  # a SEX msgid
            _("born {day}").format(day=ltr(p.birth_date)),
        ]
        if p.phone:
            facts.append(_("☎ {phone}").format(phone=ltr(p.phone)))
        # Lines break between facts, never inside one (a phone number stays whole).
        self.facts.setText(
            " &nbsp;·&nbsp; ".join(
                f"<span style='white-space:nowrap'>{escape(f)}</span>" for f in facts
            )
        )
        idents = [
            # Translators: an identifier's kind and value (rich text: keep the <b> tags)
            _("{system}: <b>{value}</b>").format(
                system=escape(i.get("system", "")), value=ltr(escape(i.get("value", "")))
            )
            for i in p.identifiers
        ]
        if p.address:
            idents.append(escape(p.address))
        separator = "&nbsp;&nbsp;·&nbsp;&nbsp;"
        self.identifiers.setText(separator.join(idents) if idents else _("No identifiers recorded"))
        self.identifiers.setTextFormat(Qt.TextFormat.RichText)
        if chart.allergy_banner:
            self.allergies.setObjectName("allergyBanner")
            self.allergies.setText(
                _("⚠  ALLERGIES:  {allergies}").format(allergies=",  ".join(chart.allergy_banner))
            )
        else:
            self.allergies.setObjectName("allergyBannerNone")
            self.allergies.setText(_("No allergies recorded"))
        self.allergies.style().unpolish(self.allergies)
        self.allergies.style().polish(self.allergies)
        self.merge.setText("\n".join(merge_lines(chart)))
        self.merge.setVisible(bool(merge_lines(chart)))
        if chart.as_of:
            self.as_of.setText(
                _(
                    "Showing the chart as it was on {time} — read only. "
                    "Untick “As of” to return to now."
                ).format(time=when(chart.as_of))
            )
            self.as_of.show()
        else:
            self.as_of.hide()
        self.setAccessibleName(
            _("Chart of {given} {family}").format(given=p.given, family=p.family)
        )


def merge_lines(chart: ChartView) -> list[str]:
    """What the header says about merges: this record replaced, records merged in, and where
    the merged records disagree about an allergy."""
    lines = []
    if chart.replaced_by:
        lines.append(
            _(
                "Replaced by record {record}: this record was merged into that chart "
                "(search finds that chart)."
            ).format(record=chart.replaced_by)
        )
    for merge in chart.merges:
        lines.append(
            _(
                "Merged here: {name}, born {day} — its items are marked “from the merged record”."
            ).format(name=merge.name, day=merge.birth_date)
        )
    lines += [_("⚠  {warning}").format(warning=warning) for warning in chart.merge_warnings]
    return lines
