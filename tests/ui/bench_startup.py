"""Benchmark: launch to a usable main window, and selecting a patient to a painted chart,
with a vault of N patients (default 10,000). Not a test; prints JSON.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.ui.bench_startup [--dir DIR] [-n 10000]

The vault uses the default Argon2id cost (RFC 9106 second option), so "unlock" is what a person
waits for. It is built once in DIR (re-used on later runs: building 10,000 patients commits
10,000 durable transactions). Phases:

* ``app_ms``: QApplication and the style sheet;
* ``unlock_ms``: Vault.open + unlock (Argon2id, key check, tail verification) + open_clinic;
* ``window_ms``: main window built, shown, and the first page of the patient list painted;
* ``launch_to_usable_ms``: the three together (process start and imports excluded: see
  ``imports_ms``);
* ``chart_ms``: selecting a patient in the list -> chart loaded off-thread and painted
  (median of ``--charts`` patients, each with vitals, a diagnosis, an allergy, a prescription
  and a note), and ``chart_first_ms`` for the first one.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.domain import commands as c  # noqa: E402
from app.domain.roles import Role  # noqa: E402
from app.main import build_backend  # noqa: E402
from app.ui import style  # noqa: E402
from app.ui.app_controller import AppController  # noqa: E402
from app.ui.preferences import Preferences  # noqa: E402

IMPORTED = time.perf_counter()
USER, PASSPHRASE = "bench.clinician", "bench passphrase"


def build(data_dir: Path, count: int) -> None:
    backend = build_backend(data_dir)
    created = backend.create_vault("admin", "admin passphrase")
    assert backend.confirm_created is not None
    backend.confirm_created()
    backend.users(created.clinic).add_user(USER, Role.CLINICIAN, PASSPHRASE)
    created.clinic.close()
    clinic = backend.unlock(USER, PASSPHRASE)
    actor, run = clinic.vault.actor, clinic.commands.execute
    for i in range(count):
        pid = run(
            c.RegisterPatient(
                given=f"Given{i % 997}",
                family=f"Family{i}",
                birth_date=f"{1940 + i % 80}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                sex=("female", "male")[i % 2],
                identifiers=(c.Identifier("National ID", f"{10_000_000 + i}"),),
            ),
            actor,
        ).patient_id
        if i % 10 == 0:  # every tenth patient has a small chart
            run(
                c.RecordVitals(
                    patient_id=pid, systolic=120 + i % 30, diastolic=80, heart_rate=70 + i % 20
                ),
                actor,
            )
            run(c.RecordDiagnosis(patient_id=pid, code="I10"), actor)
            run(c.RecordAllergy(patient_id=pid, substance="Peanut"), actor)
            run(
                c.PrescribeMedication(
                    patient_id=pid,
                    drug="amlodipine",
                    dose=5,
                    dose_unit="mg",
                    route="oral",
                    frequency="QD",
                ),
                actor,
            )
            run(c.AddNote(patient_id=pid, text="Bench note"), actor)
    clinic.close()


def wait(app: QApplication, condition: object, timeout_s: float = 60) -> None:
    deadline = time.perf_counter() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.perf_counter() > deadline:
            raise TimeoutError
        app.processEvents()
        time.sleep(0.001)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--charts", type=int, default=15)
    args = parser.parse_args()
    data_dir = (args.dir or Path(tempfile.mkdtemp())) / "vault"
    built_s = None
    if not (data_dir / "keyslots.json").exists():
        t = time.perf_counter()
        build(data_dir, args.n)
        built_s = time.perf_counter() - t

    t0 = time.perf_counter()
    app = QApplication(sys.argv)
    style.apply(app)
    t_app = time.perf_counter()
    backend = build_backend(data_dir)
    settings = QSettings(str(data_dir.parent / "bench.ini"), QSettings.Format.IniFormat)
    controller = AppController(app, backend, Preferences(settings))
    clinic = backend.unlock(USER, PASSPHRASE)
    t_unlock = time.perf_counter()
    controller.open_session(clinic)
    window = controller.window
    assert window is not None
    window.resize(1280, 720)
    wait(app, lambda: window.patients.searches_done > 0)
    window.repaint()
    t_window = time.perf_counter()

    chart = window.chart
    times: list[float] = []
    count = clinic.queries.patient_count()
    charted = [  # patients with a small chart: every tenth
        p
        for p in clinic.queries.search_patients("Family1", limit=400)
        if int(p.family.removeprefix("Family")) % 10 == 0
    ][: args.charts]
    window.patients.model.set_rows(charted)
    for row, patient in enumerate(charted):
        start = time.perf_counter()
        window.patients.table.selectRow(row)
        wait(
            app,
            lambda p=patient: (
                chart.current is not None and chart.current.patient.patient_id == p.patient_id
            ),
        )
        times.append((time.perf_counter() - start) * 1000)
    controller.quit()
    print(
        json.dumps(
            {
                "patients": count,
                "built_s": round(built_s, 1) if built_s else "re-used",
                "imports_ms": round((IMPORTED - STARTED) * 1000),
                "app_ms": round((t_app - t0) * 1000),
                "unlock_ms": round((t_unlock - t_app) * 1000),
                "window_ms": round((t_window - t_unlock) * 1000),
                "launch_to_usable_ms": round((t_window - t0) * 1000),
                "chart_first_ms": round(times[0]),
                "chart_ms": round(statistics.median(times[1:] or times)),
                "chart_max_ms": round(max(times)),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
