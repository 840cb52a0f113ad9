"""`similar-patients` through the real CLI: a draft spelt differently finds the patient on this
device with the reasons; with --ask-server, a patient only on the central server (peer and real)
is listed too; a bad draft gets one line naming the field and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from tests.commandline.test_cli_clinic import lines_of, run_cli
from tests.commandline.test_remote_commands import (  # noqa: F401 (vault: a fixture)
    enrolled_with_a_patient_elsewhere,
    one_line,
    vault,
)
from tests.realfhir.plugin import FhirServer

REGISTER = {
    "type": "RegisterPatient",
    "command_id": "cmd-similar-1",
    "patient_id": "pat-similar-1",
    "given": "Fatoumata",
    "family": "Diallo",
    "birth_date": "1990-05-04",
    "sex": "female",
    "phone": "+255 754 111 222",
}


def test_a_spelling_variant_finds_the_patient_here(vault: Path, tmp_path: Path) -> None:  # noqa: F811
    recorded = run_cli("exec", "--data-dir", vault, user="desk", stdin=lines_of(REGISTER))
    assert recorded.returncode == 0, recorded.stderr
    draft = tmp_path / "draft.json"
    draft.write_text(
        json.dumps({"given": "Fatimata", "family": "Jallo", "birth_date": "1990-05-14"}),
        encoding="utf-8",
    )
    found = run_cli("similar-patients", "--data-dir", vault, "--draft-file", draft, user="desk")
    assert found.returncode == 0, found.stderr
    first = found.stdout.splitlines()[0].split("\t")
    assert first[0] == "pat-similar-1" and first[1] == "DIALLO, Fatoumata"
    assert first[5] == "name sounds alike; birth date one digit apart"
    assert found.stdout.splitlines()[-1] == "The central server was not asked (offline)."

    draft.write_text(json.dumps({"given": "Fatoumata", "birth_date": "04/05/1990"}))
    refused = run_cli("similar-patients", "--data-dir", vault, "--draft-file", draft, user="desk")
    assert refused.returncode != 0
    assert "birth date" in one_line(refused) and "Fatoumata" not in refused.stderr


def test_ask_server_lists_a_patient_only_on_the_server(
    vault: Path,  # noqa: F811
    fhir_server: FhirServer,
    tmp_path: Path,
) -> None:
    them = enrolled_with_a_patient_elsewhere(vault, fhir_server, tmp_path)
    draft = tmp_path / "draft.json"
    # Given name spelt differently, birth date one digit off: the server only matches the
    # family name's prefix; the scoring is done here.
    born = them.birth_date[:-1] + ("7" if them.birth_date[-1] != "7" else "8")
    draft.write_text(json.dumps({"given": "Zawady", "family": them.family, "birth_date": born}))
    found = run_cli(
        "similar-patients",
        *("--data-dir", vault, "--draft-file", draft, "--ask-server", "--json"),
        user="desk",
    )
    assert found.returncode == 0, found.stderr
    answer = json.loads(found.stdout)
    assert answer["server"] == "asked"
    [patient] = answer["patients"]
    assert (patient["where"], patient["server_id"], patient["patient_id"]) == (
        "server",
        them.server_id,
        "",
    )
    assert patient["reasons"] == ["name sounds alike", "birth date one digit apart"]
