"""Records other systems wrote (issue 16, part 5), without a server: how each is summarised as a
read-only "other" item, what stays quarantined, that none is ever changed or pushed from here,
the timeline line, the filter, "as of", the CLI's JSON and removal with the patient."""

from __future__ import annotations

import base64
import copy
import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from app.domain import commands as c
from app.domain import events as ev
from app.domain.chart import PatientChart, evolve
from app.domain.errors import DomainError
from app.domain.other_records import describe_other, matches
from app.services.clinic import Clinic
from app.services.retention import Leaving, RetentionService
from app.store.database import read_transaction
from sync.fhir.capability import CapabilityInfo
from sync.fhir.mapping import (
    PULL_TYPES,
    MalformedResourceError,
    RemoteItem,
    UnsupportedResourceError,
    event_from_fhir,
    from_fhir_resource,
    resource_keys_for_events,
    writes_for_events,
)
from sync.fhir.mapping.adapter import FOREIGN_TYPES
from sync.fhir.mapping.other_record import MAX_KEPT_ATTACHMENT
from sync.fhir_mapper import FhirResourceMapper
from sync.pull_queries import fixed_queries, list_queries
from sync.scope import SyncScope, choose_strategy
from sync.scope_cache import record_strategy, strategy_for
from tests.clinic_fixtures import DOC, FakeClock, clinic_in, register
from tests.store.test_purge import mark_synced
from tests.sync.foreign_seed import malformed, shown_items, well_formed
from tests.sync.test_pull_scope_strategy import statement

PID = "3f1c1c7e-5b7a-4f8e-9a51-0c2d2c6b7d11"
META = {"versionId": "1", "lastUpdated": "2026-11-28T10:00:00.000Z"}


def stored(resource: dict[str, Any], n: int = 0) -> dict[str, Any]:
    """The resource as a server holds it: an id and a version."""
    return {**copy.deepcopy(resource), "id": f"f-{n}", "meta": META}


def other(resource: dict[str, Any]) -> RemoteItem:
    remote = from_fhir_resource(stored(resource))
    assert isinstance(remote, RemoteItem)
    return remote


def seeded(text: str) -> dict[str, Any]:
    return next(r for t, r in well_formed(PID) if t == text)


def test_a_lab_result_that_is_no_vital_sign_is_summarised_not_quarantined() -> None:
    remote = other(seeded("Creatinine"))
    assert (remote.kind, remote.patient_id, remote.status) == ("other", PID, "final")
    d = remote.data
    assert d["label"] == "Lab result" and d["resource_type"] == "Observation"
    assert d["what"] == "Creatinine [Mass/volume] in Serum or Plasma"
    assert d["code"] == {
        "system": "http://loinc.org",
        "code": "2160-0",
        "display": "Creatinine [Mass/volume] in Serum or Plasma",
    }
    assert (d["value"], d["source"]) == ("1.3 mg/dL", "Mkoani District Laboratory")
    assert d["date"] == "2026-11-28T09:30:00+03:00"


@pytest.mark.parametrize(
    ("text", "label", "what", "value", "source"),
    [
        ("Plasmodium", "Lab result", "Plasmodium sp", "Plasmodium falciparum seen", "Mkoani"),
        ("Basic metabolic panel", "Report", "Basic metabolic panel", "Mildly raised", "Mkoani"),
        ("Appendectomy", "Procedure", "Appendectomy", None, "Regional Referral Hospital"),
        ("Ferrous sulfate", "Medication statement", "Ferrous", "1 tablet daily", "Regional"),
        ("Discharge summary", "Document", "Discharge summary", None, "Regional Referral"),
    ],
)
def test_each_kind_of_foreign_record_says_what_it_is(
    text: str, label: str, what: str, value: str | None, source: str
) -> None:
    d = other(seeded(text)).data
    assert d["label"] == label and d["what"].startswith(what)
    assert (d["value"] or "").startswith(value or "") and (value is not None) == bool(d["value"])
    assert d["source"].startswith(source) and d["date"]


def test_a_types_own_reader_still_comes_first_the_fallback_only_catches_what_it_leaves() -> None:
    immunization = from_fhir_resource(stored(seeded("Measles")))
    assert isinstance(immunization, RemoteItem)
    # H2 reads Immunization as "immunization"; until then it is an other record.
    assert immunization.kind in ("immunization", "other")
    if immunization.kind == "other":
        assert immunization.data["value"] == "dose 1"


def test_a_pdf_is_kept_when_small_and_only_described_when_large() -> None:
    d = other(seeded("Discharge summary")).data
    [pdf] = d["attachments"]
    assert pdf["content_type"] == "application/pdf" and pdf["title"] == "Discharge summary.pdf"
    assert base64.b64decode(pdf["data"]).startswith(b"%PDF-1.4")
    assert pdf["size"] == len(base64.b64decode(pdf["data"]))
    big = copy.deepcopy(seeded("Discharge summary"))
    payload = b"%PDF-1.4\n" + b"0" * MAX_KEPT_ATTACHMENT
    big["content"][0]["attachment"]["data"] = base64.b64encode(payload).decode()
    [large] = other(big).data["attachments"]
    assert (large["data"], large["size"]) == (None, len(payload))


@pytest.mark.parametrize(("problem", "resource"), malformed(PID))
def test_malformed_records_stay_malformed(problem: str, resource: dict[str, Any]) -> None:
    with pytest.raises(MalformedResourceError) as info:
        from_fhir_resource(stored(resource))
    assert "Glucose" not in str(info.value) and PID not in str(info.value)


def test_fieldcharts_own_record_that_comes_back_unreadable_stays_quarantined() -> None:
    ours = stored(seeded("Creatinine"))
    ours["identifier"] = [{"system": "urn:fieldchart:fhir:id", "value": "obs-1"}]
    with pytest.raises(UnsupportedResourceError):
        from_fhir_resource(ours)


def test_a_patient_or_audit_event_never_becomes_an_other_record() -> None:
    with pytest.raises(UnsupportedResourceError):  # a patient without a name: for IT
        from_fhir_resource({"resourceType": "Patient", "id": "p1", "meta": META})
    with pytest.raises(UnsupportedResourceError):
        from_fhir_resource({"resourceType": "Organization", "id": "o1", "meta": META})


def received(resource: dict[str, Any], n: int = 0) -> ev.ItemVersionReceived:
    patient, event = event_from_fhir(stored(resource, n))
    assert patient == PID and isinstance(event, ev.ItemVersionReceived)
    return event


def test_other_records_are_read_only_and_never_pushed() -> None:
    event = received(seeded("Creatinine"))
    chart = evolve(PatientChart(PID, registered=True), event)
    item = chart.items["f-0"]
    assert item.kind == "other" and item.active
    # Even an event naming it (forged, or from an old device) writes nothing to the server.
    forged = ev.EnteredInError(item_id="f-0", item_kind="other", reason="x")
    assert writes_for_events([event, forged], chart) == {}
    assert resource_keys_for_events([event, forged]) == set()


def test_the_timeline_and_the_filter_say_what_it_is() -> None:
    d = received(seeded("Creatinine")).data
    assert describe_other(d) == (
        "Lab result from Mkoani District Laboratory: "
        "Creatinine [Mass/volume] in Serum or Plasma 1.3 mg/dL"
    )
    assert matches(d, "creat district") and matches(d, "2160-0") and not matches(d, "malaria")
    assert describe_other(received(seeded("Discharge summary")).data).startswith(
        "Document from Regional Referral Hospital: Discharge summary"
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def clinic(tmp_path: Path, clock: FakeClock) -> Iterator[Clinic]:
    with clinic_in(tmp_path / "vault", clock) as opened:
        yield opened


def pulled(clinic: Clinic, patient_id: str) -> list[str]:
    """The seeded records arrive for this patient as a pull records them; their ids."""
    mapper = FhirResourceMapper()
    batch = []
    for n, (_text, resource) in enumerate(well_formed(patient_id)):
        batch.append(mapper.incoming(stored(resource, n)))
    clinic.sync_gateway.record_received(batch)
    return [f"f-{n}" for n in range(len(batch))]


def test_a_chart_shows_them_with_as_of_cli_json_refusal_and_removal(
    clinic: Clinic, clock: FakeClock
) -> None:
    pid = register(clinic)
    before = clock() + timedelta(seconds=1)
    clock.advance(minutes=5)
    ids = pulled(clinic, pid)
    view = clinic.queries.chart(pid, DOC, record_view=False)
    assert set(ids) <= {i.item_id for i in shown_items(view)}
    others = view.other_records
    assert others and all(o.kind == "other" for o in others)
    lines = [e.text for e in view.timeline if e.kind == "other"]
    assert any(
        t.startswith("Lab result from Mkoani District Laboratory: Creatinine") for t in lines
    )
    # The chart as it was before the pull lacks them; as of now it has them.
    earlier = clinic.queries.chart(pid, DOC, as_of=before, record_view=False)
    assert not {i.item_id for i in shown_items(earlier)} & set(ids)
    now = clinic.queries.chart(pid, DOC, as_of=clock(), record_view=False)
    assert {o.item_id for o in now.other_records} == {o.item_id for o in others}
    # `fieldchart chart --json` prints ChartView.to_json.
    assert {o["item_id"] for o in view.to_json()["other_records"]} == {o.item_id for o in others}
    with pytest.raises(DomainError, match="read-only here"):
        clinic.commands.execute(
            c.MarkEnteredInError(patient_id=pid, item_id=others[0].item_id, reason="wrong"), DOC
        )
    assert clinic.queries.sync_overview().pending == 1  # the registration only


def test_a_patient_removed_from_the_device_takes_their_other_records_along(
    clinic: Clinic,
) -> None:
    leaving, staying = register(clinic), register(clinic, family="Mushi")
    pulled(clinic, leaving)
    mark_synced(clinic, leaving, staying)  # nothing pending holds the patient here
    retention = RetentionService(clinic.vault, clinic.runner, clinic.clock)
    outcome = retention.remove([Leaving(leaving, "transferred")])
    assert [p.patient_id for p in outcome.removed] == [leaving]
    with read_transaction(clinic.vault.engine) as conn:
        kinds = conn.exec_driver_sql("SELECT kind FROM ci_items").scalars().all()
        copies = conn.exec_driver_sql("SELECT count(*) FROM remote_resources").scalar()
    assert "other" not in kinds and copies == 0
    assert clinic.queries.patient(staying) is not None


def test_scope_queries_cover_the_foreign_types_and_skip_those_a_server_lacks() -> None:
    declared = statement()
    entry = declared["rest"][0]["resource"][0]
    for t in FOREIGN_TYPES:
        declared["rest"][0]["resource"].append({**copy.deepcopy(entry), "type": t})
    scope = SyncScope(organization="Organization/org-1")
    strategy = choose_strategy(CapabilityInfo.from_statement(declared), scope)
    assert strategy.skipped == ()
    # Immunization names its patient by `patient` only; the others have `subject`.
    assert strategy.patient_param("Immunization") == "patient"
    assert strategy.patient_param("DiagnosticReport") == "subject"
    urls = [q.key for q in fixed_queries(strategy, scope, PULL_TYPES)]
    assert "Immunization?patient.organization=Organization%2Forg-1" in urls
    assert "Procedure?subject%3APatient.organization=Organization%2Forg-1" in urls
    # A server without them: FieldChart's own records are pulled all the same.
    sparse = choose_strategy(CapabilityInfo.from_statement(statement()), scope)
    assert set(sparse.skipped) == set(FOREIGN_TYPES)
    types = {q.resource_type for q in fixed_queries(sparse, scope, PULL_TYPES)}
    assert not types & set(FOREIGN_TYPES) and {"Observation", "Condition"} <= types
    lists = list_queries("scope", sparse, PULL_TYPES, ["p1"])
    assert not {q.resource_type for q in lists} & set(FOREIGN_TYPES)


def test_a_kept_strategy_remembers_skipped_types_and_one_from_before_them_is_decided_again(
    clinic: Clinic, clock: FakeClock
) -> None:
    scope = SyncScope(organization="Organization/org-1")
    sparse = choose_strategy(CapabilityInfo.from_statement(statement()), scope)
    assert "not pulled: Immunization" in sparse.description
    gateway = clinic.sync_gateway
    record_strategy(gateway, scope, sparse, clock())
    asked: list[str] = []

    class Server:
        def capabilities(self) -> CapabilityInfo:
            asked.append("metadata")
            return CapabilityInfo.from_statement(statement())

    kept = strategy_for(gateway, Server(), scope, clock())  # type: ignore[arg-type]
    assert (kept.skipped, asked) == (sparse.skipped, [])
    # A strategy kept by a version that did not pull the foreign types: decided again.
    older = dataclasses.replace(
        sparse,
        skipped=(),
        patient_params=tuple(p for p in sparse.patient_params if p[0] not in FOREIGN_TYPES),
    )
    record_strategy(gateway, scope, older, clock())
    again = strategy_for(gateway, Server(), scope, clock())  # type: ignore[arg-type]
    assert asked == ["metadata"] and again.skipped == sparse.skipped
