"""The stream-id codec: a patient's stream id and back, and None for every other stream."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain import events as ev


@given(st.text())
def test_a_patients_stream_decodes_to_that_patient(patient_id: str) -> None:
    stream = ev.stream_of(patient_id)
    assert ev.patient_of_stream(stream) == patient_id
    assert ev.patient_of_command_stream(stream) == patient_id


@given(st.text())
def test_a_devices_audit_stream_belongs_to_no_patient(device_id: str) -> None:
    assert ev.patient_of_stream(ev.audit_stream_of(device_id)) is None


@pytest.mark.parametrize("stream_id", ["", "patient", "patients-1", "Patient-1", "audit-patient-1"])
def test_other_stream_ids_belong_to_no_patient(stream_id: str) -> None:
    assert ev.patient_of_stream(stream_id) is None
    with pytest.raises(ValueError, match="not a patient's stream"):
        ev.patient_of_command_stream(stream_id)


def test_a_patient_id_that_itself_looks_like_a_stream_survives() -> None:
    # Only the one prefix is taken off (what removeprefix did before the codec).
    assert ev.patient_of_stream("patient-patient-7") == "patient-7"
