"""The first-run wizard is the first screen a clinic sees: it must fit a 1366x768 laptop at
150 % scaling (910x512 logical, less the title bar) with every page's fields in reach."""

from __future__ import annotations

from PySide6.QtWidgets import QWizard
from pytestqt.qtbot import QtBot

from app.ui.app_controller import AppController
from app.ui.first_run import FirstRunDialog
from tests.ui.helpers import TIMEOUT
from tests.ui.layout_checks import clipped_labels, out_of_reach

SMALL = (910, 480)  # 1366x768 at 150 %, less a title bar


def test_every_page_of_the_first_run_fits_a_small_screen(
    qtbot: QtBot, controller: AppController
) -> None:
    controller.start()
    wizard = controller.dialog
    assert isinstance(wizard, FirstRunDialog)
    assert wizard.minimumSize().height() <= SMALL[1] and wizard.minimumSize().width() <= SMALL[0]
    wizard.resize(*SMALL)
    qtbot.waitExposed(wizard)
    assert out_of_reach(wizard) == [] and clipped_labels(wizard) == []
    wizard.admin_page.passphrase.setText("admin passphrase")
    wizard.admin_page.repeat.setText("admin passphrase")
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.recovery_page, timeout=TIMEOUT)
    assert out_of_reach(wizard) == [] and clipped_labels(wizard) == []
    wizard.recovery_page.saved.setChecked(True)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.server_page, timeout=TIMEOUT)
    assert out_of_reach(wizard) == [] and clipped_labels(wizard) == []
    assert wizard.button(QWizard.WizardButton.FinishButton).isVisible()
