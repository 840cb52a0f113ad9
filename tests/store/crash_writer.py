"""Child process for test_crash: unlock a vault and append events until killed.

    FIELDCHART_TEST_PASSPHRASE=... python -m tests.store.crash_writer DATA_DIR USER SEED

Prints "ready" once unlocked, then, after every append has returned (so is committed), one line
per appended event id, flushed at once. The parent kills this process with SIGKILL at a random
moment and checks that every printed id survived.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

from app.store.event_log import NewEvent
from app.store.vault import Vault
from tests.store.helpers import metadata

STREAMS = 4


def main(argv: list[str]) -> None:
    data_dir, user, seed = Path(argv[0]), argv[1], int(argv[2])
    rng = random.Random(seed)
    vault = Vault.open(data_dir)
    vault.unlock(user, os.environ["FIELDCHART_TEST_PASSPHRASE"])
    versions = {f"patient-{n}": vault.events.stream_version(f"patient-{n}") for n in range(STREAMS)}
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    while True:
        stream = f"patient-{rng.randrange(STREAMS)}"
        batch = [
            NewEvent(
                "NoteWritten",
                {"seed": seed, "text": "x" * rng.randrange(10, 1200)},
                metadata(user=user),
            )
            for _ in range(rng.randint(1, 3))
        ]
        vault.events.append(stream, versions[stream], batch)
        versions[stream] += len(batch)
        out.write("".join(f"{event.event_id}\n" for event in batch))
        out.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
