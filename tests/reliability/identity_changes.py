"""Experiment 15.3: a server that rewrites who a patient is, or moves items between patients.

Another system writes straight to the FHIR server (the in-memory peer, or the real Medplum):
it PUTs one of our Patients with another name, birth date and sex, and moves our vitals,
diagnosis, allergy and prescription to another patient. Each rewrite must be held for a person
(needs attention, both versions), never applied by the sync; benign corrections of a single
identity fact (a spelling fix, a corrected birth date, a corrected sex, a new phone) must still
apply silently. Then a person decides: accepted changes apply as a pull would (the item moves
chart, the timeline says it was moved), kept ones go back to the server; nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.domain import commands as c
from app.projections import chart_items
from app.store.database import read_transaction
from sync.fhir_mapper import FhirResourceMapper
from sync.held_changes import ACCEPT_SERVER, IDENTITY_CHANGE, KEEP_OURS, MOVED, resolve_held
from tests.clinic_fixtures import prescription
from tests.realfhir.plugin import FhirServer
from tests.reliability import report
from tests.sync.devices import DOC, Device, devices_on, server_resource

SECTION = "15.3 Server rewrites who a patient is"
# Where each moved item type names its patient.
PATIENT_ELEMENT = {
    "Observation": "subject",
    "Condition": "subject",
    "AllergyIntolerance": "patient",
    "MedicationRequest": "subject",
}


@dataclass(frozen=True)
class Size:
    rounds: int


SMALL = Size(rounds=1)
FULL = Size(rounds=3)


def register(device: Device, given: str, family: str, born: str, sex: str) -> str:
    command = c.RegisterPatient(given=given, family=family, birth_date=born, sex=sex)
    return device.run(command).patient_id


def chart_item_ids(device: Device, patient_id: str) -> set[str]:
    with read_transaction(device.clinic.vault.engine) as conn:
        return {i["item_id"] for i in chart_items.for_patient(conn, patient_id)}


def identity(device: Device, patient_id: str) -> tuple[str, str, str, str]:
    p = device.chart(patient_id).patient
    return (p.given, p.family, p.birth_date, p.sex)


def timeline_texts(device: Device, patient_id: str) -> list[str]:
    return [e.text for e in device.chart(patient_id).timeline]


def rewrite_patient(device: Device, patient_id: str, **changes: Any) -> None:
    """Another system PUTs the Patient with these elements changed."""
    found = server_resource(device.client, "Patient", patient_id)
    assert found is not None
    body = dict(found.resource)
    body.update(changes)
    device.client.put("Patient", body["id"], body, found.version_id)


def move_item(device: Device, resource_type: str, item_id: str, to_patient: str) -> None:
    """Another system PUTs the item with its patient reference pointing at another patient."""
    found = server_resource(device.client, resource_type, item_id)
    target = server_resource(device.client, "Patient", to_patient)
    assert found is not None and target is not None
    body = dict(found.resource)
    body[PATIENT_ELEMENT[resource_type]] = {"reference": f"Patient/{target.resource['id']}"}
    device.client.put(resource_type, body["id"], body, found.version_id)


def held(device: Device) -> dict[str, dict[str, Any]]:
    return {h["resource_id"]: h for h in device.clinic.sync_gateway.held_changes()}


def one_round(device: Device, figures: dict[str, int]) -> None:
    a = device
    p5 = register(a, "Amani", "Ødegård", "1984-03-02", "female")
    q = register(a, "Baraka", "Mwangi", "1990-07-11", "male")
    benign = register(a, "Neema", "Kimaro", "1979-11-20", "female")
    both = register(a, "Zawadi", "Said", "2001-01-15", "female")
    a.run(c.RecordAllergy(patient_id=p5, substance="penicillin"))
    items = {
        "Observation": a.run(c.RecordVitals(patient_id=p5, heart_rate=72)).item_ids[0],
        "Condition": a.run(c.RecordDiagnosis(patient_id=p5, text="Malaria")).item_ids[0],
        "AllergyIntolerance": a.run(
            c.RecordAllergy(patient_id=p5, substance="sulfonamides")
        ).item_ids[0],
        "MedicationRequest": a.run(prescription(p5, "paracetamol")).item_ids[0],
    }
    both_vitals = a.run(c.RecordVitals(patient_id=both, temperature=38.5)).item_ids[0]
    a.sync()
    before = {pid: identity(a, pid) for pid in (p5, q, both)}
    p5_items = chart_item_ids(a, p5)

    # The tester's scenario: p-5 rewritten into someone else, its items moved to q.
    rewrite_patient(
        a,
        p5,
        name=[{"family": "Smith", "given": ["John"]}],
        birthDate="1975-05-05",
        gender="male",
    )
    for resource_type, item_id in items.items():
        move_item(a, resource_type, item_id, q)
    # Both at once on another patient: identity rewrite and an item moved away.
    rewrite_patient(a, both, name=[{"family": "Otieno", "given": ["Juma"]}], birthDate="1968-04-04")
    move_item(a, "Observation", both_vitals, q)
    report_ = a.sync()
    figures["syncs"] += 1
    figures["held_counted_by_sync"] += report_.held
    holds = held(a)
    figures["identity_rewrites"] += 2
    figures["moves"] += len(items) + 1
    for pid in (p5, both):
        unchanged = identity(a, pid) == before[pid]
        is_held = holds.get(pid, {}).get("kind") == IDENTITY_CHANGE
        figures["silent_identity_changes"] += not (unchanged and is_held)
    for item_id in [*items.values(), both_vitals]:
        owner = p5 if item_id != both_vitals else both
        stays = item_id in chart_item_ids(a, owner) and item_id not in chart_item_ids(a, q)
        is_held = holds.get(item_id, {}).get("kind") == MOVED
        figures["silent_moves"] += not (stays and is_held)
    shown = timeline_texts(a, p5)
    figures["moves_not_shown_in_old_chart"] += 4 - sum(
        "moved to another patient by the server — needs review" in t for t in shown
    )
    figures["moves_not_shown_in_new_chart"] += 5 - sum(
        "moved here by the server — needs review" in t for t in timeline_texts(a, q)
    )
    figures["held_without_both_versions"] += sum(
        1 for h in holds.values() if not (h.get("ours") and h.get("servers"))
    )

    # Benign single-fact corrections still apply silently, one sync each.
    corrections: list[dict[str, Any]] = [
        {"name": [{"family": "Kimaroo", "given": ["Neema"]}]},  # a spelling change
        {"birthDate": "1979-11-21"},  # a corrected birth date
        {"gender": "male"},  # a corrected sex
        {"telecom": [{"system": "phone", "value": "+255 700 111 222"}]},
    ]
    for change in corrections:
        rewrite_patient(a, benign, **change)
        a.sync()
        figures["syncs"] += 1
        figures["benign_updates"] += 1
        figures["benign_wrongly_held"] += benign in held(a)
    final = identity(a, benign)
    figures["benign_not_applied"] += final != ("Neema", "Kimaroo", "1979-11-21", "male")

    # A person decides: accept the identity rewrite and two moves, keep ours for the rest.
    gateway, mapper = a.clinic.sync_gateway, FhirResourceMapper(a.clinic.catalog)
    for resource_id, h in held(a).items():
        accept = resource_id in (p5, items["Observation"], items["AllergyIntolerance"])
        resolve_held(gateway, mapper, h["id"], ACCEPT_SERVER if accept else KEEP_OURS, DOC)
    figures["accepted_not_applied"] += identity(a, p5) != ("John", "Smith", "1975-05-05", "male")
    for item_id in (items["Observation"], items["AllergyIntolerance"]):
        figures["accepted_not_applied"] += item_id not in chart_item_ids(a, q)
    figures["accepted_move_not_in_timeline"] += not any(
        "moved to another patient by the server (accepted)" in t for t in timeline_texts(a, p5)
    )
    a.sync()  # sends back what was kept
    figures["syncs"] += 1
    figures["still_held_after_decisions"] += len(held(a))
    for resource_type in ("Condition", "MedicationRequest"):
        copy = server_resource(a.client, resource_type, items[resource_type])
        target = server_resource(a.client, "Patient", p5)
        ref = (copy.resource if copy else {}).get(PATIENT_ELEMENT[resource_type], {})
        ok = target is not None and ref.get("reference") == f"Patient/{target.resource['id']}"
        figures["kept_not_sent_back"] += not ok
    found = server_resource(a.client, "Patient", both)
    name = (found.resource.get("name") or [{}])[0] if found else {}
    figures["kept_not_sent_back"] += name.get("family") != "Said"
    figures["kept_not_sent_back"] += identity(a, both) != before[both]

    # Nothing lost: every item is in exactly one chart on the device and on the server.
    everything = p5_items | {both_vitals}
    on_device = chart_item_ids(a, p5) | chart_item_ids(a, q) | chart_item_ids(a, both)
    figures["items_lost"] += len(everything - on_device)
    for resource_type, item_id in [*items.items(), ("Observation", both_vitals)]:
        figures["items_lost"] += server_resource(a.client, resource_type, item_id) is None


def run(server: FhirServer, work: Path, size: Size = SMALL) -> dict[str, int]:
    figures = dict.fromkeys(
        (
            "syncs",
            "identity_rewrites",
            "moves",
            "held_counted_by_sync",
            "silent_identity_changes",
            "silent_moves",
            "moves_not_shown_in_old_chart",
            "moves_not_shown_in_new_chart",
            "held_without_both_versions",
            "benign_updates",
            "benign_wrongly_held",
            "benign_not_applied",
            "accepted_not_applied",
            "accepted_move_not_in_timeline",
            "kept_not_sent_back",
            "still_held_after_decisions",
            "items_lost",
        ),
        0,
    )
    for n in range(size.rounds):
        with devices_on(server, work / f"round-{n}", "a") as made:
            one_round(made["a"], figures)
    return figures


def rows(figures: dict[str, Any]) -> list[report.Row]:
    s = SECTION
    f = figures
    return [
        report.info(
            s,
            "identity rewrites / moves between patients tried",
            f"{f['identity_rewrites']} / {f['moves']}",
        ),
        report.zero(s, "silent identity changes", f["silent_identity_changes"]),
        report.zero(s, "silent moves between patients", f["silent_moves"]),
        report.zero(s, "moves not shown in the old chart", f["moves_not_shown_in_old_chart"]),
        report.zero(s, "moves not shown in the new chart", f["moves_not_shown_in_new_chart"]),
        report.zero(s, "held items without both versions", f["held_without_both_versions"]),
        report.at_least(s, "benign single-fact corrections tried", f["benign_updates"], 4),
        report.zero(s, "benign updates wrongly held", f["benign_wrongly_held"]),
        report.zero(s, "benign updates not applied", f["benign_not_applied"]),
        report.zero(s, "accepted changes not applied as a pull", f["accepted_not_applied"]),
        report.zero(s, "accepted moves not in the timeline", f["accepted_move_not_in_timeline"]),
        report.zero(s, "kept versions not sent back", f["kept_not_sent_back"]),
        report.zero(s, "items still held after a decision", f["still_held_after_decisions"]),
        report.zero(s, "items lost", f["items_lost"]),
    ]
