"""Nothing a clinician writes may appear in plaintext in any file of the data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.roles import Role
from app.store.errors import WrongPassphraseError
from app.store.event_log import ANY_VERSION, NewEvent
from app.store.vault import Vault
from tests.store.conftest import CreatedVault
from tests.store.helpers import ADMIN, metadata

MARKER = "Zyxwvutsrq-Marker-Ødegård"
ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be")


def needles() -> dict[str, bytes]:
    """The marker, and its ASCII head alone (in case the tail is encoded differently)."""
    found = {}
    for text in (MARKER, MARKER.split("-")[0]):
        for encoding in ENCODINGS:
            found[f"{text!r} as {encoding}"] = text.encode(encoding)
    return found


def hits(data_dir: Path) -> list[str]:
    found = []
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        content = path.read_bytes()
        found += [
            f"{path.name}: {label}" for label, needle in needles().items() if needle in content
        ]
    return found


def write_marked_chart(vault: Vault) -> None:
    """Many events carrying the marker in the payload, the metadata and the stream name."""
    marked_meta = metadata(user=f"dr-{MARKER}", role="clinician", note=MARKER)
    for i in range(60):
        vault.events.append(
            f"patient-{MARKER}-{i % 3}",
            ANY_VERSION,
            [
                NewEvent(
                    "NoteWritten", {"text": f"{MARKER} visit {i}", "name": MARKER}, marked_meta
                ),
                NewEvent("VitalsRecorded", {"pulse": 60 + i, "comment": MARKER * 20}, metadata()),
            ],
        )
    vault.add_user("bob", Role.CLINICIAN, "bobs own passphrase")  # rewrites keyslots.json
    # A failed unlock (another handle) leaves the throttle file and the pending audit record
    # behind; both are scanned too.
    with pytest.raises(WrongPassphraseError):
        Vault.open(vault.data_dir).unlock(ADMIN, "wrong wrong wrong")


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_the_scan_would_find_the_marker_if_it_were_there(tmp_path: Path, encoding: str) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.bin").write_bytes(b"\x00\x01" + MARKER.encode(encoding) + b"\x00")
    assert f"x.bin: {MARKER!r} as {encoding}" in hits(tmp_path)


def test_no_plaintext_while_unlocked_with_a_write_ahead_log(created: CreatedVault) -> None:
    write_marked_chart(created.vault)
    wal = created.data_dir / "vault.db-wal"
    assert wal.exists() and wal.stat().st_size > 0, "expected the events to sit in the WAL"
    assert (created.data_dir / "vault.db-shm").exists()
    assert (created.data_dir / "unlock-failures.json").exists()
    # The app can read the marker back, so it really was written.
    assert any(
        MARKER in e.payload["text"]
        for e in created.vault.events.read_stream(f"patient-{MARKER}-0")
        if "text" in e.payload
    )

    assert hits(created.data_dir) == []


def test_no_plaintext_after_locking(created: CreatedVault) -> None:
    write_marked_chart(created.vault)
    created.vault.lock()

    names = sorted(p.name for p in created.data_dir.rglob("*") if p.is_file())
    # pending-audit.json: the refused unlock, kept for the audit until the next unlock; the
    # lock files are empty (app/store/file_lock.py).
    assert names == [
        "keyslots.json",
        "keyslots.lock",
        "pending-audit.json",
        "unlock-failures.json",
        "unlock-failures.lock",
        "vault.db",
    ]
    assert hits(created.data_dir) == []
    # Not a plain SQLite file either: its header would start with this.
    assert not (created.data_dir / "vault.db").read_bytes().startswith(b"SQLite format 3\x00")
