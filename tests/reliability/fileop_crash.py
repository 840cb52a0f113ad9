"""Experiment 15.2 / 15.11: a crash after every single file operation of init, passwd, user add,
user disable, rotate-key (with and without a new vault key), backup and restore --force.

Deterministic, not random kills: a clean run of each operation counts its file operations
(every write, fsync, rename, unlink, mkdir, rmdir and chmod goes through app/store/fileops, and
SQLite's own writes are marked there too); then, for every k, a fresh copy of the vault runs the
operation and is stopped right after operation k (`SimulatedCrash`, raised again by any later
file operation, so no cleanup code runs -- as after SIGKILL). The next run then opens the vault
(which finishes or undoes what was cut short) and must find:

- the vault opening with the admin's passphrase, every other passphrase that should work
  (the old or the new one while the change may not have committed), and the recovery secret;
- every event that was there before, and `verify` passing;
- no temp file, hidden copy, journal or key-slot copy left anywhere (the backup's folder too),
  and every file 0600;
- init and restore able to run again, and a backup file, if there, complete.

For a sample of k the recovery itself is crashed after each of its own file operations, and
recovered again.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import shutil
import stat
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from app.domain import commands as c
from app.domain.roles import Actor, Role
from app.services.clinic import open_clinic
from app.store import crypto, fileops, vault_credentials, vault_rotation
from app.store.backup import MEMBERS, StagedRestore, create_backup, read_manifest
from app.store.crypto import KdfParams
from app.store.errors import BackupError, StoreError, VaultNotFoundError
from app.store.keyslots import RECOVERY_SLOT, KeySlotFile, normalise_recovery, user_slot_id
from app.store.rekey import raw_connect
from app.store.vault import Vault
from app.store.vault_creation import confirm_created
from tests.reliability import report
from tests.reliability.common import (
    ADMIN,
    ADMIN_PASS,
    DESK,
    DESK_PASS,
    DOC,
    DOC_PASS,
    NAMES,
    REGISTRY,
    STANDARD_USERS,
)

SECTION_CRASH = "15.2 Crash after every file operation"
SECTION_LEFTOVERS = "15.11 Leftovers after a crash"
NEW_PASS = "a-brand-new-passphrase"
# Argon2id at its minimum: this experiment tries hundreds of credentials, and what it tests is
# which files hold which key, not the cost of guessing (the suite's FAST_FOR_TESTS is 8 MiB).
KDF = KdfParams(iterations=1, memory_kib=64, lanes=1)
NURSE, NURSE_PASS = "nurse", "nurse-passphrase"
FLOWS = (
    "init",
    "passwd",
    "user add",
    "user disable",
    "rotate-key",
    "rotate-key --new-vault-key",
    "backup",
    "restore --force",
    "restore (new directory)",
)
NEW_DIRECTORY = ("init", "restore (new directory)")  # no vault there before


@dataclass
class Template:
    vault: Path
    recovery: str
    events: frozenset[str]  # event ids of the template
    backup: Path  # a backup of the template (restore installs it)
    backup_events: frozenset[str]


@dataclass
class Trial:
    root: Path
    template: Template
    flow: str
    secrets: list[str] = field(default_factory=list)  # recovery secrets made by the operation

    @property
    def data_dir(self) -> Path:
        return self.root / "vault"

    @property
    def out(self) -> Path:
        return self.root / "out" / "backup.zip"


# -- the operations -------------------------------------------------------------------------------


def _unlocked(t: Trial, user: str = ADMIN, passphrase: str = ADMIN_PASS) -> Vault:
    vault = Vault.open(t.data_dir)
    vault.unlock(user, passphrase)
    return vault


def _init(t: Trial) -> None:
    vault, secret = Vault.create(t.data_dir, ADMIN, ADMIN_PASS, kdf=KDF, confirmed=False)
    vault.lock()
    t.secrets.append(secret)  # shown (as `init` prints it), then confirmed
    confirm_created(t.data_dir)


def _passwd(t: Trial) -> None:
    Vault.open(t.data_dir).change_passphrase(DOC, DOC_PASS, NEW_PASS)


def _with_admin(action: Callable[[Vault], object]) -> Callable[[Trial], None]:
    def run(t: Trial) -> None:
        vault = _unlocked(t)
        try:
            action(vault)
        finally:
            vault.lock()

    return run


def _rotate(new_vault_key: bool) -> Callable[[Trial], None]:
    def run(t: Trial) -> None:
        real = vault_credentials.new_recovery_secret

        def remembered() -> str:  # the new secret, known to the experiment even after a crash
            t.secrets.append(real())
            return t.secrets[-1]

        with mock.patch.object(vault_rotation, "new_recovery_secret", remembered):
            vault = _unlocked(t)
            vault.rotate_keys(new_vault_key=new_vault_key, passphrase=ADMIN_PASS)

    return run


def _backup(t: Trial) -> None:
    vault = _unlocked(t)
    try:
        create_backup(vault, t.out, overwrite=True)
    finally:
        vault.lock()


def _restore(t: Trial) -> None:
    with StagedRestore(t.template.backup, t.data_dir, force=True) as staged:
        staged.install(ADMIN, ADMIN_PASS)


def _restore_new(t: Trial) -> None:
    with StagedRestore(t.template.backup, t.data_dir) as staged:
        staged.install(ADMIN, ADMIN_PASS)


OPERATIONS: dict[str, Callable[[Trial], None]] = {
    "init": _init,
    "passwd": _passwd,
    "user add": _with_admin(lambda v: v.add_user(NURSE, Role.STAFF, NURSE_PASS, kdf=KDF)),
    "user disable": _with_admin(lambda v: v.disable_user(DESK)),
    "rotate-key": _rotate(False),
    "rotate-key --new-vault-key": _rotate(True),
    "backup": _backup,
    "restore --force": _restore,
    "restore (new directory)": _restore_new,
}


# -- crashing ---------------------------------------------------------------------------------


@contextlib.contextmanager
def crash_at(k: int | None, labels: list[str], power_cut: Path | None = None) -> Iterator[None]:
    """Record every file operation's label; raise SimulatedCrash right after the k-th (with
    `power_cut`, also losing what was not durable yet)."""

    def hook(label: str) -> None:
        labels.append(label)
        if k is not None and len(labels) == k:
            raise fileops.SimulatedCrash(label)

    with fileops.crash_hook(hook, power_cut=power_cut):
        yield


def _run(
    action: Callable[[Trial], object], t: Trial, k: int | None, *, power_cut: bool = False
) -> tuple[bool, list[str]]:
    """Run `action(t)`, crashing after file operation k; returns (crashed, labels)."""
    labels: list[str] = []
    shadows = t.root / "power-cut"  # hard links of replaced files: same file system
    if power_cut:
        shadows.mkdir(exist_ok=True)
    try:
        with crash_at(k, labels, shadows if power_cut else None):
            action(t)
    except fileops.SimulatedCrash:
        return True, labels
    finally:
        if power_cut:
            shadows.rmdir()
    return False, labels


def recover(t: Trial) -> str:
    """The next run: open the vault (which finishes or undoes an interrupted operation); an
    unfinished init is created again. Returns what happened (`check` judges the result)."""
    try:
        Vault.open(t.data_dir)
    except VaultNotFoundError as exc:
        if t.flow not in NEW_DIRECTORY:
            return f"refused: {exc}"
        OPERATIONS[t.flow](t)  # nothing there yet: the admin runs it again
        return "again"
    except StoreError as exc:
        return f"refused: {exc}"
    return "opened"


# -- checking ---------------------------------------------------------------------------------


def _opens(data_dir: Path, slot_id: str, secret: str) -> bool:
    """Whether `secret` unwraps a data key from this slot that opens vault.db (no Argon2id
    beyond the slot's own, no migration: cheap enough to try every credential)."""
    try:
        slots = KeySlotFile.load(data_dir / "keyslots.json")
    except StoreError:
        return False
    if slot_id not in slots.slots:
        return False
    raw = normalise_recovery(secret, slots.recovery_alphabet) if slot_id == RECOVERY_SLOT else None
    try:
        key = slots.unwrap(slot_id, raw if raw is not None else secret.encode())
    except crypto.DecryptionError:
        return False
    try:
        conn = raw_connect(data_dir / "vault.db", key)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return True
        except Exception:
            return False
        finally:
            conn.close()
    finally:
        crypto.wipe(key)


def _events(data_dir: Path) -> tuple[frozenset[str], bool]:
    """The event ids of the vault (opened as admin), and whether the whole chain verifies."""
    vault = Vault.open(data_dir)
    vault.unlock(ADMIN, ADMIN_PASS)
    try:
        ok = True
        try:
            vault.events.verify()
        except Exception:
            ok = False
        return frozenset(e.event_id for e in vault.events.read_all()), ok
    finally:
        vault.lock()


def leftovers(root: Path) -> list[str]:
    """Temp files, hidden copies, journals and key-slot copies under `root`, and files others
    may read."""
    found = []
    for path in sorted(root.rglob("*")):
        rel, name = path.relative_to(root), path.name
        in_vault = rel.parent.name in ("vault", "out") or rel.parent.name.startswith("replaced-")
        hidden = name.startswith(".") or name.endswith((".tmp", ".partial", ".next"))
        journal = name in ("rotation-commit.json", "restore-journal.json", "init-incomplete.json")
        slot_copy = name.startswith("keyslots") and not name.endswith(".lock") and not in_vault
        if hidden or journal or slot_copy or name.endswith(".next.json"):
            found.append(str(rel))
        elif path.is_file() and stat.S_IMODE(path.stat().st_mode) & 0o077:
            found.append(f"{rel} (mode {stat.S_IMODE(path.stat().st_mode):o})")
    return found


@dataclass
class Outcome:
    unopenable: list[str] = field(default_factory=list)
    lost_events: int = 0
    verify_failures: int = 0
    leftovers: list[str] = field(default_factory=list)
    rerun_failures: list[str] = field(default_factory=list)


def check(flow: str, t: Trial, out: Outcome) -> None:
    """After the next run: the vault opens with what it should, holds every event, verifies,
    left nothing behind, and the operation can run again."""
    d, tpl = t.data_dir, t.template
    expected = [(user_slot_id(ADMIN), ADMIN_PASS)]
    if flow == "init":
        expected.append((RECOVERY_SLOT, t.secrets[-1]))
    else:
        recovery = [tpl.recovery, *t.secrets]
        if not any(_opens(d, RECOVERY_SLOT, s) for s in recovery):
            out.unopenable.append(f"{flow}: no recovery secret opens the vault")
        if flow == "passwd" and not any(_opens(d, "user:doc", p) for p in (DOC_PASS, NEW_PASS)):
            out.unopenable.append(f"{flow}: neither doc's old nor new passphrase opens it")
        if flow in ("rotate-key", "user add", "restore --force", "restore (new directory)"):
            expected += [(user_slot_id(DOC), DOC_PASS), (user_slot_id(DESK), DESK_PASS)]
    for slot_id, secret in expected:
        if not _opens(d, slot_id, secret):
            out.unopenable.append(f"{flow}: {slot_id} does not open the vault")
    try:
        ids, ok = _events(d)
    except Exception as exc:
        out.unopenable.append(f"{flow}: the admin cannot open it ({type(exc).__name__}: {exc})")
        return
    if flow == "init":
        before: frozenset[str] = frozenset()
    elif flow == "restore (new directory)":
        before = tpl.backup_events
    elif flow == "restore --force" and ids == tpl.backup_events:
        before = tpl.backup_events
        replaced = [p for p in d.iterdir() if p.name.startswith("replaced-")]
        if len(replaced) != 1:
            out.leftovers.append(f"{flow}: {len(replaced)} replaced-* folders")
        else:
            try:
                old, old_ok = _events(replaced[0])
            except Exception:
                old, old_ok = frozenset(), False
            out.lost_events += len(tpl.events - old)
            out.verify_failures += not old_ok
    else:
        before = tpl.events
    out.lost_events += len(before - ids)
    out.verify_failures += not ok
    out.leftovers += [f"{flow}: {item}" for item in leftovers(t.root)]
    rerun = {"init": _init, "restore --force": _restore}.get(flow)
    if flow == "restore (new directory)":
        rerun = _restore  # over the vault it restored: with --force
    if flow == "init" and t.secrets and (d / "keyslots.json").exists():
        rerun = None  # a finished vault: `init` rightly refuses
    if flow == "backup" and t.out.exists() and not _complete_backup(t.out):
        out.rerun_failures.append(f"{flow}: {t.out.name} is there but incomplete")
    if rerun is not None:
        try:
            rerun(t)
        except Exception as exc:
            out.rerun_failures.append(f"{flow}: running it again failed ({type(exc).__name__})")


def _complete_backup(path: Path) -> bool:
    """A backup file whose members all match the checksums of its manifest."""
    try:
        manifest = read_manifest(path)
        members = manifest["members"]
        assert isinstance(members, dict)
        with zipfile.ZipFile(path) as zf:
            return all(
                hashlib.sha256(zf.read(name)).hexdigest() == members[name]["sha256"]
                for name in MEMBERS
            )
    except (BackupError, KeyError, OSError, zipfile.BadZipFile):
        return False


# -- the experiment ---------------------------------------------------------------------------


def make_template(work: Path, events: int) -> Template:
    vault_dir = work / "template" / "vault"
    vault, recovery = Vault.create(vault_dir, ADMIN, ADMIN_PASS, kdf=KDF)
    try:
        for name, role, passphrase in STANDARD_USERS:
            vault.add_user(name, role, passphrase, kdf=KDF)
    finally:
        vault.lock()
    REGISTRY.add_dir(vault_dir)
    rng = random.Random(15)
    backup = work / "template" / "backup.zip"

    def register(n: int) -> None:
        v = Vault.open(vault_dir)
        v.unlock(DOC, DOC_PASS)
        clinic = open_clinic(v)
        try:
            for _ in range(n):
                clinic.commands.execute(
                    c.RegisterPatient(
                        given=NAMES.make(rng),
                        family=NAMES.make(rng),
                        birth_date="1990-01-02",
                        sex="female",
                    ),
                    Actor(DOC, Role.CLINICIAN),
                )
        finally:
            clinic.close()

    register(events)
    admin = Vault.open(vault_dir)
    admin.unlock(ADMIN, ADMIN_PASS)
    try:
        create_backup(admin, backup)
    finally:
        admin.lock()
    backup_events, _ = _events(vault_dir)
    register(1)  # the vault a restore replaces differs from the backup
    return Template(vault_dir, recovery, _events(vault_dir)[0], backup, backup_events)


def _fresh_root(work: Path, flow: str, n: int, tag: str = "") -> Path:
    return work / "trials" / f"{flow.replace(' ', '_').replace('-', '')}-{n}{tag}"


def _snapshot(root: Path) -> Path:
    """Where the state right after a crash is kept, to crash its recovery too."""
    return root.with_name(root.name + "-crashed")


def _fresh(work: Path, template: Template, flow: str, n: int, tag: str = "") -> Trial:
    root = _fresh_root(work, flow, n, tag)
    for path in (root, _snapshot(root)):
        shutil.rmtree(path, ignore_errors=True)
    (root / "out").mkdir(parents=True)
    if flow not in NEW_DIRECTORY:
        shutil.copytree(template.vault, root / "vault")
    return Trial(root, template, flow)


def run(
    work: Path,
    *,
    events: int = 5,
    recovery_samples: int = 1,
    power_cuts: tuple[str, ...] = FLOWS,
) -> dict[str, Any]:
    """The experiment. For `recovery_samples` crash points per operation (those whose recovery
    does the most; all of them with a negative value) the recovery is crashed too, at each of
    its file operations. With a positive value, init and restore into a new directory are left
    out: their recovery is running the operation again, whose every crash point is tried
    anyway (in the small size this keeps the suite's time down). The operations in
    `power_cuts` are also cut at every k by a simulated power cut (losing what was not yet
    durable), then recovered and checked the same way."""
    template = make_template(work, events)
    out = Outcome()
    tried: Counter[str] = Counter()
    recovery_tried: Counter[str] = Counter()
    power_cut: Counter[str] = Counter()
    ops: dict[str, int] = {}
    labels_seen: set[str] = set()
    secrets_of: dict[tuple[str, int], list[str]] = {}
    for flow in FLOWS:
        operation = OPERATIONS[flow]
        clean = _fresh(work, template, flow, 0)
        crashed, labels = _run(operation, clean, None)
        assert not crashed
        ops[flow] = len(labels)
        labels_seen.update(labels)
        recovery_ops: dict[int, int] = {}  # k -> file operations of the recovery after it
        for k in range(1, len(labels) + 1):
            t = _fresh(work, template, flow, k)
            crashed, _ = _run(operation, t, k)
            tried[flow] += crashed
            secrets_of[flow, k] = list(t.secrets)
            shutil.copytree(t.root, _snapshot(t.root))
            _, recovery_labels = _run(recover, t, None)
            recovery_ops[k] = len(recovery_labels)
            check(flow, t, out)
            shutil.rmtree(t.root, ignore_errors=True)
            if flow in power_cuts:
                t = _fresh(work, template, flow, k, "-power")
                crashed, _ = _run(operation, t, k, power_cut=True)
                power_cut[flow] += crashed
                _run(recover, t, None)
                check(flow, t, out)
                shutil.rmtree(t.root, ignore_errors=True)
        # The crash points whose recovery does the most: those are crashed again, at each of
        # the recovery's own file operations, then recovered once more.
        busiest = sorted(
            (k for k in recovery_ops if recovery_ops[k]), key=lambda k: -recovery_ops[k]
        )
        if recovery_samples >= 0 and flow in NEW_DIRECTORY:
            busiest = []
        for k in busiest[: len(busiest) if recovery_samples < 0 else recovery_samples]:
            snapshot = _snapshot(_fresh_root(work, flow, k))
            for j in range(1, recovery_ops[k] + 1):
                r = Trial(snapshot.with_name(f"{snapshot.name}-r{j}"), template, flow)
                r.secrets = list(secrets_of[flow, k])
                shutil.copytree(snapshot, r.root)
                crashed, _ = _run(recover, r, j)
                recovery_tried[flow] += crashed
                _run(recover, r, None)
                check(flow, r, out)
                shutil.rmtree(r.root, ignore_errors=True)
        for k in recovery_ops:
            shutil.rmtree(_snapshot(_fresh_root(work, flow, k)), ignore_errors=True)
    return {
        "file_operations": ops,
        "crash_points": dict(tried),
        "recovery_crash_points": dict(recovery_tried),
        "power_cut_points": dict(power_cut),
        "operation_kinds": sorted({label.split(" ")[0] for label in labels_seen}),
        "unopenable": len(out.unopenable),
        "unopenable_examples": out.unopenable[:5],
        "lost_events": out.lost_events,
        "verify_failures": out.verify_failures,
        "leftovers": len(out.leftovers),
        "leftover_examples": out.leftovers[:5],
        "rerun_failures": len(out.rerun_failures),
        "rerun_examples": out.rerun_failures[:5],
    }


def rows(figures: dict[str, Any]) -> list[report.Row]:
    s, s11 = SECTION_CRASH, SECTION_LEFTOVERS
    crashes = figures["crash_points"]
    out = [
        report.info(
            s,
            "crash points tried (file operations of a clean run) per operation",
            ", ".join(f"{flow} {crashes.get(flow, 0)}" for flow in FLOWS),
        ),
        report.at_least(s, "operations covered", len(crashes), len(FLOWS)),
        report.info(
            s,
            "recoveries crashed at each of their own file operations",
            sum(figures["recovery_crash_points"].values()),
        ),
        report.info(
            s,
            "power cuts (un-fsynced writes, renames and removals lost) tried",
            sum(figures["power_cut_points"].values()),
        ),
        report.zero(
            s,
            "vaults not opening with a passphrase or secret that should work",
            figures["unopenable"],
        ),
        report.zero(s, "events lost", figures["lost_events"]),
        report.zero(s, "vaults failing `verify`", figures["verify_failures"]),
        report.zero(
            s11,
            "leftover temp files, hidden copies, journals or key-slot copies",
            figures["leftovers"],
        ),
        report.zero(
            s11,
            "init or restore failing when run again; incomplete backup files",
            figures["rerun_failures"],
        ),
    ]
    return out
