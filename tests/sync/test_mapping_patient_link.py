"""Patient.link for merges (sync/fhir/mapping/patient_link.py) and what a pulled link does
here (app/domain/merge.py server_merge_events): links other systems wrote are kept, the
replaced Patient is inactive only while the merge holds, and a merge or undo recorded here and
not yet sent is not reverted by a server version that does not know it yet."""

from __future__ import annotations

import pytest

from app.domain.chart import PatientChart
from app.domain.events import MergeUndone, PatientMerged
from app.domain.merge import server_merge_events
from sync.fhir.mapping.errors import MappingError
from sync.fhir.mapping.patient_link import (
    EXT_MERGE_ID,
    merges_of,
    replaced_patient,
    with_replaces,
)

FOREIGN = {"type": "seealso", "other": {"reference": "Patient/elsewhere"}}


def test_the_survivor_replaces_the_merged_records_and_keeps_other_links() -> None:
    survivor = with_replaces(
        {"resourceType": "Patient", "id": "s", "link": [FOREIGN]}, {"r": "m1"}, set()
    )
    assert survivor["link"][0] == FOREIGN
    assert survivor["link"][1]["type"] == "replaces"
    assert survivor["link"][1]["other"] == {"reference": "Patient/r"}
    assert survivor["link"][1]["extension"] == [{"url": EXT_MERGE_ID, "valueString": "m1"}]
    assert merges_of(survivor) == {"r": "m1"}
    undone = with_replaces(survivor, {}, {"r"})
    assert undone["link"] == [FOREIGN] and merges_of(undone) == {}
    assert "link" not in with_replaces({"resourceType": "Patient", "id": "s"}, {}, {"r"})


def test_the_replaced_patient_is_inactive_only_while_the_merge_holds() -> None:
    base = {
        "resourceType": "Patient",
        "id": "r",
        "meta": {"versionId": "3"},
        "name": [{"family": "K"}],
    }
    merged = replaced_patient("r", "s", "m1", True, base)
    assert merged["active"] is False and merged["name"] == [{"family": "K"}]
    assert [(link["type"], link["other"]["reference"]) for link in merged["link"]] == [
        ("replaced-by", "Patient/s")
    ]
    back = replaced_patient("r", "s", "m1", False, {**merged, "meta": {"versionId": "4"}})
    assert back["active"] is True and "link" not in back
    with pytest.raises(MappingError):  # never a Patient without its name
        replaced_patient("r", "s", "m1", True, None)


def test_a_link_without_our_extension_gets_an_id_from_both_patients() -> None:
    resource = {"id": "s", "link": [{"type": "replaces", "other": {"reference": "Patient/r"}}]}
    assert merges_of(resource) == {"r": "server-s-r"}


def test_the_servers_merges_apply_except_unsent_ones() -> None:
    chart = PatientChart("s", registered=True, merged={"kept": "m-sent", "mine": "m-unsent"})
    events = server_merge_events(chart, {"new": "m-new"}, unsent={"m-unsent"})
    assert [(type(e), e.merge_id, e.replaced_patient_id, e.source) for e in events] == [
        (MergeUndone, "m-sent", "kept", "server"),
        (PatientMerged, "m-new", "new", "server"),
    ]
    # An undo recorded here, not yet sent: the server's older version does not bring it back.
    assert server_merge_events(PatientChart("s"), {"gone": "m-undone"}, {"m-undone"}) == []
    assert server_merge_events(chart, {"kept": "m-sent", "mine": "m-unsent"}) == []
