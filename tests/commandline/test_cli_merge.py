"""Merging through the real CLI: `exec` merges two records (conflicting allergies kept, the
answer warns), `chart --json` shows the merge on the survivor and `replaced_by` on the other
record, a merge with itself is refused naming the field (nothing recorded), `exec` UndoMerge
separates them again."""

from __future__ import annotations

import json
from pathlib import Path

from tests.commandline.test_cli_clinic import exec_as, results, run_cli, vault_with_clinician

SETUP = [
    {"type": "RegisterPatient", "patient_id": "pat-a", "given": "Neema", "family": "Kileo",
     "birth_date": "1975-03-09", "sex": "female"},
    {"type": "RegisterPatient", "patient_id": "pat-b", "given": "Neema", "family": "Kileo",
     "birth_date": "1975-03-09", "sex": "female"},
    {"type": "RecordAllergy", "patient_id": "pat-a", "allergy_id": "al-a",
     "substance": "Penicillins", "criticality": "low"},
    {"type": "RecordAllergy", "patient_id": "pat-b", "allergy_id": "al-b",
     "substance": "Penicillins", "criticality": "high"},
]  # fmt: skip
MERGE = {"type": "MergePatients", "patient_id": "pat-a", "replaced_patient_id": "pat-b",
         "merge_id": "merge-1", "reason": "registered twice"}  # fmt: skip


def chart(vault: Path, pid: str) -> dict[str, object]:
    shown = run_cli("chart", "--data-dir", vault, pid, "--json", user="doc")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)  # type: ignore[no-any-return]


def test_exec_merges_and_undoes_and_chart_json_shows_it(tmp_path: Path) -> None:
    vault = vault_with_clinician(tmp_path / "vault")
    self_merge = exec_as(vault, "doc", *SETUP, {**MERGE, "replaced_patient_id": "pat-a"})
    assert self_merge.returncode == 1  # the last line refused, the others recorded
    out = results(self_merge)[-1]
    assert (out["ok"], out["field"]) == (False, "replaced_patient_id")
    merged = exec_as(vault, "doc", MERGE)
    assert merged.returncode == 0, merged.stdout
    (out,) = results(merged)
    assert any("Penicillins" in w and "both are kept" in w for w in out["warnings"])
    survivor = chart(vault, "pat-a")
    assert survivor["merges"] == [
        {
            "merge_id": "merge-1",
            "replaced_patient_id": "pat-b",
            "name": "Kileo, Neema",
            "birth_date": "1975-03-09",
            "merged_at": survivor["merges"][0]["merged_at"],  # type: ignore[index]
        }
    ]
    assert survivor["merged_item_ids"] == ["al-b"]
    assert len(survivor["merge_warnings"]) == 1  # type: ignore[arg-type]
    text = run_cli("chart", "--data-dir", vault, "pat-b", user="doc")
    assert "REPLACED BY pat-a" in text.stdout
    undo = {"type": "UndoMerge", "patient_id": "pat-a", "merge_id": "merge-1", "reason": "twins"}
    assert exec_as(vault, "doc", undo).returncode == 0
    assert chart(vault, "pat-b")["replaced_by"] is None
