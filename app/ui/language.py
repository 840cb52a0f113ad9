"""The desktop in the user's language: catalogs, Qt's own words, mirroring, locale.

`apply_language(app, code)` switches everything a new widget reads — FieldChart's catalog
(app/i18n), Qt's own strings (standard buttons, the text-box context menu, ...), the layout
direction (Arabic mirrors) and QLocale's default (the date editors' month names, the spin
boxes' decimal sign). Widgets already on screen keep their words: the app controller builds
the main window again after a switch (app/ui/app_controller.py).

Qt's own strings come from the qtbase_<lang>.qm files PySide6 ships (French, Spanish, Arabic,
Brazilian Portuguese) and, in front of them, from our catalog for the few Qt contexts every
form shows (QT_STRINGS) — the only way Swahili gets them, since Qt ships no Swahili.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, Qt, QTranslator
from PySide6.QtWidgets import QApplication

from app import i18n
from app.i18n import NC_, pgettext

# Qt's own words on our screens, by Qt's translation context (msgctxt in our catalogs).
QT_STRINGS = (
    NC_("QPlatformTheme", "OK"),
    NC_("QPlatformTheme", "Save"),
    NC_("QPlatformTheme", "Open"),
    NC_("QPlatformTheme", "Cancel"),
    NC_("QPlatformTheme", "Close"),
    NC_("QPlatformTheme", "Discard"),
    NC_("QPlatformTheme", "Apply"),
    NC_("QPlatformTheme", "Reset"),
    NC_("QPlatformTheme", "Help"),
    NC_("QPlatformTheme", "&Yes"),
    NC_("QPlatformTheme", "&No"),
    NC_("QPlatformTheme", "Retry"),
    NC_("QPlatformTheme", "Ignore"),
    NC_("QPlatformTheme", "Abort"),
    NC_("QPlatformTheme", "Restore Defaults"),
    NC_("QLineEdit", "&Undo"),
    NC_("QLineEdit", "&Redo"),
    NC_("QLineEdit", "Cu&t"),
    NC_("QLineEdit", "&Copy"),
    NC_("QLineEdit", "&Paste"),
    NC_("QLineEdit", "Delete"),
    NC_("QLineEdit", "Select All"),
    NC_("QWidgetTextControl", "&Undo"),
    NC_("QWidgetTextControl", "&Redo"),
    NC_("QWidgetTextControl", "Cu&t"),
    NC_("QWidgetTextControl", "&Copy"),
    NC_("QWidgetTextControl", "&Paste"),
    NC_("QWidgetTextControl", "Delete"),
    NC_("QWidgetTextControl", "Select All"),
    NC_("QAbstractSpinBox", "&Select All"),
    NC_("QAbstractSpinBox", "&Step up"),
    NC_("QAbstractSpinBox", "Step &down"),
    NC_("QWizard", "Cancel"),
    NC_("QWizard", "Help"),
    NC_("QMessageBox", "Show Details..."),
    NC_("QMessageBox", "Hide Details..."),
)
_OURS = frozenset(QT_STRINGS)
# The .qm name of each launch language in PySide6's translations folder.
_QT_FILES = {"fr": "qtbase_fr", "es": "qtbase_es", "ar": "qtbase_ar", "pt": "qtbase_pt_BR"}
# QLocale for widgets: Arabic with Latin digits, as every other screen (app/i18n/formatting).
_QT_LOCALES = {"en": "en_GB", "ar": "ar_TN"}


class CatalogTranslator(QTranslator):
    """Qt asks here first: our catalog's word for Qt's own strings we list, else Qt's file."""

    def translate(
        self, context: str, source: str, disambiguation: str | None = None, n: int = -1
    ) -> str:
        # None is a null QString: Qt then asks the next translator (an empty one would not).
        if (context, source) not in _OURS:
            return None  # type: ignore[return-value]
        said = pgettext(context, source)
        return said if said != source else None  # type: ignore[return-value]


# The translators installed in this process (one application, one language at a time).
_INSTALLED: list[QTranslator] = []


def _remove_translators() -> None:
    for translator in _INSTALLED:
        QCoreApplication.removeTranslator(translator)
    _INSTALLED.clear()


def reset(app: QApplication) -> None:
    """Back to English, left to right (tests: one test's language must not reach the next)."""
    i18n.set_language(None)
    _remove_translators()
    app.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
    QLocale.setDefault(QLocale(_QT_LOCALES[i18n.SOURCE_LANGUAGE]))


class QtLanguage:
    """Installs and swaps the translators of the QApplication."""

    def __init__(self, app: QApplication) -> None:
        self.app = app
        self.language = i18n.SOURCE_LANGUAGE

    def apply(self, code: str | None) -> str:
        language = i18n.set_language(code)
        _remove_translators()
        qt_file = _QT_FILES.get(language)
        if qt_file is not None:
            qt = QTranslator(self.app)
            folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
            if qt.load(qt_file, folder):
                self._install(qt)
        self._install(CatalogTranslator(self.app))  # installed last: asked first
        direction = (
            Qt.LayoutDirection.RightToLeft
            if i18n.is_rtl(language)
            else Qt.LayoutDirection.LeftToRight
        )
        self.app.setLayoutDirection(direction)
        QLocale.setDefault(QLocale(_QT_LOCALES.get(language, language)))
        self.language = language
        return language

    def _install(self, translator: QTranslator) -> None:
        QCoreApplication.installTranslator(translator)
        _INSTALLED.append(translator)
