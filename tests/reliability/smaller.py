"""Experiment 15.12: the smaller items.

* Redaction: a device whose push fails on a server that names the patient's path in its
  answer (`Patient/<id>`, the id chosen by the client through `exec`); afterwards neither
  `status --json` nor `diagnose --json` may contain that id (stored and shown redacted).
* Patient ids and search terms off the command line: `chart --patient-file -`,
  `patients --search-file`, `audit --patient-file`, `remote-find --query-file`,
  `remote-fetch --server-id-file` read them from a file or stdin; the chart read through stdin
  must equal the one read through the argument.
* Quarantine: N distinct bad server entries quarantined again in each of M cycles must leave
  N rows (each seen M times), at a cost per cycle that does not grow; `status --json` must
  count all N (it used to count at most 200).
* FHIR ids "." and "..": refused by every id check (request paths, mapping, references,
  settings) and by `exec` (client-chosen ids).
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.services.clinic import open_clinic
from app.store.crypto import FAST_FOR_TESTS
from app.store.database import read_transaction
from app.store.vault import Vault
from tests.reliability import report
from tests.reliability.common import (
    ADMIN,
    ADMIN_PASS,
    DOC,
    DOC_PASS,
    STANDARD_USERS,
    CliResult,
    cli,
    make_vault,
)

SECTION = "15.12 Smaller: redaction, ids off the command line, quarantine, ids '.' and '..'"
SECRET_ID = "pat-clinic-chosen-0042"


# -- redaction ------------------------------------------------------------------------------------


class NamingServer:
    """A FHIR server that finds nothing and answers every write, and every read by id, with a
    500: after a push whose answer failed, the device looks its patient up by id
    (`GET Patient/<id>`, sync/server_ids.py find_on_server), and that error names the id."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                fake.paths.append(self.path)
                path = self.path.split("?")[0]
                if path.endswith("/metadata"):
                    self._answer(200, _capabilities())
                elif "?" not in self.path and re.search(r"/fhir/[A-Z][A-Za-z]+/[^/]+$", path):
                    self._refuse()  # a read by id: the path names the patient
                else:
                    self._answer(200, {"resourceType": "Bundle", "type": "searchset", "total": 0})

            def _refuse(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                fake.paths.append(self.path)
                self._answer(
                    500,
                    {
                        "resourceType": "OperationOutcome",
                        "issue": [
                            {
                                "severity": "error",
                                "code": "exception",
                                "diagnostics": f"could not handle {self.path}",
                            }
                        ],
                    },
                )

            def do_POST(self) -> None:
                # A transaction answered "created" without the resources (return=minimal): the
                # device then reads each from its location, `GET Patient/<id>`, which fails.
                length = int(self.headers.get("Content-Length") or 0)
                sent = json.loads(self.rfile.read(length) or b"{}")
                fake.paths.append(self.path)
                entries = [
                    {"response": {"status": "201 Created", "location": _location(e)}}
                    for e in sent.get("entry") or []
                ]
                self._answer(
                    200,
                    {"resourceType": "Bundle", "type": "transaction-response", "entry": entries},
                )

            do_PUT = _refuse

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/fhir"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> NamingServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _location(entry: dict[str, Any]) -> str:
    resource = entry.get("resource") or {}
    url = str((entry.get("request") or {}).get("url") or "")
    kind = str(resource.get("resourceType") or url.split("/")[0].split("?")[0])
    return f"{kind}/{resource.get('id') or 'new'}/_history/1"


def _capabilities() -> dict[str, Any]:
    interactions = [{"code": c} for c in ("read", "vread", "update", "create", "search-type")]
    types = [
        *("Patient", "Encounter", "Observation", "Condition", "AllergyIntolerance"),
        *("MedicationRequest", "Appointment", "DocumentReference", "AuditEvent", "Group"),
    ]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "resource": [
                    {"type": t, "interaction": interactions, "updateCreate": True} for t in types
                ],
            }
        ],
    }


def redaction(work: Path) -> dict[str, Any]:
    data_dir = make_vault(work / "redaction", users=STANDARD_USERS)
    register = {
        "type": "RegisterPatient",
        "patient_id": SECRET_ID,
        "given": "Neema",
        "family": "Kisanga",
        "birth_date": "1990-01-02",
        "sex": "female",
    }
    cli(
        ["exec", "--data-dir", str(data_dir)],
        user=DOC,
        passphrase=DOC_PASS,
        stdin=(json.dumps(register) + "\n").encode(),
    )
    with NamingServer() as server:
        enrolled = cli(
            [
                "enroll",
                "--data-dir",
                str(data_dir),
                "--server",
                server.base_url,
                "--pull-everything",
            ]
        )
        synced = cli(["sync", "--data-dir", str(data_dir)])
    status = cli(["status", "--data-dir", str(data_dir), "--json"])
    diagnose = cli(["diagnose", "--data-dir", str(data_dir), "--json"])
    last_error = json.loads(status.stdout).get("last_error") if status.returncode == 0 else None
    return {
        "enrolled": enrolled.returncode == 0,
        "sync_failed": synced.returncode != 0,
        # The error as the server's answer made it (sync's own stderr, not stored) named it.
        "server_named_the_id": SECRET_ID in synced.stderr,
        "last_error": last_error,
        "id_in_status": int(SECRET_ID in status.stdout),
        "id_in_diagnose": int(SECRET_ID in diagnose.stdout),
        "status_exit": status.returncode,
        "diagnose_exit": diagnose.returncode,
    }


# -- ids and search terms off the command line ----------------------------------------------------


def private_arguments(work: Path) -> dict[str, Any]:
    data_dir = make_vault(work / "private-args", users=STANDARD_USERS)
    register = {
        "type": "RegisterPatient",
        "patient_id": "pat-private-0001",
        "given": "Baraka",
        "family": "Odhiambo",
        "birth_date": "1975-06-07",
        "sex": "male",
    }
    line = (json.dumps(register) + "\n").encode()
    cli(["exec", "--data-dir", str(data_dir)], user=DOC, passphrase=DOC_PASS, stdin=line)
    base = ["--data-dir", str(data_dir), "--json"]

    def as_doc(args: list[str], stdin: bytes | None = None) -> CliResult:
        return cli([*args, *base], user=DOC, passphrase=DOC_PASS, stdin=stdin)

    by_argument = as_doc(["chart", "pat-private-0001"])
    by_stdin = as_doc(["chart", "--patient-file", "-"], b"pat-private-0001\n")
    search_file = work / "search.txt"
    search_file.write_text("Odhiambo\n")
    found = as_doc(["patients", "--search-file", str(search_file)])
    audit = as_doc(["audit", "--patient-file", "-"], b"pat-private-0001")
    both = as_doc(["chart", "pat-private-0001", "--patient-file", "-"], b"pat-private-0001")
    empty = as_doc(["chart", "--patient-file", "-"], b"\n")

    def chart_of(result: Any) -> Any:
        data = json.loads(result.stdout)
        return {k: v for k, v in data.items() if k != "as_of"}

    patients = json.loads(found.stdout) if found.returncode == 0 else []
    return {
        "chart_same_by_stdin": by_stdin.returncode == 0
        and chart_of(by_stdin) == chart_of(by_argument),
        "search_by_file_found": any(p.get("patient_id") == "pat-private-0001" for p in patients),
        "audit_by_stdin_ok": audit.returncode == 0 and "pat-private-0001" in audit.stdout,
        "both_refused_exit": both.returncode,
        "empty_refused_exit": empty.returncode,
    }


# -- quarantine -----------------------------------------------------------------------------------


def _bad_entry(n: int) -> str:
    return json.dumps(
        {"resourceType": "Observation", "id": f"bad-{n}", "meta": {"versionId": "1"}, "status": 7}
    )


def quarantine(work: Path, entries: int, cycles: int) -> dict[str, Any]:
    """`entries` distinct bad server entries quarantined again in each of `cycles` cycles,
    through the same gateway call the pull makes."""
    data_dir = work / f"quarantine-{entries}"
    vault, _ = Vault.create(data_dir, ADMIN, ADMIN_PASS, kdf=FAST_FOR_TESTS)
    start = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    now = [start]
    clinic = open_clinic(vault, clock=lambda: now[0])
    bodies = [_bad_entry(n) for n in range(entries)]
    seconds: list[float] = []
    growth: list[int] = []
    try:
        for cycle in range(cycles):
            now[0] = start + timedelta(hours=cycle)
            before = _checkpointed_size(vault, data_dir)
            began = time.perf_counter()
            for n, body in enumerate(bodies):
                clinic.sync_gateway.quarantine(
                    "Observation", f"bad-{n}", "status: not a FHIR code", body
                )
            seconds.append(time.perf_counter() - began)
            growth.append(_checkpointed_size(vault, data_dir) - before)
        with read_transaction(vault.engine) as conn:
            rows, least, most = conn.exec_driver_sql(
                "SELECT count(*), min(times_seen), max(times_seen) FROM quarantine"
            ).one()
        listed = clinic.sync_gateway.quarantined(5)
    finally:
        clinic.close()
        vault.lock()
    status = cli(["status", "--data-dir", str(data_dir), "--json"])
    counted = json.loads(status.stdout)["quarantined"] if status.returncode == 0 else None
    return {
        "entries": entries,
        "cycles": cycles,
        "rows": int(rows),
        "times_seen_min": int(least or 0),
        "times_seen_max": int(most or 0),
        "seconds_per_cycle": [round(s, 2) for s in seconds],
        "growth_bytes_per_cycle": growth,
        "status_count": counted,
        "listed_newest_last_seen": str(listed[0]["last_seen_at"]) if listed else None,
    }


def _checkpointed_size(vault: Vault, data_dir: Path) -> int:
    """The database's size with the WAL folded in: what the vault keeps, not what waits."""
    with vault.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    return sum(p.stat().st_size for p in data_dir.glob("vault.db*"))


# -- ids "." and ".." -----------------------------------------------------------------------------


def dot_ids(work: Path) -> dict[str, Any]:
    from app.domain.errors import ValidationError
    from app.domain.values import item_id
    from app.services.settings import _FHIR_ID
    from sync.fhir.bundle import check_id
    from sync.fhir.mapping.common import FHIR_ID, parse_reference

    accepted: list[str] = []
    for bad in (".", ".."):
        checks = {
            "check_id": _raises(lambda bad=bad: check_id(bad), ValueError),
            "mapping FHIR_ID": FHIR_ID.fullmatch(bad) is None,
            "settings id": _FHIR_ID.fullmatch(bad) is None,
            "reference": parse_reference(f"Patient/{bad}") is None,
            "domain item id": _raises(lambda bad=bad: item_id(bad, "patient_id"), ValidationError),
        }
        accepted += [f"{name} {bad!r}" for name, refused in checks.items() if not refused]
    data_dir = make_vault(work / "dot-ids", users=STANDARD_USERS)
    register = {
        "type": "RegisterPatient",
        "patient_id": "..",
        "given": "Dot",
        "family": "Dot",
        "birth_date": "1990-01-02",
        "sex": "female",
    }
    result = cli(
        ["exec", "--data-dir", str(data_dir)],
        user=DOC,
        passphrase=DOC_PASS,
        stdin=(json.dumps(register) + "\n").encode(),
    )
    if not result.json_lines() or result.json_lines()[0].get("ok"):
        accepted.append("exec patient_id '..'")
    legal = ["...", "a.b", "pat-1"]
    wrongly_refused = [i for i in legal if _raises(lambda i=i: check_id(i), ValueError)]
    return {"accepted": accepted, "legal_ids_refused": wrongly_refused}


def _raises(call: Any, kind: type[BaseException]) -> bool:
    try:
        call()
    except kind:
        return True
    return False


# -- the experiment -------------------------------------------------------------------------------


def run(work: Path, quarantine_entries: int, cycles: int = 3) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    return {
        "redaction": redaction(work),
        "private_arguments": private_arguments(work),
        "quarantine": quarantine(work, quarantine_entries, cycles),
        "dot_ids": dot_ids(work),
    }


def rows(f: dict[str, Any]) -> list[report.Row]:
    s = SECTION
    r, p, q, d = f["redaction"], f["private_arguments"], f["quarantine"], f["dot_ids"]
    per_cycle = ", ".join(f"{x:.1f}" for x in q["seconds_per_cycle"])
    growth = ", ".join(f"{b / 1e6:.1f}" for b in q["growth_bytes_per_cycle"])
    return [
        report.yes(
            s, "a failing push named the client-chosen patient id", r["server_named_the_id"]
        ),
        report.zero(s, "that id in `status --json`", r["id_in_status"]),
        report.zero(s, "that id in `diagnose --json`", r["id_in_diagnose"]),
        report.yes(s, "`chart --patient-file -` equals `chart <id>`", p["chart_same_by_stdin"]),
        report.yes(s, "`patients --search-file` finds the patient", p["search_by_file_found"]),
        report.yes(s, "`audit --patient-file -` works", p["audit_by_stdin_ok"]),
        report.info(s, "quarantine: bad entries x cycles", f"{q['entries']} x {q['cycles']}"),
        report.zero(s, "quarantine rows beyond one per bad entry", q["rows"] - q["entries"]),
        report.yes(
            s,
            "every entry counted once per cycle",
            q["times_seen_min"] == q["cycles"] == q["times_seen_max"],
        ),
        report.info(s, "quarantine seconds per cycle", per_cycle),
        report.info(s, "vault growth per cycle (MB)", growth),
        report.yes(s, "`status` counts every quarantined entry", q["status_count"] == q["entries"]),
        report.zero(s, "checks accepting the id '.' or '..'", len(d["accepted"])),
        report.zero(s, "legal ids with dots refused", len(d["legal_ids_refused"])),
    ]
