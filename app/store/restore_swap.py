"""Putting a restored vault in place of whatever the data directory held, so that a crash at any
point is finished at the next open: never half a vault, never the old one split in two.

The verified backup waits in a hidden scratch directory ``.restore-<random>`` inside the data
directory (same file system: every move is a rename). Then

1. the journal ``restore-journal.json`` is written -- the commit point --, naming the scratch
   directory and the ``replaced-<time>`` folder the old vault goes to (none if there was no
   vault); from here on the restore only goes forward;
2. every file of the old vault is moved into that one folder (the database first);
3. the journal is rewritten with phase "install";
4. the restored database, then its key slots are moved into the data directory;
5. the scratch directory and then the journal are removed.

Each step is idempotent and decided by the journal alone, so the next open (or restore)
finishes what a crash cut short, and a crash during that is finished by the one after. Before
the journal exists nothing in the data directory has changed; the next run only removes the
scratch directory. See docs/security/crash-safety.md.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.i18n import _
from app.store import fileops, rekey
from app.store.errors import NotAVaultError, VaultInUseError

JOURNAL = "restore-journal.json"
FORMAT = "fieldchart-restore/1"
SCRATCH = "restore"
DB_FILE, SLOTS_FILE = rekey.DB_FILE, rekey.SLOTS_FILE
# Every file of a vault (or of an interrupted rotation) in its directory; the database first.
# Lock files stay: another process may be waiting on them.
VAULT_FILES = (
    DB_FILE,
    f"{DB_FILE}-wal",
    f"{DB_FILE}-shm",
    f"{DB_FILE}-journal",
    SLOTS_FILE,
    rekey.NEXT_DB,
    rekey.NEXT_SLOTS,
    rekey.COMMIT_RECORD,
    "unlock-failures.json",
    "pending-audit.json",
)
INSTALLED = (f"{DB_FILE}-wal", DB_FILE, SLOTS_FILE)  # the slots last: then it is a vault


def aside_name(data_dir: Path, now: datetime | None = None) -> str:
    """A new ``replaced-<UTC time>`` folder name in `data_dir`."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    name, n = f"replaced-{stamp}", 1
    while (data_dir / name).exists():
        n += 1
        name = f"replaced-{stamp}-{n}"
    return name


def install(data_dir: Path, staging: Path, aside: str | None) -> None:
    """Replace the vault in `data_dir` (moved to `aside`, if given) by the files in `staging`.
    The caller holds `rekey.vault_dir_lock(data_dir)`."""
    record: dict[str, Any] = {
        "format": FORMAT,
        "staging": staging.name,
        "aside": aside,
        "phase": "aside",
    }
    _write(data_dir, record)  # the commit point
    try:
        _move_aside(data_dir, record)
    except PermissionError:
        # Windows: an open database cannot be renamed, and it is the first file moved. Then
        # nothing has moved yet, and the restore is undone rather than finished later.
        if (data_dir / DB_FILE).exists():
            fileops.unlink(data_dir / JOURNAL)
            raise VaultInUseError(
                _("the vault being replaced is open in FieldChart; close the app and try again")
            ) from None
        raise
    _install(data_dir, record)


def finish_interrupted(data_dir: Path) -> bool:
    """Finish a restore a crash cut short (unless one is still running); returns whether it
    did. Needs no key."""
    if not (data_dir / JOURNAL).exists():
        return False
    with rekey.vault_dir_lock(data_dir) as free:
        if not free or not (data_dir / JOURNAL).exists():
            return False
        record = _read(data_dir)
        if record["phase"] == "aside":
            _move_aside(data_dir, record)
        _install(data_dir, record)
    return True


def _move_aside(data_dir: Path, record: dict[str, Any]) -> None:
    if record["aside"]:
        aside = data_dir / str(record["aside"])
        fileops.mkdir(aside)
        for name in VAULT_FILES:
            if (data_dir / name).exists():
                fileops.replace(data_dir / name, aside / name)
        fileops.fsync_dir(aside)
        fileops.fsync_dir(data_dir)
    record["phase"] = "install"
    _write(data_dir, record)


def _install(data_dir: Path, record: dict[str, Any]) -> None:
    staging = data_dir / str(record["staging"])
    for name in INSTALLED:
        if (staging / name).exists():
            fileops.replace(staging / name, data_dir / name)
    fileops.fsync_dir(data_dir)
    fileops.rmtree(staging)  # what unlocking the copy left there (nothing with keys)
    fileops.unlink(data_dir / JOURNAL)
    fileops.fsync_dir(data_dir)


def _write(data_dir: Path, record: dict[str, Any]) -> None:
    fileops.write_atomically(data_dir / JOURNAL, json.dumps(record).encode())


def _read(data_dir: Path) -> dict[str, Any]:
    try:
        record = json.loads((data_dir / JOURNAL).read_bytes())
        staging, aside = str(record["staging"]), record["aside"]
        ok = (
            record.get("format") == FORMAT
            and record.get("phase") in ("aside", "install")
            and _entry_of(staging, f".{SCRATCH}-")
            and (aside is None or _entry_of(str(aside), "replaced-"))
        )
        if not ok:
            raise ValueError(_("not a restore journal"))
    except (OSError, ValueError, KeyError, TypeError):
        raise NotAVaultError(
            _(
                "{JOURNAL} (left by an interrupted restore) is damaged; keep "
                "every file of this vault and run the restore again with "
                "--force"
            ).format(JOURNAL=JOURNAL)
        ) from None
    return dict(record)


def _entry_of(name: str, prefix: str) -> bool:
    """A plain name in the data directory (no path separators), starting with `prefix`."""
    return name.startswith(prefix) and "/" not in name and "\\" not in name
