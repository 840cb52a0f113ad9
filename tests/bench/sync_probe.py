"""Child process of the benchmark: sync figures against the real FHIR peer (tests/peer).

    python -m tests.bench.sync_probe DATA_DIR USER PUSHES PULLS

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

    print(json.dumps(run(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
