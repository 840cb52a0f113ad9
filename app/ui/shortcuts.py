"""Every keyboard shortcut in one place (docs/ui.md lists the same)."""

from __future__ import annotations

FIND_PATIENT = "Ctrl+F"
NEW_PATIENT = "Ctrl+N"
LOCK = "Ctrl+L"
QUIT = "Ctrl+Q"
REFRESH = "F5"
SYNC_NOW = "Ctrl+Shift+S"
SHORTCUT_HELP = "F1"

# forms on the open chart
RECORD_VITALS = "Ctrl+Shift+V"
WRITE_NOTE = "Ctrl+Shift+N"
PRESCRIBE = "Ctrl+Shift+P"
RECORD_DIAGNOSIS = "Ctrl+Shift+D"
RECORD_ALLERGY = "Ctrl+Shift+A"
START_ENCOUNTER = "Ctrl+Shift+E"
BOOK_FOLLOW_UP = "Ctrl+Shift+B"
AS_OF = "Ctrl+Shift+H"  # history: toggle the "as of" view

# pages: Ctrl+1 .. Ctrl+6 in navigation order
PAGE_KEYS = ("Ctrl+1", "Ctrl+2", "Ctrl+3", "Ctrl+4", "Ctrl+5", "Ctrl+6", "Ctrl+7", "Ctrl+8")

# chart tabs in their order (app/ui/chart/view.py TABS): Alt+1 .. Alt+9; the main window
# binds as many as there are tabs (issue 16 adds results, immunizations, referrals and
# other records to the first five).
TAB_KEYS = tuple(f"Alt+{n}" for n in range(1, 10))
