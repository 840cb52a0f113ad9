"""Child process of the sync benchmark: a new device's first sync against a full server, in a
fresh interpreter, so its RSS growth is the pull's own (in the process that filled the server,
memory freed by that work was reused and hid it).

    python -m tests.bench.pull_probe BASE_URL WORK_DIR [MARK]

MARK (an ISO 8601 instant): the device's watermarks are set there, so it pulls what the server
stored since (on a shared server, not every earlier run's data). Client credentials, when the
server needs them, come from the environment (tests/bench/sync_run.py ENV_*), never argv.

Prints one JSON line: seconds, resources pulled, requests, RSS before / peak / after.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from types import TracebackType

from sync.clinic_sync import engine_for
from sync.fhir.client import FhirClient
from tests.bench.measure import rss_mb
from tests.bench.sync_run import (
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_TOKEN_URL,
    CountingTransport,
    auth_from,
    make_device,
    set_watermarks,
)
from tests.sync.devices import server_time


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
    mark = datetime.fromisoformat(sys.argv[3]) if len(sys.argv) > 3 else None
    fresh = make_device(work, "c", clock_start=server_time(base_url))
    if mark is not None:
        set_watermarks(fresh, mark)
    auth = auth_from(
        os.environ.get(ENV_TOKEN_URL),
        os.environ.get(ENV_CLIENT_ID),
        os.environ.get(ENV_CLIENT_SECRET),
    )
    transport = CountingTransport()
    client = FhirClient(base_url, auth, transport=transport)
    engine = engine_for(fresh, client)
    if auth is not None:
        client.capabilities()  # the token is fetched before the clock starts, as on a device
    gc.collect()
    before = rss_mb()
    counted = transport.snapshot()
    with RssSampler() as sampler:
        start = time.perf_counter()
        report = engine.run_cycle()
        seconds = time.perf_counter() - start
    requests, sent, received = (b - a for a, b in zip(counted, transport.snapshot(), strict=True))
    gc.collect()
    out = {
        "pulled": report.pulled,
        "pull_s": round(seconds, 3),
        "pull_requests": requests,
        "pull_bytes_sent": sent,
        "pull_bytes_received": received,
        "pull_rss_before_mb": before,
        "pull_rss_peak_mb": sampler.peak,
        "pull_rss_after_mb": rss_mb(),
        "pull_report": report.to_json(),
        "patients_on_new_device": fresh.queries.patient_count(),
        "watermarks_from": sys.argv[3] if mark is not None else None,
    }
    client.close()
    fresh.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
