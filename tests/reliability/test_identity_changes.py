"""Experiment 15.3 at the small size, against the in-memory peer and the real FHIR server."""

from __future__ import annotations

from pathlib import Path

from tests.realfhir.plugin import FhirServer
from tests.reliability import identity_changes


def test_server_identity_rewrites_and_moves_go_to_a_person(
    fhir_server: FhirServer, tmp_path: Path
) -> None:
    f = identity_changes.run(fhir_server, tmp_path)
    print(f)
    assert f["identity_rewrites"] == 2 and f["moves"] == 5 and f["benign_updates"] == 4
    assert f["held_counted_by_sync"] == 7
    required_zero = [r for r in identity_changes.rows(f) if r.required == "0"]
    assert {r.figure: r.value for r in required_zero} == {r.figure: "0" for r in required_zero}
    assert all(r.ok for r in identity_changes.rows(f) if r.ok is not None)
