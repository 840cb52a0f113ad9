"""Every screen is usable on the screens clinics have: 1024×768, 1280×720 and 1366×768 at
150 % scaling (910×512 logical). Checked by geometry, not by pictures: no control outside the
window or cut by its parent (or else reachable in a scroll area), no label whose text does not
fit, clinical values whole, wrapped error messages whole, every drop-down option in its popup.

One test runs in a child process on an offscreen 1366×768 screen with QT_SCALE_FACTOR=1.5,
so the screen, not just the window, is 910×512 logical there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QListWidget,
    QPushButton,
    QStyleOptionViewItem,
    QTableView,
    QToolButton,
)
from pytestqt.qtbot import QtBot

from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.chart.view import TABS
from app.ui.forms.base import CommandFormDialog
from app.ui.help_dialog import ShortcutsDialog
from app.ui.main_window import PAGES, MainView
from tests.ui.conftest import ADMIN, ADMIN_PASS, CLINICIAN, CLINICIAN_PASS, open_as
from tests.ui.demo import book_day, record_demo_clinic
from tests.ui.helpers import TIMEOUT, fill, submit_refused
from tests.ui.layout_checks import (
    clipped_labels,
    combo_problems,
    hidden_part,
    in_view,
    label_clipped,
    off_screen,
    out_of_reach,
    overlapping,
)

SIZES = {"1024x768": (1024, 768), "1280x720": (1280, 720), "1366x768-at-150pct": (910, 512)}
SCHEDULE_BUTTONS = ("Book follow-up…", "Move…", "Cancel…", "Attended", "No-show", "Open chart")
CHILD = "FIELDCHART_SCREEN_AT_150"


@dataclass
class Clinic:
    window: MainView
    patient_id: str


def _open_demo(qtbot: QtBot, controller: AppController, backend: Backend) -> Clinic:
    clinic = backend.unlock(CLINICIAN, CLINICIAN_PASS)
    patient_id = record_demo_clinic(clinic, CLINICIAN)
    others = [
        p.patient_id for p in clinic.queries.search_patients("") if p.patient_id != patient_id
    ]
    book_day(clinic, CLINICIAN, others)
    clinic.close()
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    return Clinic(window, patient_id)


def _shown_at(
    qtbot: QtBot, controller: AppController, backend: Backend, size: tuple[int, int]
) -> Clinic:
    """The demo clinic open, its window resized to `size` and shown."""
    demo = _open_demo(qtbot, controller, backend)
    demo.window.resize(*size)
    demo.window.show()
    return demo


def _open_chart(qtbot: QtBot, demo: Clinic) -> None:
    window = demo.window
    window.open_patient(demo.patient_id)
    qtbot.waitUntil(lambda: window.chart.current is not None, timeout=TIMEOUT)
    qtbot.wait(50)


def _settle(qtbot: QtBot) -> None:
    qtbot.wait(150)  # QListView lays out wrapped items 100 ms after a resize
    QApplication.processEvents()


def _assert_fits(widget: object) -> None:
    assert isinstance(widget, MainView | CommandFormDialog)
    problems = out_of_reach(widget) + clipped_labels(widget) + overlapping(widget)
    assert not problems, "\n".join(problems)


def _pages_fit(qtbot: QtBot, demo: Clinic) -> None:
    """Each page and chart tab: nothing cut off; the controls that matter in view."""
    window = demo.window
    _open_chart(qtbot, demo)
    for index in range(len(TABS)):
        window.chart.tabs.setCurrentIndex(index)
        _settle(qtbot)
        _assert_fits(window)
        for must in (window.chart.as_of_box, window.chart.tabs.tabBar()):
            assert in_view(must), hidden_part(must, scrolled=False)
    # Tabs that do not fit are reached by arrows a person can see (they were blank boxes).
    bar = window.chart.tabs.tabBar()
    window.chart.tabs.setCurrentIndex(0)
    _settle(qtbot)
    if bar.tabRect(bar.count() - 1).right() > bar.width():
        arrows = [b for b in bar.findChildren(QToolButton) if b.isVisible()]
        assert len(arrows) == 2 and all(a.width() >= 16 for a in arrows), bar.width()
        for arrow in arrows:  # each shows its chevron, not a blank box
            image = arrow.grab().toImage()
            dark = sum(
                1
                for x in range(image.width())
                for y in range(image.height())
                if image.pixelColor(x, y).lightness() < 120
            )
            assert dark >= 6, f"the tab bar's {arrow.arrowType().name} arrow is blank"
    window.chart.as_of_box.setChecked(True)  # the date and time appear beside it
    _settle(qtbot)
    assert in_view(window.chart.as_of_edit), hidden_part(window.chart.as_of_edit, scrolled=False)
    _assert_fits(window)
    window.chart.as_of_box.setChecked(False)
    qtbot.waitUntil(lambda: window.chart.current is not None, timeout=TIMEOUT)
    strip = window.chart.toolbar
    assert in_view(strip.more_button)
    hidden = [b.defaultAction() for b in strip.buttons if not b.isVisible()]
    # the actions that do not fit lead the More menu, in order
    assert strip.menu.actions()[: len(hidden)] == hidden
    lock = next(b for b in window.findChildren(QPushButton) if b.text().strip() == "Lock")
    for shown in (lock, window.statusBar(), window.chart.header.allergies):
        assert in_view(shown), hidden_part(shown, scrolled=False)
    for page in range(1, 4):  # schedule, sync, settings (a clinician's pages)
        window.show_page(page)
        if page == 1:
            qtbot.waitUntil(lambda: window.schedule.loads_done > 0, timeout=TIMEOUT)
        _settle(qtbot)
        _assert_fits(window)
    window.show_page(1)
    _settle(qtbot)
    buttons = {b.text(): b for b in window.schedule.findChildren(QPushButton)}
    for text in SCHEDULE_BUTTONS:
        assert in_view(buttons[text]), hidden_part(buttons[text], scrolled=False)


@pytest.mark.parametrize("size_name", list(SIZES))
def test_every_page_fits_the_window(
    qtbot: QtBot, controller: AppController, seeded: Backend, size_name: str
) -> None:
    demo = _shown_at(qtbot, controller, seeded, SIZES[size_name])
    window = demo.window
    _settle(qtbot)
    assert window.size().toTuple() == SIZES[size_name]  # the minimum size is not larger
    _pages_fit(qtbot, demo)


def test_minimum_size_fits_1366x768_at_150_percent(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    demo = _open_demo(qtbot, controller, seeded)
    window = demo.window
    logical = SIZES["1366x768-at-150pct"]
    minimum = window.minimumSize()
    # room for a title bar and a task bar besides the window
    assert minimum.width() <= logical[0] - 40 and minimum.height() <= logical[1] - 60
    window.resize(minimum)
    window.show()
    _settle(qtbot)
    _open_chart(qtbot, demo)
    for page in range(len(PAGES) - 2):
        window.show_page(page)
        _settle(qtbot)
        assert not out_of_reach(window), out_of_reach(window)


def _vital_values(window: MainView) -> list[str]:
    return ["132/84 mmHg", "74 /min", "37 °C", "98 %", "79.6 kg", "162 cm"]


def _item_whole(listing: QListWidget, row: int) -> str | None:
    """The entry's text fits its row at the row's width (wrapped, not elided)."""
    item = listing.item(row)
    index = listing.indexFromItem(item)
    rect = listing.visualItemRect(item)
    option = QStyleOptionViewItem()
    listing.initViewItemOption(option)
    option.rect = rect
    needed = listing.itemDelegate().sizeHint(option, index)
    if needed.height() > rect.height() + 1:
        return f"{item.text()!r} needs {needed.height()} px, its row has {rect.height()}"
    return None


@pytest.mark.parametrize("size_name", list(SIZES))
def test_summary_shows_clinical_values_whole(
    qtbot: QtBot, controller: AppController, seeded: Backend, size_name: str
) -> None:
    demo = _shown_at(qtbot, controller, seeded, SIZES[size_name])
    window = demo.window
    _open_chart(qtbot, demo)
    window.chart.tabs.setCurrentIndex(0)
    _settle(qtbot)
    summary = window.chart.summary
    vitals = summary.vitals
    for value in _vital_values(window):
        assert value in vitals.text()
    assert label_clipped(vitals) is None
    assert vitals.width() >= vitals.sizeHint().width()  # as wide as its widest value
    assert hidden_part(vitals) is None  # in the summary (scrolls if the tab is short)
    for key in ("allergies", "medications", "problems"):
        listing = summary.lists[key]
        assert listing.textElideMode() == Qt.TextElideMode.ElideNone
        viewport = listing.viewport().rect()
        for row in range(listing.count()):
            assert _item_whole(listing, row) is None
            # a short list shows every entry without scrolling
            rect = listing.visualItemRect(listing.item(row))
            assert viewport.contains(rect), (key, listing.item(row).text(), rect, viewport)
    doses = [summary.lists["medications"].item(r).text() for r in range(2)]
    assert any("5 mg" in d for d in doses) and any("500 mg" in d for d in doses)


def _cells_whole(table: QTableView, column: int) -> None:
    """Every cell of `column` wraps to its width and its row is tall enough (no eliding)."""
    model = table.model()
    assert table.textElideMode() == Qt.TextElideMode.ElideNone and table.wordWrap()
    metrics = QFontMetrics(table.font())
    for row in range(model.rowCount()):
        index = model.index(row, column)
        text, rect = str(model.data(index)), table.visualRect(index)
        option = QStyleOptionViewItem()
        table.initViewItemOption(option)
        option.rect = rect
        option.font = table.font()
        needed = table.itemDelegate().sizeHint(option, index)  # wrapped at this width
        assert needed.height() <= rect.height() + 1, (text, needed.height(), rect.height())
        assert max(metrics.horizontalAdvance(w) for w in text.split()) <= rect.width(), text


def test_timeline_and_encounters_are_whole(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    """At 910×512 timeline entries (drug and dose, allergy, vitals) and encounter reasons
    wrap; they are not elided."""
    demo = _shown_at(qtbot, controller, seeded, SIZES["1366x768-at-150pct"])
    window = demo.window
    _open_chart(qtbot, demo)
    for tab, table, column in (
        (1, window.chart.timeline, 1),
        (4, window.chart.encounters.table, 2),
    ):
        window.chart.tabs.setCurrentIndex(tab)
        _settle(qtbot)
        assert table.model().rowCount() > 0
        _cells_whole(table, column)


def _wrapped_errors(qtbot: QtBot, window: MainView) -> None:
    """The allergy clash and the vitals range error, each shown whole in its dialog."""
    chart = window.chart
    for key, values, field, words in (
        ("prescribe", {"drug": "amoxicillin", "dose": 500}, "override_reason", "Penicillins"),
        ("vitals", {"systolic": 400}, "systolic", "plausible range"),
    ):
        chart.chart_actions.open(key)
        form = chart.chart_actions.last_form
        assert isinstance(form, CommandFormDialog)
        qtbot.waitUntil(form.isVisible, timeout=TIMEOUT)
        fill(form, **values)
        assert words in submit_refused(qtbot, form)[field]
        error = form.rows[field].error
        qtbot.waitUntil(lambda e=error: in_view(e), timeout=TIMEOUT)  # type: ignore[misc]
        _settle(qtbot)
        assert error.wordWrap() and error.height() >= error.heightForWidth(error.width())
        assert in_view(error), hidden_part(error, scrolled=False)
        _assert_fits(form)
        assert off_screen(form) is None, off_screen(form)
        form.close()
        _settle(qtbot)


def test_wrapped_error_messages_are_shown_whole(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    demo = _shown_at(qtbot, controller, seeded, SIZES["1024x768"])
    _open_chart(qtbot, demo)
    _wrapped_errors(qtbot, demo.window)


def test_settings_error_is_brought_into_view_without_resizing_the_window(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    window = open_as(controller, qtbot, ADMIN, ADMIN_PASS)
    window.resize(*SIZES["1366x768-at-150pct"])
    window.show()
    window.show_page(3)
    settings = window.settings
    qtbot.waitUntil(lambda: settings.current is not None, timeout=TIMEOUT)
    settings.server.setText("ftp://nope")
    settings.save()
    error = settings.errors["server_url"]
    qtbot.waitUntil(lambda: in_view(error), timeout=TIMEOUT)
    _settle(qtbot)
    assert window.size().toTuple() == SIZES["1366x768-at-150pct"]
    assert label_clipped(error) is None


def test_drop_downs_show_every_option(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    demo = _open_demo(qtbot, controller, seeded)
    demo.window.show()
    _open_chart(qtbot, demo)
    chart = demo.window.chart
    seen: set[str] = set()
    for key in ("allergy", "prescribe", "diagnosis", "encounter"):
        chart.chart_actions.open(key)
        form = chart.chart_actions.last_form
        assert isinstance(form, CommandFormDialog)
        qtbot.waitUntil(form.isVisible, timeout=TIMEOUT)
        for combo in form.findChildren(QComboBox):
            if combo.isVisible() and combo.count() <= combo.maxVisibleItems():
                assert combo_problems(combo) is None, combo_problems(combo)
                seen.update(combo.itemText(i) for i in range(combo.count()))
        form.close()
        _settle(qtbot)
    assert {"Severe", "High"} <= seen  # the last options of Severity and Criticality


def test_patient_list_can_be_narrowed(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    demo = _shown_at(qtbot, controller, seeded, SIZES["1024x768"])
    window = demo.window
    _settle(qtbot)
    total = sum(window.splitter.sizes())
    window.splitter.setSizes([400, total - 400])
    _settle(qtbot)
    before = window.patients.width()
    window.splitter.setSizes([0, 2000])  # drag the handle all the way left
    _settle(qtbot)
    assert window.patients.width() <= 250 < before
    _assert_fits(window)  # its title, button and search field still whole


# -- a real 1366×768 screen at 150 %, in a child process --------------------------------------


def test_on_a_1366x768_screen_at_150_percent(tmp_path: Path) -> None:
    config = tmp_path / "screen.json"
    config.write_text(
        '{"screens": [{"name": "laptop", "x": 0, "y": 0, "width": 1366, "height": 768,'
        ' "logicalDpi": 96}]}',
        encoding="utf-8",
    )
    env = {
        **os.environ,
        CHILD: "1",
        "QT_QPA_PLATFORM": f"offscreen:configfile={config}",
        "QT_SCALE_FACTOR": "1.5",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "python_functions=child_*",  # the child's body is collected there only
            f"{__file__}::child_on_the_scaled_screen",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout


def child_on_the_scaled_screen(qtbot: QtBot, controller: AppController, seeded: Backend) -> None:
    """Run by test_on_a_1366x768_screen_at_150_percent in a child process on that screen."""
    assert os.environ.get(CHILD), "runs in the child process only"
    screen = QGuiApplication.primaryScreen()
    assert screen.devicePixelRatio() == pytest.approx(1.5)
    available = screen.availableGeometry()
    assert abs(available.width() - 910) <= 1 and available.height() == 512
    demo = _open_demo(qtbot, controller, seeded)
    window = demo.window
    window.setGeometry(available)  # maximised, as on the clinic's laptop
    window.show()
    _settle(qtbot)
    assert off_screen(window) is None, off_screen(window)
    _pages_fit(qtbot, demo)
    window.show_page(0)
    _wrapped_errors(qtbot, window)
    window.show_shortcuts()  # F1
    helper = window.findChild(ShortcutsDialog)
    assert helper is not None
    qtbot.waitUntil(helper.isVisible, timeout=TIMEOUT)
    assert off_screen(helper) is None, off_screen(helper)
    helper.close()
