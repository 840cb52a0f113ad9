"""Experiment 15.10: the messages IT gets when the vault's surroundings fail.

Each case runs the CLI as a separate process, the way IT meets it, and checks the one line on
stderr, the exit code (docs/commands.md, "Exit codes") and that no traceback appears:

* locked: the vault's database held by another process, as `rotate-key` holds it (journal mode
  DELETE and a write transaction: `rekey.exclusive`), while `patients` opens it; and a writer
  holding the write lock of a WAL-mode vault while `exec` runs one command;
* full disk (a small tmpfs filled up; it needs root to mount): opening the vault; `exec` whose
  disk fills after its first acknowledged line (every later line must be refused with "the
  disk is full: this command was not saved"; after space is freed, re-running the batch shows
  which were stored: an acknowledged line must come back as a duplicate, a refused one must
  not); a wrong passphrase (refused as wrong, with the note that the failure could not be
  recorded, after at least the delay the counter already implies);
* an empty or blank `--token-file` (enroll and check-server).

No case may be reported as "not a FieldChart vault". Without a tmpfs (not root) the full-disk
cases are left out and `full_disk_simulated` says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.store import rekey
from app.store.keyslots import KeySlotFile, user_slot_id
from app.store.throttle import delay_for
from tests.reliability import report
from tests.reliability.common import (
    ADMIN,
    ADMIN_PASS,
    DOC,
    DOC_PASS,
    PYTHON,
    REPO,
    STANDARD_USERS,
    CliResult,
    cli,
    cli_env,
    has_traceback,
    make_vault,
)

SECTION = "15.10 Messages for IT: busy vault, full disk, empty token file"
NOT_A_VAULT = "not a FieldChart vault"
TMPFS_BYTES = 6 * 1024 * 1024
EXEC_LINES_AFTER_FULL = 4


@dataclass
class Case:
    name: str
    exit_code: int
    expected_exit: int
    message: str  # the stderr line (or the exec refusal) that was checked
    message_ok: bool
    traceback: bool
    said_not_a_vault: bool
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.exit_code == self.expected_exit
            and self.message_ok
            and not self.traceback
            and not self.said_not_a_vault
        )


def _case(
    name: str, result: CliResult, expected_exit: int, wanted: str, seconds: float = 0.0
) -> Case:
    line = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
    return Case(
        name=name,
        exit_code=result.returncode,
        expected_exit=expected_exit,
        message=line,
        message_ok=wanted in line and line.startswith("fieldchart: "),
        traceback=has_traceback(result.stderr),
        said_not_a_vault=NOT_A_VAULT in result.stderr,
        seconds=seconds,
    )


def _data_key(data_dir: Path) -> bytearray:
    return KeySlotFile.load(data_dir / "keyslots.json").unwrap(
        user_slot_id(ADMIN), ADMIN_PASS.encode()
    )


_REGISTER = {
    "type": "RegisterPatient",
    "given": "Juma",
    "family": "Mwita",
    "birth_date": "1980-04-23",
    "sex": "male",
}


def _line(command_id: str) -> bytes:
    return (json.dumps({**_REGISTER, "command_id": command_id}) + "\n").encode()


# -- a busy vault ---------------------------------------------------------------------------------


def open_during_rotation(template: Path, work: Path) -> Case:
    """`patients` while the database is held as `rotate-key` holds it."""
    data_dir = _copy(template, work / "rotating")
    with rekey.exclusive(data_dir / "vault.db", _data_key(data_dir)):
        started = time.monotonic()
        result = cli(["patients", "--data-dir", str(data_dir)], user=DOC, passphrase=DOC_PASS)
        took = time.monotonic() - started
    return _case("open while rotate-key holds the vault", result, 3, "the vault is busy", took)


def exec_while_another_writes(template: Path, work: Path) -> Case:
    """`exec` of one command while another process holds the write lock (WAL mode)."""
    data_dir = _copy(template, work / "writing")
    conn = rekey.raw_connect(data_dir / "vault.db", _data_key(data_dir))
    try:
        conn.execute("PRAGMA journal_mode = WAL").fetchone()
        conn.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        result = cli(
            ["exec", "--data-dir", str(data_dir)],
            user=DOC,
            passphrase=DOC_PASS,
            stdin=_line("busy-0001"),
        )
        took = time.monotonic() - started
    finally:
        conn.close()
    answers = result.json_lines()
    refusal = answers[0]["error"] if answers and not answers[0]["ok"] else ""
    case = _case("exec while another process writes", result, 3, "the vault is busy", took)
    if refusal:  # refused per line (the vault opened, the commit waited in vain)
        case.message = refusal
        case.message_ok = refusal.startswith("the vault is busy") and "not saved" in refusal
    return case


# -- a full disk ----------------------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(mount_point: Path, size: int = TMPFS_BYTES) -> Iterator[Path | None]:
    """A tmpfs of `size` bytes at `mount_point`, or None where it cannot be mounted."""
    mount_point.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        yield None
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        yield None
        return
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk refuses more; returns it (delete it to free the space)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    block = b"\0" * 65536
    try:
        while True:
            try:
                os.write(fd, block)
            except OSError:
                if len(block) == 512:
                    break
                block = block[: len(block) // 2]
    finally:
        os.close(fd)
    return filler


def _disk_env(disk: Path) -> dict[str, str]:
    """The CLI's log on the full disk too: one disk for everything, as on a clinic's PC."""
    return {"FIELDCHART_LOG_DIR": str(disk / "logs")}


def open_on_full_disk(disk: Path, template: Path) -> Case:
    data_dir = _copy(template, disk / "open")
    filler = fill(disk)
    try:
        result = cli(
            ["patients", "--data-dir", str(data_dir)],
            user=DOC,
            passphrase=DOC_PASS,
            extra_env=_disk_env(disk),
        )
    finally:
        filler.unlink()
    return _case("open on a full disk", result, 3, "the disk holding the vault is full")


@dataclass
class ExecOnFullDisk:
    case: Case
    acknowledged: int
    refused_disk_full: int
    acknowledged_not_stored: int
    refused_but_stored: int
    verify_exit: int


def exec_filling_the_disk(disk: Path, template: Path) -> ExecOnFullDisk:
    """One acknowledged line, then the disk fills, then more lines; then space comes back and
    the same batch shows which lines were stored."""
    data_dir = _copy(template, disk / "exec")
    ids = [f"full-{n:04d}" for n in range(1 + EXEC_LINES_AFTER_FULL)]
    env = {**cli_env(DOC, DOC_PASS), **_disk_env(disk)}
    proc = subprocess.Popen(
        [PYTHON, "-m", "app.cli", "exec", "--data-dir", str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(_line(ids[0]))
    proc.stdin.flush()
    answers = [json.loads(proc.stdout.readline())]
    filler = fill(disk)
    try:
        rest, stderr = proc.communicate(b"".join(_line(i) for i in ids[1:]), timeout=120)
        answers += [json.loads(line) for line in rest.decode().splitlines() if line.strip()]
    finally:
        filler.unlink()
    result = CliResult(proc.returncode, "", stderr.decode("utf-8", "replace"))
    acknowledged = {ids[n] for n, a in enumerate(answers) if a.get("ok")}
    refusals = [a for a in answers if not a.get("ok")]
    full = [a for a in refusals if a.get("kind") == "DiskFullError"]
    again = cli(
        ["exec", "--data-dir", str(data_dir)],
        user=DOC,
        passphrase=DOC_PASS,
        stdin=b"".join(_line(i) for i in ids),
    ).json_lines()
    stored = {ids[n] for n, a in enumerate(again) if a.get("ok") and a.get("duplicate")}
    verify = cli(["verify", "--data-dir", str(data_dir)], user=DOC, passphrase=DOC_PASS)
    message = full[0]["error"] if full else (refusals[0]["error"] if refusals else "")
    case = Case(
        name="exec while the disk fills",
        exit_code=result.returncode,
        expected_exit=3,
        message=message,
        message_ok=bool(full)
        and all(a["error"] == "the disk is full: this command was not saved" for a in full)
        and len(answers) == len(ids),
        traceback=has_traceback(result.stderr),
        said_not_a_vault=NOT_A_VAULT in result.stderr,
    )
    return ExecOnFullDisk(
        case=case,
        acknowledged=len(acknowledged),
        refused_disk_full=len(full),
        acknowledged_not_stored=len(acknowledged - stored),
        refused_but_stored=len(stored - acknowledged),
        verify_exit=verify.returncode,
    )


def wrong_passphrase_on_full_disk(disk: Path, template: Path) -> Case:
    """Three wrong passphrases counted (free), then the disk fills and a fourth comes."""
    data_dir = _copy(template, disk / "guess")
    for _ in range(3):
        cli(["status", "--data-dir", str(data_dir)], user=DOC, passphrase="not-the-passphrase")
    filler = fill(disk)
    try:
        started = time.monotonic()
        result = cli(
            ["status", "--data-dir", str(data_dir)],
            user=DOC,
            passphrase="still-not-the-passphrase",
            extra_env=_disk_env(disk),
        )
        took = time.monotonic() - started
    finally:
        filler.unlink()
    case = _case("wrong passphrase on a full disk", result, 2, "wrong passphrase", took)
    case.message_ok = case.message_ok and "could not be recorded" in case.message
    return case


# -- an empty token file --------------------------------------------------------------------------


def empty_token_files(template: Path, work: Path) -> list[Case]:
    cases = []
    for name, content in (("empty", ""), ("blank", " \n\n")):
        token = work / f"token-{name}.txt"
        token.write_text(content)
        data_dir = _copy(template, work / f"enroll-{name}")
        server = ["--server", "http://127.0.0.1:9/fhir", "--auth", "bearer", "--pull-everything"]
        enroll = cli(["enroll", "--data-dir", str(data_dir), *server, "--token-file", str(token)])
        cases.append(_case(f"enroll with an {name} --token-file", enroll, 2, "is empty"))
        check = cli(["check-server", *server, "--token-file", str(token)])
        cases.append(_case(f"check-server with an {name} --token-file", check, 2, "is empty"))
    return cases


# -- the experiment -------------------------------------------------------------------------------


def _copy(template: Path, target: Path) -> Path:
    shutil.copytree(template, target)
    return target


def run(work: Path) -> dict[str, Any]:
    """Every case once; the figures of the table."""
    work.mkdir(parents=True, exist_ok=True)
    template = make_vault(work / "template", users=STANDARD_USERS)
    registered = cli(
        ["exec", "--data-dir", str(template)], user=DOC, passphrase=DOC_PASS, stdin=_line("c-1")
    )
    assert registered.returncode == 0, registered.stderr
    jobs: list[Callable[[], Any]] = [
        lambda: open_during_rotation(template, work),
        lambda: exec_while_another_writes(template, work),
        lambda: empty_token_files(template, work),
    ]
    cases: list[Case] = []
    on_full_disk: ExecOnFullDisk | None = None
    with small_disk(work / "disk") as disk, ThreadPoolExecutor(max_workers=3) as pool:
        lock_jobs = [pool.submit(job) for job in jobs]
        if disk is not None:  # one disk: its cases one after another
            disk_template = _copy(template, disk / "template")
            cases.append(open_on_full_disk(disk, disk_template))
            on_full_disk = exec_filling_the_disk(disk, disk_template)
            cases.append(on_full_disk.case)
            cases.append(wrong_passphrase_on_full_disk(disk, disk_template))
        for future in lock_jobs:
            found = future.result()
            cases.extend(found if isinstance(found, list) else [found])
    return figures(cases, on_full_disk)


def figures(cases: list[Case], on_full_disk: ExecOnFullDisk | None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "cases": len(cases),
        "full_disk_simulated": on_full_disk is not None,
        "wrong_exit_code": sum(c.exit_code != c.expected_exit for c in cases),
        "wrong_message": sum(not c.message_ok for c in cases),
        "tracebacks": sum(c.traceback for c in cases),
        "said_not_a_vault": sum(c.said_not_a_vault for c in cases),
        "details": [asdict(c) for c in cases],
    }
    if on_full_disk is not None:
        result.update(
            exec_acknowledged=on_full_disk.acknowledged,
            exec_refused_disk_full=on_full_disk.refused_disk_full,
            acknowledged_not_stored=on_full_disk.acknowledged_not_stored,
            refused_but_stored=on_full_disk.refused_but_stored,
            verify_exit_after=on_full_disk.verify_exit,
        )
    guess = [c for c in cases if c.name == "wrong passphrase on a full disk"]
    if guess:
        result["wrong_passphrase_full_disk_s"] = round(guess[0].seconds, 2)
        result["counter_delay_s"] = delay_for(3)
    return result


def rows(f: dict[str, Any]) -> list[report.Row]:
    s = SECTION
    out = [
        report.info(s, "cases (CLI processes)", f["cases"]),
        report.zero(s, "cases with the wrong exit code", f["wrong_exit_code"]),
        report.zero(s, "cases without their own plain message", f["wrong_message"]),
        report.zero(s, "tracebacks", f["tracebacks"]),
        report.zero(s, "cases reported as 'not a FieldChart vault'", f["said_not_a_vault"]),
        report.info(s, "full disk simulated (a tmpfs: root only)", f["full_disk_simulated"]),
    ]
    if f["full_disk_simulated"]:
        out += [
            report.info(
                s, "exec lines acknowledged before/after the disk filled", f["exec_acknowledged"]
            ),
            report.at_least(
                s, "exec lines refused: the disk is full", f["exec_refused_disk_full"], 1
            ),
            report.zero(s, "lines acknowledged but not stored", f["acknowledged_not_stored"]),
            report.zero(s, "lines refused but stored", f["refused_but_stored"]),
            report.zero(s, "verify exit code once space is back", f["verify_exit_after"]),
            report.yes(
                s,
                "wrong passphrase on a full disk waited the counter's delay",
                f["wrong_passphrase_full_disk_s"] >= f["counter_delay_s"],
            ),
        ]
    return out
