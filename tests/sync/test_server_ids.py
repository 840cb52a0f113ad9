"""Our ids and the server's (sync/server_ids.py) and the Bundles that create by POST."""

from __future__ import annotations

import pytest

from sync.fhir.bundle import MAX_WITH_CONDITIONAL, TooManyEntriesError, TransactionBuilder
from sync.ports import Outgoing
from sync.server_ids import ServerIds, full_url, identifier_search, our_id_in, with_our_id
from sync.write_plan import PlannedWrite, in_reference_order

OUR = "urn:fieldchart:fhir:id"


def ids_with(mapping: dict[tuple[str, str], str]) -> ServerIds:
    """A ServerIds over a fixed id map (our id -> server id)."""
    reverse = {(t, s): local for (t, local), s in mapping.items()}
    return ServerIds(lambda t, i: mapping.get((t, i)), lambda t, s: reverse.get((t, s)))


def observation(local_id: str, patient: str, encounter: str | None = None) -> dict[str, object]:
    resource: dict[str, object] = {
        "resourceType": "Observation",
        "id": local_id,
        "status": "final",
        "subject": {"reference": f"Patient/{patient}"},
    }
    if encounter:
        resource["encounter"] = {"reference": f"Encounter/{encounter}"}
    return resource


def test_a_create_by_post_has_no_id_our_identifier_and_the_servers_ids_in_references() -> None:
    ids = ids_with({("Patient", "p1"): "srv-patient"})
    sent = ids.to_server(observation("o1", "p1", "e1"), None, {("Encounter", "e1"): "urn:uuid:enc"})
    assert "id" not in sent
    assert sent["identifier"] == [{"system": OUR, "value": "o1"}]
    assert sent["subject"] == {"reference": "Patient/srv-patient"}
    assert sent["encounter"] == {"reference": "urn:uuid:enc"}, "created in the same Bundle"


def test_an_update_goes_to_the_servers_id_and_unknown_references_stay_as_they_are() -> None:
    ids = ids_with({("Observation", "o1"): "srv-obs"})
    sent = ids.to_server(observation("o1", "foreign-patient"), "srv-obs", {})
    assert sent["id"] == "srv-obs"
    assert sent["subject"] == {"reference": "Patient/foreign-patient"}


def test_a_server_resource_comes_back_under_our_id_by_its_identifier() -> None:
    ids = ids_with({("Patient", "p1"): "srv-patient"})
    server_copy = {
        **observation("srv-obs", "srv-patient"),
        "identifier": [{"system": OUR, "value": "o1"}],
    }
    local, server_id = ids.to_local(server_copy)
    assert (local["id"], server_id) == ("o1", "srv-obs")
    assert local["subject"] == {"reference": "Patient/p1"}
    assert ids.server_id("Observation", "o1") == "srv-obs", "learnt for the rest of the cycle"
    assert server_copy["id"] == "srv-obs", "the server's copy itself is not changed"


def test_another_systems_resource_keeps_its_server_id_as_our_id() -> None:
    ids = ids_with({})
    local, server_id = ids.to_local(observation("lab-42", "srv-patient"))
    assert (local["id"], server_id) == ("lab-42", "lab-42")
    assert local["subject"] == {"reference": "Patient/srv-patient"}


def test_round_trip_through_the_server_gives_our_resource_back() -> None:
    ids = ids_with({("Patient", "p1"): "srv-patient", ("Observation", "o1"): "srv-obs"})
    ours = with_our_id(observation("o1", "p1"))
    back, _ = ids.to_local(ids.to_server(ours, "srv-obs", {}))
    assert back == ours


def test_audit_events_carry_our_id_in_a_tag_they_have_no_identifier() -> None:
    event = {"resourceType": "AuditEvent", "id": "a1", "meta": {"tag": [{"code": "x"}]}}
    marked = with_our_id(event)
    assert marked["meta"]["tag"] == [{"code": "x"}, {"system": OUR, "code": "a1"}]
    assert "identifier" not in marked
    assert our_id_in(marked) == "a1"
    assert identifier_search("a1", "AuditEvent") == ("_tag", f"{OUR}|a1")
    assert identifier_search("o1", "Observation") == ("identifier", f"{OUR}|o1")


def test_full_urls_are_urn_uuids_stable_for_derived_ids() -> None:
    assert full_url(("Patient", "6f1c1a0e-64b4-4a4a-9d2d-3f6f0f7d2c11")) == (
        "urn:uuid:6f1c1a0e-64b4-4a4a-9d2d-3f6f0f7d2c11"
    )
    derived = full_url(("Observation", "v1-bp"))
    assert derived.startswith("urn:uuid:") and derived == full_url(("Observation", "v1-bp"))
    assert derived != full_url(("Observation", "v1-hr"))


def test_creates_with_if_none_exist_keep_a_bundle_within_medplums_eight_entries() -> None:
    builder = TransactionBuilder()
    for n in range(MAX_WITH_CONDITIONAL):
        builder.add_create(
            "Observation",
            f"urn:uuid:{n:08d}-0000-4000-8000-000000000000",
            {"resourceType": "Observation"},
            "identifier=x|" + str(n),
        )
    with pytest.raises(TooManyEntriesError):
        builder.add_create(
            "Observation",
            "urn:uuid:99999999-0000-4000-8000-000000000000",
            {"resourceType": "Observation"},
            "identifier=x|9",
        )
    entry = builder.build()["entry"][0]
    assert entry["request"] == {
        "method": "POST",
        "url": "Observation",
        "ifNoneExist": "identifier=x|0",
    }
    assert entry["fullUrl"].startswith("urn:uuid:")


def test_a_create_by_post_refuses_a_resource_with_an_id() -> None:
    with pytest.raises(ValueError, match="no id"):
        TransactionBuilder().add_create(
            "Patient", "urn:uuid:1", {"resourceType": "Patient", "id": "p1"}
        )


def test_resources_others_refer_to_are_sent_first() -> None:
    def write(resource: dict[str, object]) -> PlannedWrite:
        out = Outgoing(str(resource["resourceType"]), str(resource["id"]), lambda _: resource)
        return PlannedWrite(out, resource, None, None)

    obs = write(observation("o1", "p1", "e1"))
    encounter = write(
        {"resourceType": "Encounter", "id": "e1", "subject": {"reference": "Patient/p1"}}
    )
    patient = write({"resourceType": "Patient", "id": "p1"})
    order = [w.key for w in in_reference_order([obs, encounter, patient])]
    assert order == [("Patient", "p1"), ("Encounter", "e1"), ("Observation", "o1")]
