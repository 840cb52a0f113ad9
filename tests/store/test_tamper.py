"""Someone with the database key edits the file behind the app's back; verify() must notice,
and name the first position that is wrong.

Tampering goes through ``vault.engine`` (a real SQLCipher connection): the immutability
triggers are dropped first, as an attacker with raw SQL access would.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from app.store.errors import TamperError
from app.store.event_log import NewEvent
from app.store.vault import TAIL_VERIFY_AT_UNLOCK, Vault
from tests.store.conftest import CreatedVault
from tests.store.helpers import (
    ADMIN,
    PASSPHRASE,
    metadata,
    raw_events,
    seed_events,
    tamper,
)

EVENTS = 5
MIDDLE = 3


@pytest.fixture
def five(vault: Vault) -> Vault:
    """A vault holding five events at positions 1..5 over two streams; verify() passes."""
    seed_events(vault, EVENTS)
    assert vault.events.verify().events == EVENTS
    return vault


def payload_of(vault: Vault, position: int) -> bytes:
    with vault.engine.connect() as conn:
        return bytes(
            conn.exec_driver_sql(
                "SELECT payload FROM events WHERE position = ?", (position,)
            ).scalar_one()
        )


def verify_fails_at(vault: Vault) -> TamperError:
    with pytest.raises(TamperError) as caught:
        vault.events.verify()
    return caught.value


def test_an_untouched_log_verifies(five: Vault) -> None:
    report = five.events.verify()
    assert (report.events, report.head_position) == (5, 5)


def test_one_flipped_byte_in_a_sealed_payload_is_found_at_its_position(five: Vault) -> None:
    sealed = bytearray(payload_of(five, MIDDLE))
    sealed[20] ^= 0x01
    tamper(five, "UPDATE events SET payload = ? WHERE position = ?", (bytes(sealed), MIDDLE))

    error = verify_fails_at(five)
    assert error.position == MIDDLE
    assert "event at position 3" in str(error)
    # Reading the altered event also refuses, rather than returning forged data.
    with pytest.raises(TamperError) as on_read:
        list(five.events.read_all())
    assert on_read.value.position == MIDDLE


def test_a_deleted_middle_event_is_reported_missing(five: Vault) -> None:
    tamper(five, "DELETE FROM events WHERE position = ?", (MIDDLE,))
    error = verify_fails_at(five)
    assert error.position == MIDDLE
    assert str(error) == "event at position 3 is missing (next found: 4)"


def test_swapped_payloads_are_found_at_the_first_of_the_two(five: Vault) -> None:
    second, fourth = payload_of(five, 2), payload_of(five, 4)
    tamper(
        five,
        "UPDATE events SET payload = CASE position WHEN 2 THEN ? ELSE ? END "
        "WHERE position IN (2, 4)",
        (fourth, second),
    )
    assert verify_fails_at(five).position == 2


def test_a_deleted_last_event_is_noticed_through_the_log_head(five: Vault) -> None:
    tamper(five, "DELETE FROM events WHERE position = ?", (EVENTS,))
    error = verify_fails_at(five)
    assert error.position == EVENTS
    assert "events were removed from the end" in str(error)


def test_a_deleted_last_event_and_head_row_are_noticed(five: Vault) -> None:
    tamper(five, "DELETE FROM events WHERE position = ?", (EVENTS,))
    tamper(five, "DELETE FROM log_head")
    assert isinstance(verify_fails_at(five), TamperError)


def test_edited_metadata_is_found_at_its_position(five: Vault) -> None:
    stored = next(row[6] for row in raw_events(five) if row[0] == MIDDLE)  # the metadata column
    forged = json.loads(stored) | {"user": "someone-else"}
    tamper(
        five,
        "UPDATE events SET metadata = ? WHERE position = ?",
        (json.dumps(forged, sort_keys=True, separators=(",", ":")), MIDDLE),
    )
    assert verify_fails_at(five).position == MIDDLE


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("type", "'PrescriptionIssued'"),
        ("stream_id", "'patient-z'"),
        ("stream_version", "stream_version + 100"),
        ("schema_version", "schema_version + 1"),
        ("event_id", "'00000000-0000-0000-0000-000000000000'"),
        ("chain", "zeroblob(32)"),
    ],
)
def test_editing_any_column_of_an_event_is_found_at_its_position(
    five: Vault, column: str, value: str
) -> None:
    tamper(five, f"UPDATE events SET {column} = {value} WHERE position = ?", (MIDDLE,))
    assert verify_fails_at(five).position == MIDDLE


def test_an_edited_log_head_is_noticed(five: Vault) -> None:
    tamper(five, "UPDATE log_head SET chain = zeroblob(32)")
    assert verify_fails_at(five).position == EVENTS


def test_a_replayed_event_appended_at_the_end_is_noticed(five: Vault) -> None:
    tamper(
        five,
        "INSERT INTO events SELECT 6, 'replayed-id', stream_id, stream_version + 100, type, "
        "schema_version, metadata, payload, chain FROM events WHERE position = 5",
    )
    assert verify_fails_at(five).position == 6


def test_verify_changes_nothing_in_the_file(created: CreatedVault) -> None:
    seed_events(created.vault, 30)
    created.vault.lock()  # checkpoints the WAL into vault.db

    vault = Vault.open(created.data_dir)
    vault.unlock(ADMIN, PASSPHRASE)
    try:
        db = created.data_dir / "vault.db"
        wal = created.data_dir / "vault.db-wal"
        before = (hashlib.sha256(db.read_bytes()).digest(), wal.read_bytes())
        rows_before = raw_events(vault)
        for _ in range(3):
            assert vault.events.verify().events == 30
        assert (hashlib.sha256(db.read_bytes()).digest(), wal.read_bytes()) == before
        assert raw_events(vault) == rows_before
    finally:
        vault.lock()


def test_verify_of_a_tampered_log_changes_nothing_either(five: Vault) -> None:
    tamper(five, "DELETE FROM events WHERE position = ?", (MIDDLE,))
    rows = raw_events(five)
    for _ in range(2):
        verify_fails_at(five)
    assert raw_events(five) == rows


# -- at unlock ---------------------------------------------------------------------------------


def test_a_tampered_log_is_refused_at_unlock(created: CreatedVault) -> None:
    seed_events(created.vault, EVENTS)
    sealed = bytearray(payload_of(created.vault, MIDDLE))
    sealed[-1] ^= 0x80
    tamper(
        created.vault, "UPDATE events SET payload = ? WHERE position = ?", (bytes(sealed), MIDDLE)
    )
    created.vault.lock()

    vault = Vault.open(created.data_dir)
    with pytest.raises(TamperError) as caught:
        vault.unlock(ADMIN, PASSPHRASE)
    assert caught.value.position == MIDDLE
    assert not vault.is_unlocked


@pytest.mark.parametrize(
    ("tampered", "found_at_unlock"),
    [
        pytest.param(5, False, id="just-before-the-checked-tail"),
        pytest.param(6, True, id="first-event-of-the-checked-tail"),
        pytest.param(TAIL_VERIFY_AT_UNLOCK + 5, True, id="last-event"),
    ],
)
def test_unlock_checks_the_last_thousand_events_and_verify_checks_all(
    created: CreatedVault, tampered: int, found_at_unlock: bool
) -> None:
    total = TAIL_VERIFY_AT_UNLOCK + 5
    created.vault.events.append(
        "bulk", 0, [NewEvent("NoteWritten", {"n": i}, metadata()) for i in range(total)]
    )
    tamper(created.vault, "UPDATE events SET type = 'Forged' WHERE position = ?", (tampered,))
    created.vault.lock()

    vault = Vault.open(created.data_dir)
    if found_at_unlock:
        with pytest.raises(TamperError) as caught:
            vault.unlock(ADMIN, PASSPHRASE)
        assert caught.value.position == tampered
        return
    vault.unlock(ADMIN, PASSPHRASE)  # older events are left to the full verify
    try:
        assert verify_fails_at(vault).position == tampered
    finally:
        vault.lock()
