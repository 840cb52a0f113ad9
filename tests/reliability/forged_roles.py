"""Experiment 15.9: a user forges a role or authorship with the data key.

Every user's passphrase opens the data key and the log key, so a staff user can open the
vault's SQLCipher file directly (sqlcipher3, as the tester did) and rewrite it. Each attack
runs on its own copy of an honest vault; the staff user then tries to record vitals through
`fieldchart exec`, and IT runs `fieldchart verify`:

* role-in-table       the staff user's row in `users` says clinician
* forged-grant        a grant "desk is a clinician", signed by the staff user's own key
* unsigned-grant      the same grant with no signature at all
* altered-author      a clinician's vitals re-attributed to the staff user (chain recomputed
                      with the log key, so the hash chain is intact)
* resigned-own-key    the same, and every signature from there re-made with the staff key
* dropped-signature   one event's signature removed
* copied-signature    a staff event given a clinician's signature (and name) of another event
* forged-event        vitals appended through the app's log, attributed to the clinician

Figures: forgeries `verify` detected / tried, vitals the app accepted from the staff user after
tampering, false alarms of `verify` on honest vaults (a new one, one with users changed, a
key rotation, and a vault migrated from before signing keys), and what signing costs.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from app.domain import commands as c
from app.domain.errors import DomainError
from app.domain.roles import Actor, Role
from app.services.clinic import open_clinic
from app.store import signatures, vault_creation
from app.store.errors import StoreError
from app.store.event_log import ANY_VERSION, NewEvent
from app.store.keyslots import KeySlotFile
from app.store.vault import SLOTS_FILE, Vault
from app.store.vault_signing import SessionSigning
from tests.reliability import forged_roles_attacks as attack
from tests.reliability import report
from tests.reliability.common import (
    ADMIN,
    ADMIN_PASS,
    DESK,
    DESK_PASS,
    DOC,
    DOC_PASS,
    STANDARD_USERS,
    cli,
    copy_vault,
    make_vault,
)

SECTION = "15.9 Forged roles and authorship"


@dataclass(frozen=True)
class Size:
    patients: int  # honest patients (each registered and given vitals) before the attacks
    timed_events: int  # appends timed with and without signing
    # Record and verify through the CLI after every attack (else after the first only, and
    # in-process after the others: the same unlock, `exec` and `verify` code, without
    # starting two Python processes per attack).
    cli_for_all: bool


SMALL = Size(patients=2, timed_events=100, cli_for_all=False)
FULL = Size(patients=20, timed_events=3000, cli_for_all=True)


# -- the honest vault, and what the CLI says ---------------------------------------------------


def honest_vault(work: Path, size: Size) -> tuple[Path, list[str]]:
    """A vault in which the clinician registered patients and recorded vitals, the front desk
    booked a follow-up for each, and the admin added and disabled a user."""
    data_dir = make_vault(work / "forged-roles-honest", users=STANDARD_USERS)
    patients: list[str] = []
    for user, passphrase in ((DOC, DOC_PASS), (DESK, DESK_PASS)):
        vault = Vault.open(data_dir)
        actor = Actor(user, Role.CLINICIAN if user == DOC else Role.STAFF)
        assert vault.unlock(user, passphrase) == actor
        clinic = open_clinic(vault)
        try:
            for i in range(size.patients):
                if user == DOC:
                    pid = clinic.commands.execute(
                        c.RegisterPatient(
                            given=f"Ana{i}", family="Honest", birth_date="1980-01-01", sex="female"
                        ),
                        actor,
                    ).patient_id
                    patients.append(pid)
                    clinic.commands.execute(c.RecordVitals(patient_id=pid, heart_rate=70.0), actor)
                else:
                    clinic.commands.execute(
                        c.ScheduleFollowUp(
                            patient_id=patients[i],
                            clinician=DOC,
                            start=f"2030-01-{1 + i // 8:02d}T{8 + i % 8:02d}:00:00+00:00",
                            reason="review",
                        ),
                        actor,
                    )
        finally:
            clinic.close()
    vault = Vault.open(data_dir)
    vault.unlock(ADMIN, ADMIN_PASS)
    try:
        vault.add_user("temp", Role.STAFF, "temporary-passphrase")
        vault.disable_user("temp")
    finally:
        vault.lock()
    return data_dir, patients


def record_vitals_by_cli(
    data_dir: Path, patient_id: str, tmp: Path, user: str, passphrase: str, heart_rate: int
) -> int:
    """Vitals `user` got recorded through `fieldchart exec` (0 or 1)."""
    line = json.dumps({"type": "RecordVitals", "patient_id": patient_id, "heart_rate": heart_rate})
    result = cli(
        ["exec", "--data-dir", str(data_dir)],
        user=user,
        passphrase=passphrase,
        stdin=line.encode() + b"\n",
        tmpdir=tmp,
    )
    answers = [json.loads(x) for x in result.stdout.splitlines() if x.strip()]
    return sum(1 for a in answers if a.get("ok"))


def verify_passes(data_dir: Path, tmp: Path) -> bool:
    return cli(["verify", "--data-dir", str(data_dir)], tmpdir=tmp).returncode == 0


def record_vitals_in_process(data_dir: Path, patient_id: str, user: str, passphrase: str) -> int:
    """What `fieldchart exec` does: unlock as the user, run the command as the session's
    actor (0 or 1 recorded)."""
    vault = Vault.open(data_dir)
    try:
        vault.unlock(user, passphrase)
    except StoreError:
        return 0
    clinic = open_clinic(vault)
    try:
        clinic.commands.execute(
            c.RecordVitals(patient_id=patient_id, heart_rate=99.0), clinic.actor
        )
    except DomainError:
        return 0
    finally:
        clinic.close()
    return 1


def verify_passes_in_process(data_dir: Path) -> bool:
    """What `fieldchart verify` does: the chain, then every signature and role."""
    vault = Vault.open(data_dir)
    try:
        vault.unlock(ADMIN, ADMIN_PASS)
        vault.events.verify()
        signed, mismatches = vault.signing.verify()
        return signed.ok and not mismatches
    except StoreError:
        return False
    finally:
        vault.lock()


# -- honest vaults that must verify -------------------------------------------------------------


@contextlib.contextmanager
def before_signing_keys() -> Iterator[None]:
    """Vaults written as a FieldChart from before signing keys wrote them."""
    wrap = KeySlotFile.wrap

    def unsigned_wrap(
        self: KeySlotFile, sid: str, sec: bytes, key: Any, kdf: Any, _: Any = None
    ) -> None:
        wrap(self, sid, sec, key, kdf)

    with (
        mock.patch.object(KeySlotFile, "wrap", unsigned_wrap),
        mock.patch.object(SessionSigning, "start", lambda self, u, s, p, role: role),
        mock.patch.object(SessionSigning, "new_key", lambda self: None),
        mock.patch.object(vault_creation, "public_of", lambda key: None),
    ):
        yield


def migrated_vault(work: Path) -> Path:
    """A vault from before signing keys with events by every user, then unlocked by staff
    (still unsigned), an admin (the migration) and the others (their keys introduced)."""
    with before_signing_keys():
        data_dir = make_vault(work / "forged-roles-migrated", users=STANDARD_USERS)
        for user, passphrase in ((ADMIN, ADMIN_PASS), (DESK, DESK_PASS)):
            vault = Vault.open(data_dir)
            vault.unlock(user, passphrase)
            vault.record_admin_action("Legacy", user)
            vault.lock()
    for user, passphrase in (
        (DESK, DESK_PASS),
        (ADMIN, ADMIN_PASS),
        (DOC, DOC_PASS),
        (DESK, DESK_PASS),
    ):
        vault = Vault.open(data_dir)
        vault.unlock(user, passphrase)
        vault.record_admin_action("AfterUpgrade", user)
        vault.lock()
    return data_dir


def rotated_vault(honest: Path, work: Path) -> Path:
    data_dir = copy_vault(honest, work / "forged-roles-rotated")
    vault = Vault.open(data_dir)
    vault.unlock(ADMIN, ADMIN_PASS)
    vault.rotate_keys(new_vault_key=True, passphrase=ADMIN_PASS)
    vault = Vault.open(data_dir)
    vault.unlock(ADMIN, ADMIN_PASS)
    vault.reset_passphrase(DOC, DOC_PASS)
    vault.lock()
    return data_dir


# -- the cost of signing ------------------------------------------------------------------------


def append_medians(data_dir: Path, count: int) -> tuple[float, float, float]:
    """Median seconds of one append (a command's own transaction, as `exec` commits it)
    without and with its signature, alternating so both see the same machine load; and the
    µs per event of the signature check over the signed ones (as `verify` runs it)."""
    vault = Vault.open(data_dir)
    vault.unlock(ADMIN, ADMIN_PASS)
    metadata = attack.forged_metadata(ADMIN, "admin")
    took: dict[bool, list[float]] = {False: [], True: []}
    hook = vault.events.row_hook
    try:
        for i in range(2 * count):
            signed = i % 2 == 1
            vault.events.row_hook = hook if signed else None
            stream = "timing-signed" if signed else "timing-unsigned"
            started = time.perf_counter()
            vault.events.append(stream, ANY_VERSION, [NewEvent("Timed", {"i": i}, metadata)])
            took[signed].append(time.perf_counter() - started)
        started = time.perf_counter()
        checked, _ = vault.signing.verify()  # the unsigned ones are reported, not timed apart
        check_s = time.perf_counter() - started
        assert checked.signed >= count and len(checked.problems) == count
    finally:
        vault.lock()
    total = checked.signed + len(checked.problems)
    return statistics.median(took[False]), statistics.median(took[True]), 1e6 * check_s / total


def signing_cost(work: Path, size: Size) -> dict[str, float]:
    unsigned_s, signed_s, verify_us = append_medians(
        make_vault(work / "forged-roles-timing"), size.timed_events
    )
    signer = signatures.EventSigner("timing", ADMIN, signatures.new_private_key())
    link, rounds = bytes(32), 500
    started = time.perf_counter()
    for position in range(rounds):
        signature = signer.sign(position, link)
    sign_us = 1e6 * (time.perf_counter() - started) / rounds
    public = signatures.load_public(signer.public)
    message = signatures.event_message("timing", ADMIN, rounds - 1, link)
    started = time.perf_counter()
    for _ in range(rounds):
        assert signatures.is_valid(public, message, signature)
    check_us = 1e6 * (time.perf_counter() - started) / rounds
    return {
        "sign_us": round(sign_us, 1),
        "check_us": round(check_us, 1),
        "appends_per_s_unsigned": round(1 / unsigned_s),
        "appends_per_s_signed": round(1 / signed_s),
        "signing_us_per_event": round(1e6 * (signed_s - unsigned_s), 1),
        "signature_check_us_per_event": round(verify_us, 1),
    }


# -- the experiment -----------------------------------------------------------------------------


def run(work: Path, size: Size = SMALL) -> dict[str, Any]:
    tmp = work / "tmp"
    honest, patients = honest_vault(work, size)
    vault_id = KeySlotFile.load(honest / SLOTS_FILE).vault_id
    attacks: dict[str, Callable[[Path], None]] = {
        "role-in-table": attack.role_in_table,
        "forged-grant": attack.forged_grant,
        "unsigned-grant": attack.unsigned_grant,
        "altered-author": lambda d: attack.altered_author(d, vault_id),
        "resigned-own-key": lambda d: attack.resigned_own_key(d, vault_id),
        "dropped-signature": attack.dropped_signature,
        "copied-signature": attack.copied_signature,
        "forged-event": lambda d: attack.forged_event(d, patients[0]),
    }
    undetected: list[str] = []
    accepted = 0
    for i, (name, tamper) in enumerate(attacks.items()):
        data_dir = copy_vault(honest, work / f"forged-roles-{name}")
        tamper(data_dir)
        if size.cli_for_all or i == 0:
            accepted += record_vitals_by_cli(data_dir, patients[0], tmp, DESK, DESK_PASS, 99)
            passes = verify_passes(data_dir, tmp)
        else:
            accepted += record_vitals_in_process(data_dir, patients[0], DESK, DESK_PASS)
            passes = verify_passes_in_process(data_dir)
        if passes:
            undetected.append(name)
    honest_checks = {
        "honest": honest,
        "rotated": rotated_vault(honest, work),
        "migrated": migrated_vault(work),
    }
    false_alarms = [
        name
        for i, (name, d) in enumerate(honest_checks.items())
        if not (
            verify_passes(d, tmp) if size.cli_for_all or i == 0 else verify_passes_in_process(d)
        )
    ]
    # The honest clinician still records through the CLI after all this (no false refusal).
    honest_accepts = record_vitals_by_cli(honest, patients[0], tmp, DOC, DOC_PASS, 72)
    return {
        "forgeries_tried": len(attacks),
        "forgeries_detected": len(attacks) - len(undetected),
        "undetected": undetected,
        "forged_vitals_accepted": accepted,
        "honest_vaults_verified": len(honest_checks),
        "false_alarms": len(false_alarms),
        "false_alarm_vaults": false_alarms,
        "honest_vitals_accepted": honest_accepts,
        **signing_cost(work, size),
    }


def rows(figures: dict[str, Any]) -> list[report.Row]:
    s, f = SECTION, figures
    return [
        report.info(
            s,
            "forgeries detected by verify / tried",
            f"{f['forgeries_detected']} / {f['forgeries_tried']}",
        ),
        report.zero(s, "forgeries verify missed", f["forgeries_tried"] - f["forgeries_detected"]),
        report.zero(
            s, "forged vitals the app accepted after tampering", f["forged_vitals_accepted"]
        ),
        report.zero(
            s, "verify false alarms on honest vaults (new, rotated, migrated)", f["false_alarms"]
        ),
        report.at_least(
            s, "honest vitals accepted after the attacks", f["honest_vitals_accepted"], 1
        ),
        report.info(
            s,
            "appends/s unsigned -> signed",
            f"{f['appends_per_s_unsigned']} -> {f['appends_per_s_signed']}",
        ),
        report.info(
            s, "Ed25519 sign / check of one event (µs)", f"{f['sign_us']} / {f['check_us']}"
        ),
        report.info(s, "signing cost per appended event (µs)", f["signing_us_per_event"]),
        report.info(
            s, "signature check per event in verify (µs)", f["signature_check_us_per_event"]
        ),
    ]
