"""What the sync engine asks of the mapping: the resources a command's events touch and how
to build them, the event that records a pulled resource, no-op detection, and AuditEvents
that say who did what without clinical content. Also: the mapping stays pure."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

import sync.fhir.mapping as mapping
from app.domain import events as ev
from app.domain.chart import PatientChart, evolve
from app.domain.reference import Catalog, Medicine
from sync.fhir.mapping import (
    PULL_TYPES,
    RESOURCE_TYPE_OF_KIND,
    RemoteAuditEvent,
    ResourceKey,
    changed_elements,
    diff_owned_elements,
    event_from_fhir,
    from_fhir_audit_event,
    from_fhir_resource,
    patient_keys_for_events,
    resource_ids_for_item,
    resource_keys_for_events,
    resource_type_of_kind,
    same_meaning,
    to_fhir_audit_event_for_view,
    to_fhir_patient,
    writes_for_events,
)
from sync.fhir.mapping.adapter import FOREIGN_TYPES
from sync.fhir.mapping.audit import COMMAND_SYSTEM
from sync.fhir.mapping.common import parse_reference
from tests.sync.mapping_builders import (
    ALL_ITEMS,
    ITEM_IDS,
    NOTE,
    PID,
    PRESCRIBED,
    chart_of,
    registered,
    server_copy,
    touched_by_another_system,
    validate,
    writes_nothing,
    written,
)

MAPPING_DIR = Path(mapping.__file__).parent


def chart() -> PatientChart:
    return chart_of(*ALL_ITEMS)


# -- writes and keys ------------------------------------------------------------------------


def test_registration_and_demographic_edits_write_the_patient() -> None:
    edit = ev.DemographicsUpdated(changes={"phone": "+255 1"}, previous={"phone": None})
    current = chart_of(edit)
    for events in ([registered()], [edit]):
        writes = writes_for_events(events, current)
        assert list(writes) == [ResourceKey("Patient", PID)]
        expected = to_fhir_patient(PID, current.demographics, current.identifiers, None)
        assert writes[ResourceKey("Patient", PID)](None) == expected
    assert resource_keys_for_events([registered()]) == {ResourceKey("Patient", PID)}
    assert resource_keys_for_events([edit]) == set()  # the event does not name its patient
    assert patient_keys_for_events([edit], PID) == {ResourceKey("Patient", PID)}


@pytest.mark.parametrize(("event", "item_id"), list(zip(ALL_ITEMS, ITEM_IDS, strict=True)))
def test_each_item_event_writes_the_items_resources(event: ev.DomainEvent, item_id: str) -> None:
    current = chart()
    item = current.items[item_id]
    writes = writes_for_events([event], current)
    assert list(writes) == resource_ids_for_item(item)
    assert {k: build(None) for k, build in writes.items()} == written(item)
    assert resource_keys_for_events([event]) == set(writes)


def test_a_vitals_set_in_error_names_every_observation_it_could_have() -> None:
    error = ev.EnteredInError(item_id="vit-1", item_kind="vitals", reason="Wrong patient")
    current = chart_of(*ALL_ITEMS, error)
    touched = set(writes_for_events([error], current))
    assert touched == set(resource_ids_for_item(current.items["vit-1"]))
    assert touched < resource_keys_for_events([error])


def test_a_medicine_with_an_rxnorm_code_in_the_catalog_is_coded_in_rxnorm() -> None:
    catalog = Catalog(
        medicines={"amlodipine": Medicine("amlodipine", "Amlodipine", rxnorm="17767")}
    )
    [build] = writes_for_events([PRESCRIBED], chart(), catalog).values()
    codings = build(None)["medicationCodeableConcept"]["coding"]
    assert {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "17767"} in codings


def test_views_and_server_versions_write_nothing() -> None:
    received = ev.ItemVersionReceived(
        item_kind="note",
        item_id="note-9",
        resource_version="1",
        status="current",
        entered_in_error=False,
        data={},
    )
    events = [ev.ChartViewed(patient_id=PID), received]
    assert writes_for_events(events, chart()) == {}
    assert resource_keys_for_events(events) == set()


# -- reading server resources into events --------------------------------------------------


def test_a_pulled_patient_becomes_the_same_chart_on_another_device() -> None:
    ours = chart_of()
    resource = server_copy(to_fhir_patient(PID, ours.demographics, ours.identifiers, None), "9")
    patient_id, event = event_from_fhir(json.loads(json.dumps(resource)))
    assert patient_id == PID and isinstance(event, ev.PatientVersionReceived)
    assert event.resource_version == "9"
    theirs = evolve(PatientChart(PID), event)
    assert (theirs.registered, theirs.demographics, theirs.identifiers) == (
        True,
        ours.demographics,
        ours.identifiers,
    )


def test_a_pulled_audit_event_is_kept_but_records_no_chart_event() -> None:
    audit = to_fhir_audit_event_for_view("a-1", PID, "doc", "2026-11-21T09:00:00+03:00", "dev-1")
    assert event_from_fhir(server_copy(audit)) == (PID, None)


def test_pull_types_cover_every_item_kind_with_patients_first() -> None:
    assert PULL_TYPES[0] == "Patient"
    # Every kind FieldChart writes, and the types other systems write that show read-only.
    kinds = {resource_type_of_kind(k) for k in RESOURCE_TYPE_OF_KIND}
    assert set(PULL_TYPES[1:]) == kinds | set(FOREIGN_TYPES)
    assert len(PULL_TYPES) == len(set(PULL_TYPES))
    assert resource_type_of_kind("note") == "DocumentReference"
    with pytest.raises(ValueError):
        resource_type_of_kind("x-ray")


# -- no-op detection ------------------------------------------------------------------------


def test_server_metadata_alone_is_no_change() -> None:
    resource = written(chart().items["note-1"])[ResourceKey("DocumentReference", "note-1")]
    assert changed_elements(server_copy(resource, "1"), server_copy(resource, "2")) == set()
    assert writes_nothing(server_copy(resource), resource)


def test_same_meaning_ignores_what_the_chart_does_not_read() -> None:
    current = chart()
    ours = to_fhir_patient(PID, current.demographics, current.identifiers, None)
    theirs = touched_by_another_system(ours)
    theirs["name"].append({"use": "nickname", "given": ["Mimi"]})
    assert same_meaning(ours, theirs)
    moved = {**theirs, "telecom": [{"system": "phone", "value": "+255 9"}]}
    assert not same_meaning(ours, moved)
    without_ours = {**theirs, "identifier": [theirs["identifier"][-1]]}
    assert not same_meaning(ours, without_ours)


@pytest.mark.parametrize("item_id", ITEM_IDS)
def test_same_meaning_sees_a_retraction(item_id: str) -> None:
    current = chart()
    item = current.items[item_id]
    for key, resource in written(item).items():
        theirs = touched_by_another_system(resource)
        assert same_meaning(resource, theirs)
        item.entered_in_error = True
        retracted = written(item, {key: theirs})[key]
        item.entered_in_error = False
        assert not same_meaning(retracted, theirs)


# -- audit events ---------------------------------------------------------------------------


def test_a_chart_view_is_a_read_by_a_named_user_of_a_patient() -> None:
    audit = to_fhir_audit_event_for_view(
        "0b9a7e0e-4a4c-4f49-9a53-0f4a1c0e2d11", PID, "doc", "2026-11-21T09:00:00+03:00", "dev-7"
    )
    validate(audit)
    assert audit["type"]["code"] == "rest"
    assert audit["subtype"] == [
        {"system": "http://hl7.org/fhir/restful-interaction", "code": "read", "display": "read"}
    ]
    assert (audit["action"], audit["recorded"], audit["outcome"]) == (
        "R",
        "2026-11-21T09:00:00+03:00",
        "0",
    )
    assert audit["agent"][0]["who"] == {"display": "doc"} and audit["agent"][0]["requestor"]
    assert audit["entity"][0]["what"] == {"reference": f"Patient/{PID}"}
    assert audit["source"]["observer"] == {"display": "dev-7"}
    assert from_fhir_audit_event(server_copy(audit)) == RemoteAuditEvent(
        audit_id="0b9a7e0e-4a4c-4f49-9a53-0f4a1c0e2d11",
        version_id="v1",
        action="R",
        recorded="2026-11-21T09:00:00+03:00",
        user="doc",
        patient_id=PID,
        interaction="read",
        command_type=None,
        device_id="dev-7",
    )


def test_an_audit_event_naming_a_command_reads_its_command_type() -> None:
    # Only chart views are pushed; an AuditEvent another device wrote for a command names it
    # in a subtype of COMMAND_SYSTEM and the Patient among its entities.
    audit = to_fhir_audit_event_for_view("cmd-1", PID, "doc", "2026-11-21T09:00:00Z", "dev-7")
    audit["action"] = "C"
    audit["subtype"] = [
        {"system": "http://hl7.org/fhir/restful-interaction", "code": "create"},
        {"system": COMMAND_SYSTEM, "code": "RecordVitals"},
    ]
    audit["entity"] = [{"what": {"reference": "Condition/dx-1"}}, *audit["entity"]]
    validate(audit)
    remote = from_fhir_resource(audit)
    assert isinstance(remote, RemoteAuditEvent)
    assert (remote.action, remote.interaction, remote.command_type, remote.patient_id) == (
        "C",
        "create",
        "RecordVitals",
        PID,
    )


def test_a_view_audit_names_no_clinical_content_and_needs_a_time_with_zone() -> None:
    audit = to_fhir_audit_event_for_view("a-1", PID, "doc", "2026-11-21T09:00:00Z", "dev-7")
    text = json.dumps(audit, ensure_ascii=False)
    for clinical in ("Amina", "Ødegård", "hypertension", NOTE.text, "Cough"):
        assert clinical not in text
    with pytest.raises(ValueError):
        to_fhir_audit_event_for_view("a-1", PID, "doc", "2026-11-21T09:00:00", "dev-7")


# -- the package stays pure -----------------------------------------------------------------

ALLOWED_IMPORTS = ("app.domain", "sync.fhir.mapping", "__future__")
STDLIB = {
    "base64",
    "binascii",
    "codecs",
    "collections",
    "copy",
    "dataclasses",
    "datetime",
    "functools",
    "re",
    "typing",
    "uuid",
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_mapping_imports_only_the_domain_and_pure_standard_modules() -> None:
    offenders = {
        path.name: sorted(
            m
            for m in _imports(path)
            if not m.startswith(ALLOWED_IMPORTS) and m.split(".")[0] not in STDLIB
        )
        for path in sorted(MAPPING_DIR.glob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_public_name_is_exported() -> None:
    for name in mapping.__all__:
        assert getattr(mapping, name) is not None


@pytest.mark.parametrize("item_id", ITEM_IDS)
def test_what_another_system_adds_is_no_change_of_ours(item_id: str) -> None:
    for resource in written(chart().items[item_id]).values():
        theirs = touched_by_another_system(resource)
        assert changed_elements(server_copy(resource), theirs) == {
            "extension",
            "identifier",
            "meta",
            "text",
        }
        assert diff_owned_elements(server_copy(resource), theirs) == set()


@pytest.mark.parametrize(
    ("reference", "parsed"),
    [
        ("Patient/p-1", ("Patient", "p-1")),
        ("https://fhir.example.org/FHIR/R4/Patient/p-1", ("Patient", "p-1")),
        ("Patient/p-1/_history/3", ("Patient", "p-1")),
        ("#contained", None),
        ("urn:uuid:2f3c", None),
        ("Patient/", None),
        (None, None),
    ],
)
def test_references_are_read_relative_absolute_or_versioned(
    reference: object, parsed: tuple[str, str] | None
) -> None:
    assert parse_reference(reference) == parsed


# -- narratives ------------------------------------------------------------------------------


def _patient_with_narrative(status: str, phone: str | None) -> dict[str, Any]:
    chart_then = chart_of(
        ev.DemographicsUpdated(changes={"phone": phone}, previous={"phone": None})
    )
    resource = to_fhir_patient(PID, chart_then.demographics, chart_then.identifiers, None)
    div = f'<div xmlns="http://www.w3.org/1999/xhtml">Phone {phone}</div>'
    return server_copy({**resource, "text": {"status": status, "div": div}}, "3")


@pytest.mark.parametrize("status", ["generated", "extensions"])
def test_a_narrative_made_from_data_we_change_is_dropped(status: str) -> None:
    base = _patient_with_narrative(status, "+255 1")
    edit = ev.DemographicsUpdated(changes={"phone": "+255 2"}, previous={"phone": "+255 1"})
    build = writes_for_events([edit], chart_of(edit))[ResourceKey("Patient", PID)]
    built = build(base)
    assert "text" not in built and "+255 1" not in json.dumps(built)
    validate(built)


def test_a_narrative_with_more_than_the_data_or_an_unchanged_resource_keeps_it() -> None:
    edit = ev.DemographicsUpdated(changes={"phone": "+255 2"}, previous={"phone": "+255 1"})
    build = writes_for_events([edit], chart_of(edit))[ResourceKey("Patient", PID)]
    additional = _patient_with_narrative("additional", "+255 1")
    assert build(additional)["text"] == additional["text"]
    unchanged = _patient_with_narrative("generated", "+255 2")
    assert build(unchanged)["text"] == unchanged["text"]
