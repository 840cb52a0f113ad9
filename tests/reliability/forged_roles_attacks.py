"""The attacks of experiment 15.9 (tests/reliability/forged_roles.py): what a staff user who
knows their own passphrase can do to a copy of the vault with the data key it opens."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import sqlcipher3

from app.domain import events as ev
from app.store import crypto, signatures
from app.store.event_log import ANY_VERSION, EventMetadata, NewEvent, _link_record
from app.store.keyslots import KeySlotFile, user_slot_id
from app.store.role_grants import GRANTS_STREAM, ROLE, Grant
from app.store.vault import SLOTS_FILE, Vault
from app.store.vault_creation import LOG_KEY_META
from tests.reliability.common import ADMIN, DESK, DESK_PASS, DOC

DB = "vault.db"


# -- the attacker's tools: the data key, sqlcipher3, the log key ------------------------------


def data_key_of(data_dir: Path, user: str, passphrase: str) -> bytearray:
    """What any user's passphrase opens: the data key."""
    return KeySlotFile.load(data_dir / SLOTS_FILE).unwrap(user_slot_id(user), passphrase.encode())


@contextlib.contextmanager
def raw_db(data_dir: Path) -> Iterator[sqlcipher3.Connection]:
    """The vault's database opened directly with the staff user's data key."""
    key = data_key_of(data_dir, DESK, DESK_PASS)
    con = sqlcipher3.connect(str(data_dir / DB))
    con.execute(f"PRAGMA key = \"x'{bytes(key).hex()}'\"")
    crypto.wipe(key)
    try:
        yield con
        con.commit()
    finally:
        con.close()


def desk_private_key(data_dir: Path) -> bytearray:
    """The staff user's own signing key: their passphrase opens it."""
    slots = KeySlotFile.load(data_dir / SLOTS_FILE)
    crypto.wipe(slots.unwrap_vault_key(user_slot_id(DESK), DESK_PASS.encode()))
    private = slots.take_signing_key(user_slot_id(DESK))
    assert private is not None
    return private


def rechain(con: sqlcipher3.Connection, data_dir: Path, vault_id: str, start: int) -> None:
    """Recompute every chain link from `start` with the log key (which the data key opens)."""
    log_key = bytes.fromhex(
        con.execute("SELECT value FROM meta WHERE key = ?", (LOG_KEY_META,)).fetchone()[0]
    )
    chain_key = crypto.subkey(log_key, "chain")
    if start == 1:
        link = crypto.chain_mac(chain_key, b"", f"genesis|{vault_id}".encode())
    else:
        link = bytes(
            con.execute("SELECT chain FROM events WHERE position = ?", (start - 1,)).fetchone()[0]
        )
    con.execute("DROP TRIGGER IF EXISTS events_no_update")
    rows = con.execute(
        "SELECT position, event_id, stream_id, stream_version, type, schema_version, metadata, "
        "payload FROM events WHERE position >= ? ORDER BY position",
        (start,),
    ).fetchall()
    for row in rows:
        link = crypto.chain_mac(chain_key, link, _link_record(*row))
        con.execute("UPDATE events SET chain = ? WHERE position = ?", (link, row[0]))
    con.execute("UPDATE log_head SET chain = ?", (link,))


def vitals_positions(con: sqlcipher3.Connection, user: str) -> list[int]:
    return [
        int(p)
        for (p, m) in con.execute(
            "SELECT position, metadata FROM events WHERE type = 'VitalsRecorded' ORDER BY position"
        ).fetchall()
        if json.loads(m)["user"] == user
    ]


# -- the attacks ------------------------------------------------------------------------------


def role_in_table(data_dir: Path) -> None:
    with raw_db(data_dir) as con:
        con.execute("UPDATE users SET role = 'clinician' WHERE name = ?", (DESK,))


def _append_as_desk(data_dir: Path, new: list[NewEvent], stream: str, *, signed: bool) -> None:
    """Append through the app's own log code in a staff session (signed with the staff key,
    or with the signing hook taken off)."""
    vault = Vault.open(data_dir)
    vault.unlock(DESK, DESK_PASS)
    try:
        if not signed:
            vault.events.row_hook = None
        vault.events.append(stream, ANY_VERSION, new)
    finally:
        vault.lock()


def forged_metadata(user: str, role: str) -> EventMetadata:
    now = "2026-01-01T00:00:00.000+00:00"
    return EventMetadata("forged", user, role, "forged-device", now, now)


def forged_grant(data_dir: Path) -> None:
    grant = Grant(ROLE, DESK, "clinician").record(DESK, "staff", "forged-device", "now")
    _append_as_desk(data_dir, [grant], GRANTS_STREAM, signed=True)


def unsigned_grant(data_dir: Path) -> None:
    grant = Grant(ROLE, DESK, "clinician").record(ADMIN, "admin", "forged-device", "now")
    _append_as_desk(data_dir, [grant], GRANTS_STREAM, signed=False)


def altered_author(data_dir: Path, vault_id: str) -> None:
    with raw_db(data_dir) as con:
        position = vitals_positions(con, DOC)[0]
        meta = json.loads(
            con.execute("SELECT metadata FROM events WHERE position = ?", (position,)).fetchone()[0]
        )
        meta.update(user=DESK, role="staff")
        con.execute("DROP TRIGGER IF EXISTS events_no_update")
        con.execute(
            "UPDATE events SET metadata = ? WHERE position = ?",
            (json.dumps(meta, sort_keys=True, separators=(",", ":")), position),
        )
        rechain(con, data_dir, vault_id, position)


def resigned_own_key(data_dir: Path, vault_id: str) -> None:
    altered_author(data_dir, vault_id)
    private = desk_private_key(data_dir)
    signer = signatures.EventSigner(vault_id, DESK, private)
    crypto.wipe(private)
    with raw_db(data_dir) as con:
        first = vitals_positions(con, DESK)[0]
        for position, link in con.execute(
            "SELECT position, chain FROM events WHERE position >= ?", (first,)
        ).fetchall():
            con.execute(
                "UPDATE event_signatures SET signer = ?, signature = ? WHERE position = ?",
                (DESK, signer.sign(int(position), bytes(link)), position),
            )


def dropped_signature(data_dir: Path) -> None:
    with raw_db(data_dir) as con:
        position = vitals_positions(con, DOC)[0]
        con.execute("DELETE FROM event_signatures WHERE position = ?", (position,))


def copied_signature(data_dir: Path) -> None:
    with raw_db(data_dir) as con:
        doc_position = vitals_positions(con, DOC)[0]
        signer, signature = con.execute(
            "SELECT signer, signature FROM event_signatures WHERE position = ?", (doc_position,)
        ).fetchone()
        (desk_position,) = con.execute(
            "SELECT max(position) FROM event_signatures WHERE signer = ?", (DESK,)
        ).fetchone()
        con.execute(
            "UPDATE event_signatures SET signer = ?, signature = ? WHERE position = ?",
            (signer, signature, desk_position),
        )


def forged_event(data_dir: Path, patient_id: str) -> None:
    vitals = ev.VitalsRecorded(
        vitals_id="forged-vitals",
        taken_at="2026-01-01T00:00:00+00:00",
        measurements={"heart_rate": 190.0},
    )
    event = NewEvent.of(vitals, forged_metadata(DOC, "clinician"))
    _append_as_desk(data_dir, [event], f"patient-{patient_id}", signed=True)
