"""Experiment 15.1: concurrent writers of the key slots, parallel wrong guesses, two syncs.

Real `fieldchart` processes (the CLI as IT and scripts run it, the suite's cheap Argon2id) run
at once on one vault:

- `passwd` started at `timings` evenly spread instants during a `rotate-key`: afterwards every
  passphrase and the recovery secret must open the vault (before the key-slot lock, 9 of 17
  timings left a vault nothing opened), each user's passphrase as the commands reported;
- two `user add` at once (both users must open the vault if both reported success);
- two `passwd` of two users at once (both changes kept);
- `passwd` of a user racing `user disable` of that user (a disabled user's slot stays gone);
- `guesses` wrong passphrases in parallel processes: the last of them must be made to wait at
  least what as many guesses in a row would wait in total. The processes' sleeps are recorded,
  not slept (each parks at a barrier instead, so all are under way at once, as they would be
  while really sleeping); the throttle reserves start times in its file, so what the recorded
  waits add up to is what a real run would wait;
- two `fieldchart sync` at once against the FHIR peer: nothing on the server twice, no extra
  versions (a command pushed twice writes one), the same server state as one sync.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.store.crypto import FAST_FOR_TESTS
from app.store.errors import StoreError, WrongPassphraseError
from app.store.throttle import FREE_ATTEMPTS, delay_for
from app.store.vault import Vault
from tests.peer.harness import PeerServer
from tests.reliability import report
from tests.reliability.common import (
    ADMIN,
    ADMIN_PASS,
    DOC,
    DOC_PASS,
    PYTHON,
    REGISTRY,
    REPO,
    STANDARD_USERS,
    cli_env,
    copy_vault,
    has_traceback,
    make_vault,
    remember_output,
)
from tests.reliability.crash import _server_state, enrolled_template

SECTION = "15.1 Key slots: concurrent writers"
NEW_DOC_PASS = "doctor-new-passphrase"
NEW_ADMIN_PASS = "admin-new-passphrase"
BUSY_EXIT = 3  # docs/commands.md: could not be done now (a lock held), nothing changed


@dataclass(frozen=True)
class Size:
    timings: int  # passwd start instants during one rotate-key
    pairs: int  # trials of each two-writer race
    guesses: int  # parallel wrong guesses
    sync_pairs: int
    sync_commands: int


SMALL = Size(timings=3, pairs=1, guesses=6, sync_pairs=1, sync_commands=6)
FULL = Size(timings=17, pairs=6, guesses=16, sync_pairs=4, sync_commands=40)


# -- processes --------------------------------------------------------------------------------


def start(args: Sequence[str], user: str, passphrase: str, work: Path, **env: str) -> Any:
    """`fieldchart ARGS` started as its own process (not waited for)."""
    return subprocess.Popen(
        [PYTHON, "-m", "app.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**cli_env(user, passphrase, work / "tmp"), **env},
        cwd=REPO,
    )


@dataclass
class Outcome:
    code: int
    stderr: str
    stdout: str = ""


def finish(proc: Any, timeout: float = 120.0) -> Outcome:
    out, err = proc.communicate(timeout=timeout)
    stderr = err.decode("utf-8", "replace")
    remember_output(stderr)
    return Outcome(proc.returncode, stderr, out.decode("utf-8", "replace"))


def opens(data_dir: Path, user: str, passphrase: str) -> bool:
    vault = Vault.open(data_dir, sleep=lambda _: None)
    try:
        vault.unlock(user, passphrase)
    except StoreError:
        return False
    vault.lock()
    return True


def opens_with_recovery(data_dir: Path, secret: str) -> bool:
    vault = Vault.open(data_dir, sleep=lambda _: None)
    try:
        vault.unlock_with_recovery(secret)
    except StoreError:
        return False
    vault.lock()
    return True


def new_vault(data_dir: Path) -> str:
    """A vault with admin, doc and desk (cheap Argon2id); returns its recovery secret."""
    vault, recovery = Vault.create(data_dir, ADMIN, ADMIN_PASS, kdf=FAST_FOR_TESTS)
    try:
        for name, role, passphrase in STANDARD_USERS:
            vault.add_user(name, role, passphrase, kdf=FAST_FOR_TESTS)
    finally:
        vault.lock()
    REGISTRY.add_dir(data_dir)
    return recovery


# -- the slot races ---------------------------------------------------------------------------


@dataclass
class SlotFigures:
    rotation_timings: int = 0
    rotations_done: int = 0
    passwd_during_rotation_done: int = 0
    passwd_during_rotation_refused_busy: int = 0
    unopenable_vaults: int = 0  # no passphrase nor the recovery secret opens it
    credentials_not_as_reported: int = 0  # a reported change not in effect, or one not reported
    user_add_pairs: int = 0
    users_added: int = 0
    users_lost: int = 0
    passwd_pairs: int = 0
    passwd_changes: int = 0
    passwd_changes_lost: int = 0
    disable_races: int = 0
    disabled_users_revived: int = 0
    busy_refusals: int = 0
    unexpected_failures: int = 0
    tracebacks: int = 0
    problems: list[str] = field(default_factory=list)  # the CLI's own lines: no patient data
    seconds: float = 0.0

    def note(self, outcome: Outcome) -> None:
        self.tracebacks += has_traceback(outcome.stderr)
        if outcome.code == BUSY_EXIT:
            self.busy_refusals += 1
        elif outcome.code != 0:
            self.unexpected_failures += 1
            self.problems.append(f"exit {outcome.code}: {outcome.stderr.strip()[-300:]}")


def passwd_during_rotation(figures: SlotFigures, template: Path, recovery: str, work: Path) -> None:
    """`rotate-key` (as admin), then `passwd` of doc at instants spread over the rotation: the
    first at once, the others spread over how long the first rotation took."""
    whole = 0.0
    for i in range(figures.rotation_timings):
        data_dir = copy_vault(template, work / f"rotate-{i}")
        began = time.monotonic()
        rotating = start(["rotate-key", "--data-dir", str(data_dir)], ADMIN, ADMIN_PASS, work)
        time.sleep(whole * i / max(figures.rotation_timings - 1, 1))
        passwd = start(
            ["passwd", "--data-dir", str(data_dir), "--user", DOC],
            DOC,
            DOC_PASS,
            work,
            FIELDCHART_NEW_PASSPHRASE=NEW_DOC_PASS,
        )
        rotated, changed = finish(rotating), finish(passwd)
        whole = whole or time.monotonic() - began
        for outcome in (rotated, changed):
            figures.note(outcome)
        figures.rotations_done += rotated.code == 0
        figures.passwd_during_rotation_done += changed.code == 0
        figures.passwd_during_rotation_refused_busy += changed.code == BUSY_EXIT
        doc_pass = NEW_DOC_PASS if changed.code == 0 else DOC_PASS
        admin_opens = opens(data_dir, ADMIN, ADMIN_PASS)
        doc_opens = opens(data_dir, DOC, doc_pass)
        recovery_opens = opens_with_recovery(data_dir, recovery)
        if not (admin_opens or doc_opens or recovery_opens):
            figures.unopenable_vaults += 1
        elif not (admin_opens and doc_opens and recovery_opens):
            figures.credentials_not_as_reported += 1


def two_user_adds(figures: SlotFigures, template: Path, work: Path) -> None:
    for i in range(figures.user_add_pairs):
        data_dir = copy_vault(template, work / f"add-{i}")
        names = (f"nurse{i}a", f"nurse{i}b")
        procs = [
            start(
                ["user", "add", "--data-dir", str(data_dir), "--user", name, "--role", "staff"],
                ADMIN,
                ADMIN_PASS,
                work,
                FIELDCHART_NEW_PASSPHRASE=f"{name}-passphrase",
            )
            for name in names
        ]
        for name, outcome in zip(names, [finish(p) for p in procs], strict=True):
            figures.note(outcome)
            if outcome.code == 0:
                figures.users_added += 1
                figures.users_lost += not opens(data_dir, name, f"{name}-passphrase")


def two_passwds(figures: SlotFigures, template: Path, work: Path) -> None:
    for i in range(figures.passwd_pairs):
        data_dir = copy_vault(template, work / f"passwd-{i}")
        changes = ((ADMIN, ADMIN_PASS, NEW_ADMIN_PASS), (DOC, DOC_PASS, NEW_DOC_PASS))
        procs = [
            start(
                ["passwd", "--data-dir", str(data_dir), "--user", user],
                user,
                old,
                work,
                FIELDCHART_NEW_PASSPHRASE=new,
            )
            for user, old, new in changes
        ]
        for (user, _, new), outcome in zip(changes, [finish(p) for p in procs], strict=True):
            figures.note(outcome)
            if outcome.code == 0:
                figures.passwd_changes += 1
                figures.passwd_changes_lost += not opens(data_dir, user, new)


def passwd_racing_disable(figures: SlotFigures, template: Path, work: Path) -> None:
    for i in range(figures.disable_races):
        data_dir = copy_vault(template, work / f"disable-{i}")
        procs = [
            start(
                ["passwd", "--data-dir", str(data_dir), "--user", DOC],
                DOC,
                DOC_PASS,
                work,
                FIELDCHART_NEW_PASSPHRASE=NEW_DOC_PASS,
            ),
            start(
                ["user", "disable", "--data-dir", str(data_dir), "--user", DOC],
                ADMIN,
                ADMIN_PASS,
                work,
            ),
        ]
        changed, disabled = (finish(p) for p in procs)
        figures.note(disabled)
        if not (changed.code == 2 and "disabled" in changed.stderr):  # refused: that is right
            figures.note(changed)
        if disabled.code == 0 and (
            opens(data_dir, DOC, NEW_DOC_PASS) or opens(data_dir, DOC, DOC_PASS)
        ):
            figures.disabled_users_revived += 1


def slot_races(size: Size, work: Path) -> SlotFigures:
    began = time.monotonic()
    figures = SlotFigures(
        rotation_timings=size.timings,
        user_add_pairs=size.pairs,
        passwd_pairs=size.pairs,
        disable_races=size.pairs,
    )
    template = work / "slot-template"
    recovery = new_vault(template)
    passwd_during_rotation(figures, template, recovery, work)
    two_user_adds(figures, template, work)
    two_passwds(figures, template, work)
    passwd_racing_disable(figures, template, work)
    figures.seconds = round(time.monotonic() - began, 1)
    return figures


# -- parallel wrong guesses -------------------------------------------------------------------


def _guess(data_dir: str, barrier: Any, results: Any, index: int) -> None:
    """One process's wrong guess; its throttle's sleep is recorded, and spent at the barrier
    (every waiting guess is under way at once, as it would be while really sleeping)."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        barrier.wait(120)

    vault = Vault.open(Path(data_dir), sleep=sleep)
    asked_at = time.time()  # the throttle's clock: wall-clock seconds
    try:
        vault.unlock(ADMIN, f"wrong guess {index}")
        results.put((asked_at, "opened", slept))
    except WrongPassphraseError:
        results.put((asked_at, "refused", slept))


@dataclass
class GuessFigures:
    guesses: int = 0
    refused: int = 0
    failures_counted: int = 0
    required_s: float = 0.0  # what as many guesses in a row would wait in total
    # From the first guess asking to the start the throttle reserved for the last one (its
    # file's record): what the parallel guesses cost in waiting.
    spread_s: float = 0.0
    longest_single_wait_s: float = 0.0
    seconds: float = 0.0


def parallel_guesses(guesses: int, work: Path) -> GuessFigures:
    from app.store.throttle import Throttle
    from app.store.vault import THROTTLE_FILE

    began = time.monotonic()
    data_dir = make_vault(work / "guess-vault")
    # No fork of a (threaded) test process: a fork server that imported this module once.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    barrier = context.Barrier(guesses - FREE_ATTEMPTS)
    results = context.Queue()
    procs = [
        context.Process(target=_guess, args=(str(data_dir), barrier, results, i))
        for i in range(guesses)
    ]
    for p in procs:
        p.start()
    answers = [results.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(60)
    figures = GuessFigures(guesses=guesses)
    figures.refused = sum(1 for _, what, _ in answers if what == "refused")
    figures.failures_counted = Throttle(data_dir / THROTTLE_FILE).failures(ADMIN)
    figures.required_s = sum(delay_for(n) for n in range(guesses))
    reserved = json.loads((data_dir / THROTTLE_FILE).read_text())[ADMIN]["busy_until"]
    figures.spread_s = round(reserved - min(asked for asked, _, _ in answers), 3)
    figures.longest_single_wait_s = round(max(sum(s) for _, _, s in answers), 3)
    figures.seconds = round(time.monotonic() - began, 1)
    return figures


# -- two syncs at once ------------------------------------------------------------------------


@dataclass
class SyncFigures:
    pairs: int = 0
    both_done: int = 0
    second_refused_busy: int = 0
    failed_otherwise: int = 0
    duplicates_on_server: int = 0
    extra_versions_on_server: int = 0
    # Commands the two syncs report pushed, beyond what one sync of the same vault pushes: a
    # command pushed twice counts here even where the server stores no new version for it.
    pushed_twice: int = 0
    differs_from_one_sync: int = 0
    tracebacks: int = 0
    seconds: float = 0.0


def _versions(base_url: str, keys: Sequence[tuple[str, str]]) -> int:
    total = 0
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for resource_type, rid in keys:
            history = client.get(f"/{resource_type}/{rid}/_history").json()
            total += len(history.get("entry", []))
    return total


def _pushed(outcome: Outcome) -> int:
    """Commands a `sync --json` reports it pushed (0 if it did not run a cycle)."""
    if outcome.code != 0:
        return 0
    return int(json.loads(outcome.stdout.strip().splitlines()[-1])["pushed"])


def two_syncs(pairs: int, commands: int, peer: PeerServer, work: Path) -> SyncFigures:
    began = time.monotonic()
    figures = SyncFigures()
    template = enrolled_template(peer, work, commands, seed=15)
    peer.reset()
    one = copy_vault(template, work / "sync-one")
    alone = finish(start(["sync", "--data-dir", str(one), "--json"], ADMIN, ADMIN_PASS, work))
    if alone.code != 0:
        raise RuntimeError(f"the single sync failed: {alone.stderr}")
    clean = _server_state(peer.base_url)
    clean_versions = _versions(peer.base_url, sorted(clean))
    for i in range(pairs):
        figures.pairs += 1
        peer.reset()
        data_dir = copy_vault(template, work / f"sync-pair-{i}")
        procs = [
            start(["sync", "--data-dir", str(data_dir), "--json"], ADMIN, ADMIN_PASS, work)
            for _ in "ab"
        ]
        outcomes = [finish(p) for p in procs]
        figures.pushed_twice += max(sum(map(_pushed, outcomes)) - _pushed(alone), 0)
        figures.tracebacks += sum(has_traceback(o.stderr) for o in outcomes)
        codes = sorted(o.code for o in outcomes)
        figures.both_done += codes == [0, 0]
        figures.second_refused_busy += codes == [0, BUSY_EXIT]
        figures.failed_otherwise += codes not in ([0, 0], [0, BUSY_EXIT])
        server = _server_state(peer.base_url)
        figures.duplicates_on_server += len(set(server) - set(clean)) + sum(
            len(v) - 1 for v in server.values()
        )
        figures.differs_from_one_sync += sum(
            1 for k in set(clean) & set(server) if sorted(clean[k]) != sorted(server[k])
        ) + len(set(clean) - set(server))
        figures.extra_versions_on_server += max(
            _versions(peer.base_url, sorted(server)) - clean_versions, 0
        )
    figures.seconds = round(time.monotonic() - began, 1)
    return figures


# -- the experiment ---------------------------------------------------------------------------


def run(size: Size, work: Path, peer: PeerServer | None) -> dict[str, Any]:
    """Every race at `size`; the two syncs only with a peer."""
    figures: dict[str, Any] = {
        "slots": asdict(slot_races(size, work)),
        "guesses": asdict(parallel_guesses(size.guesses, work)),
    }
    if peer is not None:
        figures["sync"] = asdict(two_syncs(size.sync_pairs, size.sync_commands, peer, work))
    return figures


def rows(figures: dict[str, Any]) -> list[report.Row]:
    s = SECTION
    f = figures["slots"]
    g = figures["guesses"]
    out = [
        report.info(
            s,
            "passwd during rotate-key: timings / rotations done / passwd done / passwd refused "
            "(busy)",
            f"{f['rotation_timings']} / {f['rotations_done']} / "
            f"{f['passwd_during_rotation_done']} / {f['passwd_during_rotation_refused_busy']}",
        ),
        report.zero(s, "vaults no passphrase or recovery secret opens", f["unopenable_vaults"]),
        report.zero(
            s, "passphrases not as the commands reported", f["credentials_not_as_reported"]
        ),
        report.info(
            s,
            "two `user add` at once: pairs / users added",
            f"{f['user_add_pairs']} / {f['users_added']}",
        ),
        report.zero(s, "users added and lost", f["users_lost"]),
        report.info(
            s,
            "two `passwd` at once: pairs / changes done",
            f"{f['passwd_pairs']} / {f['passwd_changes']}",
        ),
        report.zero(s, "passphrase changes lost", f["passwd_changes_lost"]),
        report.info(s, "`passwd` racing `user disable`: trials", f["disable_races"]),
        report.zero(s, "disabled users revived", f["disabled_users_revived"]),
        report.info(s, "commands refused as busy (exit 3, nothing changed)", f["busy_refusals"]),
        report.zero(s, "commands failing otherwise", f["unexpected_failures"]),
        report.zero(s, "tracebacks", f["tracebacks"]),
        report.info(s, "parallel wrong guesses / refused", f"{g['guesses']} / {g['refused']}"),
        report.yes(s, "every parallel guess counted", g["failures_counted"] == g["guesses"]),
        waited_row(s, g),
    ]
    if "sync" in figures:
        y = figures["sync"]
        out += [
            report.info(
                s,
                "two `fieldchart sync` at once: pairs / both done / second refused (busy)",
                f"{y['pairs']} / {y['both_done']} / {y['second_refused_busy']}",
            ),
            report.zero(s, "sync pairs failing otherwise", y["failed_otherwise"]),
            report.zero(s, "resources on the server twice", y["duplicates_on_server"]),
            report.zero(
                s,
                "extra versions on the server (commands pushed twice)",
                y["extra_versions_on_server"],
            ),
            report.zero(
                s,
                "commands pushed twice (both syncs' reports vs one sync's)",
                y["pushed_twice"],
            ),
            report.zero(s, "resources differing from one sync's", y["differs_from_one_sync"]),
            report.zero(s, "sync tracebacks", y["tracebacks"]),
        ]
    return out


def waited_row(section: str, g: dict[str, Any]) -> report.Row:
    """The throttle's figure: required is a number of seconds, not a count (report.at_least)."""
    return report.Row(
        section,
        "throttle: parallel guesses spread over (s), vs what as many in a row wait",
        f"{g['spread_s']:g}",
        f">= {g['required_s']:g}",
        g["spread_s"] >= g["required_s"],
    )
