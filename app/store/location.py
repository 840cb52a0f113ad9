"""Where a device's vault lives when no data directory is named."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

DATA_DIR_VARIABLE = "FIELDCHART_DATA_DIR"


def default_data_dir() -> Path:
    """$FIELDCHART_DATA_DIR, else a vault in the platform's per-user data directory."""
    env = os.environ.get(DATA_DIR_VARIABLE)
    return Path(env) if env else Path(user_data_dir("FieldChart", appauthor=False)) / "vault"
