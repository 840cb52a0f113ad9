"""Audit records made while the vault is locked, kept until the next unlock writes them into
the encrypted, hash-chained log.

A refused unlock (and a passphrase changed without unlocking, as `fieldchart passwd` does)
happens without the data key, so it cannot be written to the log at once. It is kept in
`pending-audit.json` beside the vault: the kind of record, the name of a user of this vault
(never a name that is not one: a passphrase typed into the name field must not land in a
plain file), a short reason and the time. No passphrase, secret or patient data. The next
time the vault is opened as a clinic (Vault.fold_pending_audit, from open_clinic), every
record is appended to the device's audit stream and the file is emptied.

The file is not protected against deletion by someone with access to the directory: it is
a convenience for the admin, not evidence (see docs/decisions.md).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from app.i18n import _
from app.store.keyslots import write_atomically

MAX_RECORDS = 1000  # the oldest are dropped beyond this (a guessing script fills it quickly)
KINDS = frozenset({"UnlockFailed", "PassphraseChanged"})


class PendingAudit:
    def __init__(self, path: Path) -> None:
        self._path = path

    def records(self) -> list[dict[str, str]]:
        try:
            data = json.loads(self._path.read_bytes())
        except (OSError, ValueError):
            return []
        if not isinstance(data, list):
            return []
        return [
            {k: str(v) for k, v in r.items() if k in ("kind", "user", "reason", "at", "dropped")}
            for r in data
            if isinstance(r, dict) and r.get("kind") in KINDS | {"Dropped"}
        ]

    def add(self, kind: str, user: str, reason: str, at: str) -> None:
        """Keep one record (best effort: a read-only directory must not stop an unlock)."""
        if kind not in KINDS:
            raise ValueError(_("unknown pending audit record {kind}").format(kind=repr(kind)))
        records: list[dict[str, Any]] = list(self.records())
        records.append({"kind": kind, "user": user, "reason": reason, "at": at})
        if len(records) > MAX_RECORDS:
            dropped = sum(int(r.get("dropped", 1)) for r in records[: -MAX_RECORDS + 1])
            records = [{"kind": "Dropped", "dropped": str(dropped)}, *records[-MAX_RECORDS + 1 :]]
        with contextlib.suppress(OSError):
            write_atomically(self._path, json.dumps(records).encode())

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()
