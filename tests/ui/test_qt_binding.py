"""The Qt binding itself must survive a clinic day: PySide6 6.12.0 lost a reference to
`True` on every Signal.emit() from Python, and a process aborted after about a thousand
emits (the app emits at least two per operation). Run in a child process: the failure is a
fatal abort, not an exception."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from PySide6.QtCore import QCoreApplication, QObject, Signal

class Probe(QObject):
    plain = Signal()
    carrying = Signal(object)

app = QCoreApplication(sys.argv)
probe = Probe()
before = sys.getrefcount(True), sys.getrefcount(None)
for _ in range(20_000):
    probe.plain.emit()
    probe.carrying.emit(1)
after = sys.getrefcount(True), sys.getrefcount(None)
print(after[0] - before[0], after[1] - before[1])
"""


def test_signals_emitted_all_day_leak_no_references() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    true_drift, none_drift = (int(x) for x in result.stdout.split())
    assert abs(true_drift) < 10 and abs(none_drift) < 10
