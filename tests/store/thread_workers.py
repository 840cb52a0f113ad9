"""Child process for test_event_log: many threads append to and read one unlocked vault.

    python -m tests.store.thread_workers DATA_DIR THREADS APPENDS_PER_THREAD

Creates a vault (test KDF) in DATA_DIR, runs the threads, and prints one JSON line
{"errors": [...], "events": N}. Exit code 0 only if every thread finished without an error.
"""

from __future__ import annotations

import faulthandler
import json
import sys
import threading
from pathlib import Path

from app.store.crypto import FAST_FOR_TESTS
from app.store.vault import Vault
from tests.store.helpers import ADMIN, PASSPHRASE, new_event


def main(argv: list[str]) -> int:
    faulthandler.enable()
    data_dir, threads, appends = Path(argv[0]), int(argv[1]), int(argv[2])
    vault, _ = Vault.create(data_dir, ADMIN, PASSPHRASE, kdf=FAST_FOR_TESTS)
    errors: list[str] = []
    start = threading.Barrier(threads)

    def work(n: int) -> None:
        stream = f"worker-{n}"
        try:
            start.wait(timeout=30)
            for version in range(appends):
                vault.events.append(stream, version, [new_event(worker=n, i=version)])
                assert len(vault.events.read_stream(stream)) == version + 1
        except Exception as exc:
            errors.append(f"worker {n}: {type(exc).__name__}: {exc}"[:300])

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    events = vault.events.verify().events if not errors else -1
    vault.lock()
    print(json.dumps({"errors": errors, "events": events}), flush=True)
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
