"""Power cut while charting: a writer process is killed with SIGKILL at random moments.

After every kill the vault must open, verify, and hold every event whose append had returned.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from app.store.crypto import FAST_FOR_TESTS
from app.store.vault import Vault
from tests.store.helpers import ADMIN, PASSPHRASE

REPO_ROOT = Path(__file__).resolve().parents[2]
TRIALS = 20
SEED = 20240611


def wait_for_ready(out_file: Path, child: subprocess.Popen[bytes], err_file: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if out_file.read_bytes().startswith(b"ready\n"):
            return
        if child.poll() is not None:
            break
        time.sleep(0.01)
    child.kill()
    child.wait()
    pytest.fail(f"the writer never became ready:\n{err_file.read_text()[-3000:]}")


def committed_ids(out_file: Path) -> list[str]:
    """Ids the child printed after their append returned; a torn last line is ignored."""
    text = out_file.read_text()
    lines = text.split("\n")[:-1]  # only lines that were completely written
    assert lines[0] == "ready"
    return lines[1:]


@pytest.mark.slow
def test_every_acknowledged_event_survives_a_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "vault"
    vault, _ = Vault.create(data_dir, ADMIN, PASSPHRASE, kdf=FAST_FOR_TESTS)
    vault.lock()
    rng = random.Random(SEED)
    env = {**os.environ, "FIELDCHART_TEST_PASSPHRASE": PASSPHRASE}
    acknowledged: set[str] = set()
    per_trial: list[int] = []

    for trial in range(TRIALS):
        out_file, err_file = tmp_path / f"out-{trial}.txt", tmp_path / f"err-{trial}.txt"
        with out_file.open("wb") as out, err_file.open("wb") as err:
            child = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.store.crash_writer",
                    str(data_dir),
                    ADMIN,
                    str(trial),
                ],
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=err,
            )
        wait_for_ready(out_file, child, err_file)
        time.sleep(rng.uniform(0.2, 1.5))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL, (
            f"trial {trial}: the writer stopped by itself (exit {child.returncode}):\n"
            f"{err_file.read_text()[-3000:]}"
        )
        printed = committed_ids(out_file)
        per_trial.append(len(printed))
        acknowledged.update(printed)

        survivor = Vault.open(data_dir)
        survivor.unlock(ADMIN, PASSPHRASE)  # checks the tail of the log
        try:
            report = survivor.events.verify()  # every seal and chain link, head included
            with survivor.engine.connect() as conn:  # ids only: cheaper than decrypting all
                rows = conn.exec_driver_sql(
                    "SELECT event_id, stream_id, stream_version FROM events ORDER BY position"
                ).all()
        finally:
            survivor.lock()
        missing = acknowledged - {row.event_id for row in rows}
        assert not missing, f"trial {trial}: {len(missing)} acknowledged events were lost"
        assert report.events == len(rows) == report.head_position
        versions: dict[str, list[int]] = defaultdict(list)
        for row in rows:
            versions[row.stream_id].append(row.stream_version)
        assert all(v == list(range(1, len(v) + 1)) for v in versions.values())

    # Every kill landed while the child was appending, not before its first append.
    assert min(per_trial) > 0, per_trial
