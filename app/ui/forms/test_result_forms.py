"""Record a point-of-care test result: pick the test (typing filters the bundled list), then
enter what it shows — a number in the test's unit, or a choice of its scale (negative /
positive / invalid, or a dipstick grade) — and the specimen and time. A urine strip's pads
are read in one form (DipstickDialog)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLineEdit

from app.domain.commands import Command, RecordTestResult, RecordUrineDipstick
from app.domain.poc_tests import DIPSTICK_PADS, RESULT_LABELS, PocTest
from app.domain.reference import fold
from app.i18n import N_, _
from app.ui.formatting import number
from app.ui.forms.chart_form import ChartFormDialog
from app.ui.forms.vocabulary import attach_completer

CHOOSE_TEST_FIRST = N_("— pick the test first —")
# The domain's specimens and urine-strip pads, as shown (marked here, translated at use).
SPECIMEN_TEXT = {
    "capillary blood": N_("Capillary blood"),
    "venous blood": N_("Venous blood"),
    "urine": N_("Urine"),
}
PAD_TEXT = {
    "protein": N_("Protein"),
    "glucose": N_("Glucose"),
    "leukocytes": N_("Leukocytes"),
    "nitrite": N_("Nitrite"),
    # Translators: a urine test strip's pad
    "blood": N_("Blood"),
    "ketones": N_("Ketones"),
}


def shown_name(table: dict[str, str], key: str) -> str:
    """`key` as `table` (a table of marked msgids) shows it, translated; else capitalised."""
    label = table.get(key)
    return _(label) if label else key.capitalize()


def result_label(word: str) -> str:
    """A result word in the current language (RESULT_LABELS holds the domain's English
    wording, extracted as msgids)."""
    label = RESULT_LABELS.get(word)
    return _(label) if label else word


def test_named(tests: list[PocTest], text: str) -> PocTest | None:
    """The bundled test whose name (or key, or LOINC code) is `text`, ignoring case."""
    wanted = fold(text)
    return next((t for t in tests if wanted in (fold(t.name), fold(t.key), t.loinc)), None)


class TestResultDialog(ChartFormDialog):
    __test__ = False  # a form, not a pytest class
    COMMAND = RecordTestResult
    TITLE = N_("Record test result")
    INTRO = N_("Point-of-care test: the result is flagged if it is abnormal.")

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        self.tests = sorted(self.session.catalog.poc_tests.values(), key=lambda t: t.name)
        self.test = self.add_field(
            "test", _("Test"), QLineEdit(self), _("Type part of the name and pick from the list")
        )
        attach_completer(self.test, [t.name for t in self.tests])
        self.value = self.add_field("value", _("Value"), QLineEdit(self))
        self.result_box = self.add_field("result", _("Result"), QComboBox(self))
        self.specimen = self.add_field("specimen", _("Specimen"), QComboBox(self))
        self.taken = self.add_time_field("taken_at", _("Taken"))
        self.encounter = self.add_encounter_field()
        self.note = self.add_field("note", _("Note"), QLineEdit(self))
        self.chosen: PocTest | None = None
        self.test.textChanged.connect(self._test_changed)
        self._test_changed(self.test.text())

    def _test_changed(self, text: str) -> None:
        """Show the input the picked test's result takes (a number or a choice)."""
        test = test_named(self.tests, text)
        if test is self.chosen and self.result_box.count():
            return
        self.chosen = test
        numeric = test is not None and test.result_type == "numeric"
        self.set_row_visible("value", numeric)
        self.set_row_visible("result", not numeric)
        self.result_box.clear()
        self.specimen.clear()
        if test is None:
            self.result_box.addItem(_(CHOOSE_TEST_FIRST), None)
            self.result_box.setEnabled(False)
            for name in ("capillary blood", "venous blood", "urine"):
                self.specimen.addItem(shown_name(SPECIMEN_TEXT, name), name)
            return
        self.result_box.setEnabled(True)
        if numeric:
            self.value.setPlaceholderText(
                _("{unit} (a device shows {low}–{high})").format(
                    unit=test.unit_label, low=number(test.minimum), high=number(test.maximum)
                )
            )
            # The unit stays in sight once a number is typed over the placeholder.
            self.rows["value"].label.setText(_("Value ({unit}):").format(unit=test.unit_label))
        else:
            self.result_box.addItem(_("— choose —"), None)
            for word in test.scale:
                self.result_box.addItem(result_label(word), word)
        for name in test.specimens:
            self.specimen.addItem(shown_name(SPECIMEN_TEXT, name), name)
        self.specimen.setCurrentIndex(max(0, self.specimen.findData(test.specimen)))

    def build_command(self) -> Command:
        test = self.chosen
        numeric = test is not None and test.result_type == "numeric"
        label = test.name if test is not None else _("Value")
        return RecordTestResult(
            command_id=self.command_id,
            patient_id=self.patient_id,
            test=self.text(self.test) or "",
            value=self.number(self.value, "value", label) if numeric else None,
            result=None if numeric else self.text(self.result_box),
            specimen=self.text(self.specimen),
            taken_at=self.taken.iso_or_none(),
            encounter_id=self.text(self.encounter),
            note=self.text(self.note),
        )


class DipstickDialog(ChartFormDialog):
    """A urine test strip read at once: one grade per pad (leave a pad "not read")."""

    COMMAND = RecordUrineDipstick
    TITLE = N_("Record urine dipstick")
    INTRO = N_("Pick the colour grade of each pad read; leave the others “not read”.")

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        tests = self.session.catalog.poc_tests
        self.pads: dict[str, QComboBox] = {}
        for field, key in DIPSTICK_PADS:
            test = tests.get(key)
            combo = QComboBox(self)
            combo.addItem(_("— not read —"), None)
            for word in test.scale if test is not None else ():
                combo.addItem(result_label(word), word)
            self.pads[field] = self.add_field(field, shown_name(PAD_TEXT, field), combo)
        self.taken = self.add_time_field("taken_at", _("Taken"))
        self.encounter = self.add_encounter_field()
        self.note = self.add_field("note", _("Note"), QLineEdit(self))

    def build_command(self) -> Command:
        grades = {field: self.text(combo) for field, combo in self.pads.items()}
        return RecordUrineDipstick(
            command_id=self.command_id,
            patient_id=self.patient_id,
            taken_at=self.taken.iso_or_none(),
            encounter_id=self.text(self.encounter),
            note=self.text(self.note),
            **grades,
        )
