"""At every open of a vault: finish or undo what a crash cut short, and remove its leftovers.

- an `init` that never showed its recovery secret: the vault does not open (the next `init`
  removes it, see vault_creation);
- a `restore` past its commit point: finished (restore_swap);
- hidden copies of a crashed `backup` or `restore` (scratch directories holding a database and
  key slots) and the temp files of atomic writes (key slots among them): removed, unless the
  process that made them still runs (it holds their lock).

Rotation has its own recovery (rekey.finish_interrupted, under the key-slot lock). None of this
needs a key. See docs/security/crash-safety.md.
"""

from __future__ import annotations

import os
from pathlib import Path

from app.i18n import _
from app.store import fileops, restore_swap, vault_creation
from app.store.errors import VaultNotFoundError

BACKUP_SCRATCH = "backup"
ARCHIVE_NOTE = "archive-path"  # in a backup's scratch directory: its temp archive, elsewhere
ARCHIVE_SUFFIX = ".partial"


def finish_interrupted(data_dir: Path) -> None:
    """Run before a vault in `data_dir` is opened (see the module docstring)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        return
    if vault_creation.unfinished(data_dir):
        raise VaultNotFoundError(
            _(
                "the vault in {data_dir} was never finished (its creation "
                "was interrupted before the recovery secret was shown); run "
                "`init` again to create it"
            ).format(data_dir=data_dir)
        )
    restore_swap.finish_interrupted(data_dir)
    remove_leftovers(data_dir)


def remove_leftovers(data_dir: Path) -> int:
    """Remove scratch directories and temp files whose process is gone; returns how many."""
    removed = 0
    if not (data_dir / restore_swap.JOURNAL).exists():  # else its scratch is the restore
        removed += fileops.remove_stale_scratch(data_dir, restore_swap.SCRATCH)
    removed += fileops.remove_stale_scratch(data_dir, BACKUP_SCRATCH, remove_archive_temp)
    removed += fileops.remove_stale_temps(data_dir)
    return removed


def note_archive(scratch: Path, archive: Path) -> None:
    """Record, before it is created, where a backup writes its temp archive (outside the
    vault directory), so that removing the scratch directory removes that file too."""
    try:  # relative, so the note stays right if the whole tree is moved or copied
        where = os.path.relpath(archive, scratch)
    except ValueError:  # another drive (Windows)
        where = str(archive)
    fileops.create_file(scratch / ARCHIVE_NOTE, where.encode())
    fileops.fsync_file(scratch / ARCHIVE_NOTE)
    fileops.fsync_dir(scratch)


def remove_archive_temp(scratch: Path) -> None:
    """The temp archive a crashed backup recorded in `scratch`, if it is still there."""
    try:
        archive = scratch / (scratch / ARCHIVE_NOTE).read_text(encoding="utf-8")
    except (OSError, ValueError):
        return
    if archive.name.startswith(".") and archive.name.endswith(ARCHIVE_SUFFIX):
        fileops.unlink(archive)
