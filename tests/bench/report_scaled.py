"""The monthly report on a clinic's read models copied `k` times over (patients, chart items,
appointments under new ids): the read path at 20,000 patients when generating such a clinic
through the commands would take hours. Measured twice: with the copy's outbox as generated
(every command pending: the generator never syncs) and with it marked synced (a device that
syncs). Reproduce:

    PYTHONPATH=. .venv/bin/python -m tests.bench.report_scaled --patients 2000 --times 10
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from app.domain.roles import Actor, Role
from app.services.clinic import open_clinic
from app.services.indicators.service import ReportService
from app.store.crypto import FAST_FOR_TESTS
from app.store.database import write_transaction
from app.store.reference_data import bundled_catalog
from app.store.vault import Vault
from tests.bench.bulk import cached_vault, working_copy
from tests.bench.generator import CLINICIANS, PASSPHRASE, Params, SimClock
from tests.bench.report_probe import last_full_month

COPIES = {
    "ci_items": "item_id || :tag, patient_id || :tag, kind, status, entered_in_error, data,"
    " clinical_time, recorded_at, recorded_by, position",
    "pi_patients": "patient_id || :tag, given, family, birth_date, sex, phone, phone_digits,"
    " address, identifiers, sort_key, registered_at",
    "sc_appointments": "appointment_id || :tag, patient_id || :tag, clinician, start, start_utc,"
    " end_utc, day, status, reason",
}


def timed(service: ReportService, actor: Actor, month: Any, runs: int = 3) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        service.export(actor, month, "csv")
        times.append(round(time.perf_counter() - started, 3))
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--times", type=int, default=10)
    args = parser.parse_args()
    params = Params(patients=args.patients)
    vault_dir, _facts = cached_vault(params, kdf=FAST_FOR_TESTS)
    with working_copy(vault_dir) as data_dir:
        vault = Vault.open(data_dir)
        vault.unlock(CLINICIANS[0], PASSPHRASE)
        # The clinic first: bringing the read models up to date must not undo the copies.
        clinic = open_clinic(vault, clock=SimClock(params.end), catalog=bundled_catalog())
        with write_transaction(vault.engine) as conn:
            for k in range(1, args.times):
                for table, columns in COPIES.items():
                    conn.exec_driver_sql(
                        f"INSERT INTO {table} SELECT {columns.replace(':tag', '?')} FROM {table}"
                        " WHERE patient_id NOT LIKE '%#%'",
                        (f"#{k}",) * columns.count(":tag"),
                    )
        actor = Actor(CLINICIANS[0], Role.CLINICIAN)
        service = ReportService(clinic.vault, clinic.catalog)
        month = last_full_month(params.end)
        with write_transaction(vault.engine) as conn:
            patients = conn.exec_driver_sql("SELECT count(*) FROM pi_patients").scalar()
            items = conn.exec_driver_sql("SELECT count(*) FROM ci_items").scalar()
        report: dict[str, Any] = {"patients": patients, "chart_items": items, "month": str(month)}
        report["all_pending_s"] = timed(service, actor, month)
        with write_transaction(vault.engine) as conn:
            conn.exec_driver_sql("UPDATE outbox SET status = 'synced'")
        report["synced_s"] = timed(service, actor, month)
        started = time.perf_counter()
        service.series(actor, month)
        report["twelve_months_synced_s"] = round(time.perf_counter() - started, 3)
        clinic.close()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
