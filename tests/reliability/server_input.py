"""Experiment 4: bad input from the server. A fake FHIR server (loopback http.server in a thread)
serves real resources — captured once from the peer after a device pushed a chart of every
kind — and, per case, breaks one search answer: invalid JSON, a wrong resourceType, Bundles
with garbage entries, resources that fail mapping, huge pages, `next` links to another host...

For every case a fresh device runs a sync cycle against it. The cycle must return (not raise),
the offending item must be in quarantine (`SyncGateway.quarantined()`, shown by
`fieldchart status`), the valid resources of the same page and of every other resource type must
be pulled, and a second cycle — the server fixed and a new patient added — must pull the new
patient: one bad answer never stops sync.
"""

from __future__ import annotations

import copy
import http.server
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from app.domain import commands as c
from app.services.clinic import open_clinic
from app.store.crypto import FAST_FOR_TESTS
from app.store.vault import Vault
from sync.clinic_sync import engine_for
from sync.fhir.client import FhirClient
from sync.fhir.mapping import PULL_TYPES
from tests.clinic_fixtures import prescription
from tests.peer.harness import PeerServer
from tests.reliability.common import NAMES, REGISTRY, cli, scanned_patient
from tests.sync.devices import PASSPHRASE, STAFF, make_device

Resource = dict[str, Any]
Answer = tuple[int, dict[str, str], bytes]
# A case: given (resource type, the valid resources the server would list), an answer or None.
Tamper = Callable[[str, list[Resource], str], Answer | None]


# -- the fake server -------------------------------------------------------------------------------


def searchset(
    resources: list[Any], next_url: str | None = None, raw_entries: list[Any] | None = None
) -> Resource:
    entries = (
        raw_entries
        if raw_entries is not None
        else [
            {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ]
    )
    bundle: Resource = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def fhir_json(body: Any, status: int = 200) -> Answer:
    return status, {"Content-Type": "application/fhir+json"}, json.dumps(body).encode()


class FakeFhir:
    """Lists `resources` per type (honouring `_lastUpdated=ge`), unless `tamper` answers."""

    def __init__(self) -> None:
        self.resources: dict[str, list[Resource]] = {}
        self.tamper: Tamper | None = None
        self.requests: list[str] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else every answer waits for a delayed ACK

            def do_GET(self) -> None:
                fake.requests.append(self.path)
                status, headers, body = fake.answer(self.path)
                cut = headers.pop("X-Cut-At", None)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if cut is not None:  # announce the whole body, send part, hang up
                    self.wfile.write(body[: int(cut)])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                status, headers, body = fhir_json(
                    {
                        "resourceType": "OperationOutcome",
                        "issue": [{"severity": "error", "code": "not-supported"}],
                    },
                    400,
                )
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FakeFhir:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def answer(self, path: str) -> Answer:
        parts = urlsplit(path)
        resource_type = parts.path.strip("/")
        query = parse_qs(parts.query)
        listed = self.resources.get(resource_type, [])
        since = (query.get("_lastUpdated") or [""])[0]
        if since.startswith("ge"):
            bound = _parse(since[2:])
            listed = [r for r in listed if bound is None or (_parse(_stamp(r)) or bound) >= bound]
        if self.tamper is not None:
            tampered = self.tamper(resource_type, [copy.deepcopy(r) for r in listed], path)
            if tampered is not None:
                return tampered
        return fhir_json(searchset(listed))


def _stamp(resource: Any) -> Any:
    meta = resource.get("meta") if isinstance(resource, dict) else None
    return meta.get("lastUpdated") if isinstance(meta, dict) else None


def _parse(text: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


# -- valid resources, captured from the peer -------------------------------------------------------


@dataclass
class Corpus:
    first: dict[str, list[Resource]]  # served from the first cycle on
    later: dict[str, list[Resource]]  # added before the second cycle (a new patient)
    later_patient: str


def capture(peer: PeerServer, work: Path) -> Corpus:
    """Push one chart of every kind (and a second patient) to the peer; read it all back."""
    peer.reset()
    device = make_device(work, "corpus", peer.base_url)
    REGISTRY.add_dir(work / "corpus")
    try:
        rng = random.Random(11)
        run = device.run
        pid = run(
            scanned_patient(rng, "1971-08-09", "male", "+255 713 444 555", "Plot 9 Kilimo Road"),
            STAFF,
        ).patient_id
        enc = run(c.StartEncounter(patient_id=pid, reason="Cough")).item_ids[0]
        run(
            c.RecordVitals(
                patient_id=pid, encounter_id=enc, heart_rate=88.0, systolic=130.0, diastolic=85.0
            )
        )
        run(c.RecordDiagnosis(patient_id=pid, text="Acute bronchitis", encounter_id=enc))
        run(c.RecordAllergy(patient_id=pid, substance="penicillin", reaction="rash"))
        run(prescription(pid, "azithromycin", dose=500.0, frequency="QD", duration_days=3))
        run(c.AddNote(patient_id=pid, text="Review in a week", encounter_id=enc))
        run(
            c.ScheduleFollowUp(patient_id=pid, clinician="doc", start="2031-02-03T09:00:00+03:00"),
            STAFF,
        )
        device.sync()
        first = _all(device.client)
        time.sleep(0.01)  # the new patient's stamps come strictly later
        other = run(
            c.RegisterPatient(
                given=NAMES.make(rng), family=NAMES.make(rng), birth_date="1990-01-01", sex="female"
            ),
            STAFF,
        ).patient_id
        run(
            c.ScheduleFollowUp(
                patient_id=other, clinician="doc", start="2031-02-04T09:00:00+03:00"
            ),
            STAFF,
        )
        device.sync()
        everything = _all(device.client)
    finally:
        device.client.close()
        device.clinic.close()
    known = {(t, r["id"]) for t, rs in first.items() for r in rs}
    later = {t: [r for r in rs if (t, r["id"]) not in known] for t, rs in everything.items()}
    return Corpus(first, later, other)


def _all(client: FhirClient) -> dict[str, list[Resource]]:
    return {t: list(client.iter_search(t, {"_count": "1000"})) for t in PULL_TYPES}


# -- cases -----------------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    target: str  # the resource type whose answer is broken
    tamper: Tamper
    min_quarantined: int = 1
    same_page_valid_kept: bool = True  # valid resources of the broken page must still arrive


def _on(target: str, make: Callable[[list[Resource], str], Answer]) -> Tamper:
    def tamper(resource_type: str, listed: list[Resource], path: str) -> Answer | None:
        return make(listed, path) if resource_type == target else None

    return tamper


def _raw(body: bytes, content_type: str = "application/fhir+json", **headers: str) -> Answer:
    return 200, {"Content-Type": content_type, **headers}, body


def _with_extra(extra: list[Any]) -> Callable[[list[Resource], str], Answer]:
    return lambda listed, path: fhir_json(
        searchset(listed, raw_entries=[*_entries(listed), *extra])
    )


def _entries(listed: list[Resource]) -> list[Resource]:
    return [{"resource": r, "search": {"mode": "match"}} for r in listed]


def _mutated(source: Resource, change: Callable[[Resource], None]) -> Resource:
    bad = copy.deepcopy(source)
    bad["id"] = str(uuid.uuid4())
    bad.setdefault("meta", {})["versionId"] = str(uuid.uuid4())
    change(bad)
    return bad


def cases(corpus: Corpus) -> list[Case]:
    first = corpus.first
    patient = first["Patient"][0]
    observation = next(r for r in first["Observation"] if "valueQuantity" in r)

    def with_bad(
        target: str, change: Callable[[Resource], None]
    ) -> Callable[[list[Resource], str], Answer]:
        source = observation if target == "Observation" else first[target][0]
        return lambda listed, path: fhir_json(searchset([*listed, _mutated(source, change)]))

    def huge(listed: list[Resource], path: str) -> Answer:
        many = []
        for _ in range(2000):
            clone = copy.deepcopy(patient)
            clone["id"] = str(uuid.uuid4())
            clone["meta"]["versionId"] = str(uuid.uuid4())
            many.append(clone)
        giant = _mutated(
            patient,
            lambda r: r.update(
                text={"status": "generated", "div": "<div>" + "x" * 5_000_000 + "</div>"}
            ),
        )
        return fhir_json(searchset([*listed, *many, giant]))

    def set_path(path: list[Any], value: Any) -> Callable[[Resource], None]:
        def change(r: Resource) -> None:
            node: Any = r
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value

        return change

    def drop(key: str) -> Callable[[Resource], None]:
        return lambda r: r.pop(key, None)

    def on(
        name: str,
        target: str,
        make: Callable[[list[Resource], str], Answer],
        min_quarantined: int = 1,
        same_page_valid_kept: bool = True,
    ) -> Case:
        """A case whose answers for `target` are made by `make` (the others left alone)."""
        return Case(name, target, _on(target, make), min_quarantined, same_page_valid_kept)

    def bad(
        name: str,
        target: str,
        change: Callable[[Resource], None],
        min_quarantined: int = 1,
        same_page_valid_kept: bool = True,
    ) -> Case:
        """A case whose pages of `target` carry one more resource, altered by `change`."""
        return on(name, target, with_bad(target, change), min_quarantined, same_page_valid_kept)

    all_cases = [
        on(
            "invalid JSON",
            "Patient",
            lambda listed, p: _raw(b'{"resourceType": "Bundle", "entry": ['),
            same_page_valid_kept=False,
        ),
        on(
            "HTML (captive portal)",
            "Observation",
            lambda listed, p: _raw(b"<html><body>Sign in to Wi-Fi</body></html>", "text/html"),
            same_page_valid_kept=False,
        ),
        on("empty body", "Condition", lambda listed, p: _raw(b""), same_page_valid_kept=False),
        on(
            "JSON array",
            "Patient",
            lambda listed, p: _raw(b"[1, 2, 3]"),
            same_page_valid_kept=False,
        ),
        on(
            "JSON nested 100,000 deep",
            "Patient",
            lambda listed, p: _raw(b"[" * 100_000 + b"]" * 100_000),
            same_page_valid_kept=False,
        ),
        on(
            "a resource instead of a Bundle",
            "Patient",
            lambda listed, p: fhir_json(patient),
            same_page_valid_kept=False,
        ),
        on(
            "Bundle that is not a searchset",
            "Encounter",
            lambda listed, p: fhir_json({**searchset(listed), "type": "transaction-response"}),
            same_page_valid_kept=False,
        ),
        on(
            "body cut short",
            "MedicationRequest",
            lambda listed, p: (
                200,
                {"Content-Type": "application/fhir+json", "X-Cut-At": "40"},
                json.dumps(searchset(listed)).encode(),
            ),
            same_page_valid_kept=False,
        ),
        on(
            "invalid gzip",
            "Patient",
            lambda listed, p: _raw(b"not gzip at all", **{"Content-Encoding": "gzip"}),
            same_page_valid_kept=False,
        ),
        on(
            "wrong resourceType in an entry",
            "Patient",
            lambda listed, p: fhir_json(searchset([*listed, observation])),
        ),
        on(
            "entries that are not objects",
            "Patient",
            _with_extra([42, "text", None, [], True]),
            min_quarantined=5,
        ),
        on(
            "entries without a resource",
            "Condition",
            _with_extra(
                [
                    {},
                    {"fullUrl": "x"},
                    {"resource": "x"},
                    {"resource": []},
                    {"resource": None, "search": {"mode": "match"}},
                ]
            ),
            min_quarantined=5,
        ),
        on(
            "included resources and outcomes are not matches",
            "Patient",
            _with_extra(
                [
                    {
                        "resource": {"resourceType": "OperationOutcome"},
                        "search": {"mode": "outcome"},
                    },
                    {"resource": observation, "search": {"mode": "include"}},
                ]
            ),
            min_quarantined=0,
        ),
        on(
            "entry element is an object",
            "Patient",
            lambda listed, p: fhir_json({**searchset(listed), "entry": {"resource": patient}}),
            same_page_valid_kept=False,
        ),
        on(
            "entry element is a number",
            "AllergyIntolerance",
            lambda listed, p: fhir_json({**searchset(listed), "entry": 7}),
            same_page_valid_kept=False,
        ),
        on(
            "link element is text",
            "Patient",
            lambda listed, p: fhir_json({**searchset(listed), "link": "next please"}),
            same_page_valid_kept=False,
        ),
        on(
            "next link without a URL",
            "Patient",
            lambda listed, p: fhir_json({**searchset(listed), "link": [{"relation": "next"}]}),
            same_page_valid_kept=False,
        ),
        on(
            "next link to another host",
            "Patient",
            lambda listed, p: fhir_json(
                searchset(listed, "http://elsewhere.example/fhir/Patient?page=2")
            ),
        ),
        on(
            "next link to the same page",
            "Patient",
            lambda listed, p: fhir_json(searchset(listed, p)),
        ),
        bad("resource without id", "Patient", drop("id")),
        bad("resource without meta", "Patient", drop("meta")),
        bad("meta is text", "Patient", set_path(["meta"], "v1")),
        bad("versionId is a number", "Observation", set_path(["meta", "versionId"], 7)),
        bad("id is a number", "Condition", set_path(["id"], 12)),
        bad("id with a path in it", "Patient", set_path(["id"], "../../Patient/x")),
        bad("id of 200 characters", "Patient", set_path(["id"], "a" * 200)),
        bad("birthDate not a date", "Patient", set_path(["birthDate"], "the 3rd of May")),
        bad("name is text", "Patient", set_path(["name"], "Jane")),
        bad("gender not a code", "Patient", set_path(["gender"], "banana")),
        bad("telecom is an object", "Patient", set_path(["telecom"], {"value": 1})),
        bad(
            "Observation value is text",
            "Observation",
            lambda r: r.update(valueQuantity={"value": "high", "unit": "/min"}),
        ),
        bad(
            "Observation value is Infinity",
            "Observation",
            lambda r: r.update(
                valueQuantity={
                    "value": float("inf"),
                    "unit": "/min",
                    "system": "http://unitsofmeasure.org",
                    "code": "/min",
                }
            ),
        ),
        on(
            "Observation value has 400 digits",
            "Observation",
            lambda listed, p: _raw(
                json.dumps(
                    searchset(
                        [
                            *listed,
                            _mutated(
                                observation,
                                lambda r: r.update(
                                    valueQuantity={
                                        "value": 0,
                                        "unit": "/min",
                                        "system": "http://unitsofmeasure.org",
                                        "code": "/min",
                                    }
                                ),
                            ),
                        ]
                    )
                )
                .replace('"value": 0,', '"value": 1' + "0" * 400 + ",")
                .encode()
            ),
        ),
        bad(
            "Observation about a Group",
            "Observation",
            set_path(["subject"], {"reference": "Group/1"}),
        ),
        bad("Condition without subject", "Condition", drop("subject")),
        bad(
            "MedicationRequest dosage is text",
            "MedicationRequest",
            set_path(["dosageInstruction"], "twice a day"),
        ),
        bad("Appointment participant is garbage", "Appointment", set_path(["participant"], [1, 2])),
        bad("AllergyIntolerance without patient", "AllergyIntolerance", drop("patient")),
        bad("Encounter period start garbage", "Encounter", set_path(["period"], {"start": "soon"})),
        bad(
            "DocumentReference content garbage",
            "DocumentReference",
            set_path(["content"], [{"attachment": {"data": "!!not base64!!"}}]),
        ),
        bad(
            "lastUpdated far in the future",
            "Patient",
            set_path(["meta", "lastUpdated"], "2999-01-01T00:00:00.000Z"),
            min_quarantined=0,
        ),
        on(
            "lastUpdated without zone or garbage",
            "Condition",
            lambda listed, p: fhir_json(
                searchset(
                    [
                        *listed,
                        _mutated(
                            first["Condition"][0],
                            set_path(["meta", "lastUpdated"], "2026-01-01T00:00:00"),
                        ),
                        _mutated(
                            first["Condition"][0],
                            set_path(["meta", "lastUpdated"], "yesterday"),
                        ),
                    ]
                )
            ),
            min_quarantined=0,
        ),
        on(
            "the same version twice in a page",
            "Patient",
            lambda listed, p: fhir_json(searchset([*listed, *listed])),
            min_quarantined=0,
        ),
        bad(
            "Observation for a patient never seen",
            "Observation",
            set_path(["subject"], {"reference": f"Patient/{uuid.uuid4()}"}),
            min_quarantined=0,
        ),
        on("huge page (2,000 patients and a 5 MB resource)", "Patient", huge, min_quarantined=0),
    ]
    return all_cases


# -- running ---------------------------------------------------------------------------------------


@dataclass
class CaseResult:
    name: str
    stopped: str | None = None  # the exception that stopped a cycle
    quarantined: int = 0
    later_types_pulled: bool = True
    same_page_kept: bool = True
    second_cycle_ok: bool = True
    problems: list[str] = field(default_factory=list)


@dataclass
class ServerFigures:
    cases: int = 0
    cycles: int = 0
    cycles_stopped: int = 0
    cases_not_quarantined: int = 0
    cases_losing_valid_data: int = 0
    quarantined_items: int = 0
    shown_by_status: bool = False
    results: list[CaseResult] = field(default_factory=list)
    seconds: float = 0.0


def _device(work: Path, name: str, base_url: str) -> Any:
    data_dir = REGISTRY.add_dir(work / name)
    vault, _ = Vault.create(data_dir, "admin", PASSPHRASE, kdf=FAST_FOR_TESTS)
    clinic = open_clinic(vault)
    client = FhirClient(base_url, timeout=30.0)
    return data_dir, clinic, client, engine_for(clinic, client)


def run_case(case: Case, corpus: Corpus, fake: FakeFhir, work: Path, index: int) -> CaseResult:
    result = CaseResult(case.name)
    fake.resources = copy.deepcopy(corpus.first)
    fake.tamper = case.tamper
    _, clinic, client, engine = _device(work, f"server-case-{index}", fake.base_url)
    gateway = engine._gateway
    try:
        try:
            engine.run_cycle()
        except Exception as exc:
            result.stopped = f"{type(exc).__name__}: {exc}"
            return result
        result.quarantined = len(gateway.quarantined(10_000))
        for resource_type in PULL_TYPES:
            for resource in corpus.first[resource_type]:
                known = gateway.known_version(resource_type, resource["id"]) is not None
                if resource_type != case.target and not known:
                    result.later_types_pulled = False
                    result.problems.append(f"{resource_type}/{resource['id']} not pulled")
                if resource_type == case.target and case.same_page_valid_kept and not known:
                    result.same_page_kept = False
                    result.problems.append(f"valid {resource_type} of the broken page lost")
        # The server is fixed and a new patient appears: the next cycle must bring it. It is
        # stamped now, as a server stamps what it stores (captured long before, its old stamp
        # would lie behind the pull's watermark once the cases have run for READ_MARGIN). The
        # fake server's clock is the machine's: its Date header is http.server's.
        fake.tamper = None
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        for resource_type, resources in corpus.later.items():
            added = copy.deepcopy(resources)
            for resource in added:
                resource.setdefault("meta", {})["lastUpdated"] = stamp
            fake.resources.setdefault(resource_type, []).extend(added)
        try:
            engine.run_cycle()
        except Exception as exc:
            result.stopped = f"second cycle: {type(exc).__name__}: {exc}"
            return result
        if clinic.queries.patient(corpus.later_patient) is None:
            result.second_cycle_ok = False
            result.problems.append("the next cycle did not pull the new patient")
        for resource_type, resources in corpus.later.items():
            for resource in resources:
                if gateway.known_version(resource_type, resource["id"]) is None:
                    result.second_cycle_ok = False
                    result.problems.append(f"next cycle missed {resource_type}/{resource['id']}")
    finally:
        client.close()
        clinic.close()
    return result


def run(peer: PeerServer, work: Path) -> ServerFigures:
    started = time.monotonic()
    figures = ServerFigures()
    corpus = capture(peer, work)
    fake = FakeFhir().start()
    try:
        for index, case in enumerate(cases(corpus)):
            figures.cases += 1
            outcome = run_case(case, corpus, fake, work, index)
            figures.results.append(outcome)
            figures.cycles += 2 if outcome.stopped is None or "second" in outcome.stopped else 1
            if outcome.stopped:
                figures.cycles_stopped += 1
            if outcome.quarantined < case.min_quarantined:
                figures.cases_not_quarantined += 1
                outcome.problems.append(
                    f"quarantined {outcome.quarantined}, expected at least {case.min_quarantined}"
                )
            if not (
                outcome.later_types_pulled and outcome.same_page_kept and outcome.second_cycle_ok
            ):
                figures.cases_losing_valid_data += 1
            figures.quarantined_items += outcome.quarantined
        # Shown to IT: `fieldchart status` lists what is in quarantine.
        fake.resources = copy.deepcopy(corpus.first)
        fake.tamper = cases(corpus)[10].tamper  # entries that are not objects
        data_dir, clinic, client, engine = _device(work, "server-status", fake.base_url)
        try:
            engine.run_cycle()
        finally:
            client.close()
            clinic.close()
        status = cli(
            ["status", "--data-dir", str(data_dir), "--json"],
            user="admin",
            passphrase=PASSPHRASE,
            tmpdir=work / "tmp",
        )
        shown = json.loads(status.stdout) if status.returncode == 0 else {}
        items = shown.get("quarantine") or []
        figures.shown_by_status = (
            shown.get("quarantined", 0) >= 5
            and len(items) >= 5
            and all(i.get("reason") for i in items)
        )
    finally:
        fake.stop()
    figures.seconds = round(time.monotonic() - started, 1)
    return figures
