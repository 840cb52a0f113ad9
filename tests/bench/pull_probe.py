"""Child process of the sync benchmark: a new device's first sync against a full server, in a
fresh interpreter, so its RSS growth is the pull's own (in the process that filled the server,
memory freed by that work was reused and hid it).

    python -m tests.bench.pull_probe BASE_URL WORK_DIR

Prints one JSON line: seconds, resources pulled, RSS before / peak / after.
"""

from __future__ import annotations

import gc
import json
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

from sync.clinic_sync import engine_for
from sync.fhir.client import FhirClient
from tests.bench.measure import rss_mb
from tests.bench.sync_run import make_device


class RssSampler:
    """Peak RSS of this process while the block runs, sampled every 20 ms."""

    def __init__(self) -> None:
        self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def main() -> int:
    base_url, work = sys.argv[1], Path(sys.argv[2])
    fresh = make_device(work, "c")
    client = FhirClient(base_url)
    engine = engine_for(fresh, client)
    gc.collect()
    before = rss_mb()
    with RssSampler() as sampler:
        start = time.perf_counter()
        report = engine.run_cycle()
        seconds = time.perf_counter() - start
    gc.collect()
    out = {
        "pulled": report.pulled,
        "pull_s": round(seconds, 3),
        "pull_rss_before_mb": before,
        "pull_rss_peak_mb": sampler.peak,
        "pull_rss_after_mb": rss_mb(),
        "pull_report": report.to_json(),
        "patients_on_new_device": fresh.queries.patient_count(),
    }
    client.close()
    fresh.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
