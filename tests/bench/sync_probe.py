"""Child process of the benchmark: sync figures against the real FHIR peer (tests/peer).

    python -m tests.bench.sync_probe DATA_DIR USER PUSHES PULLS [--skip-real]

Measures the in-memory peer and the real FHIR server side by side (tests/bench/sync_run.py).

Reports "pending sync" while the sync engine (sync/clinic_sync.py: client_for, engine_for) cannot be
built yet, so the rest of the benchmark still runs.
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    try:
        from sync.clinic_sync import client_for, engine_for  # noqa: F401
    except Exception as exc:
        print(json.dumps({"status": f"pending sync: {type(exc).__name__}: {exc}"}))
        return 0
    from tests.bench.sync_run import run

    args = sys.argv[1:]
    skip_real = "--skip-real" in args
    data_dir, user, pushes, pulls = [a for a in args if a != "--skip-real"]
    print(json.dumps(run(data_dir, user, int(pushes), int(pulls), skip_real=skip_real)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
