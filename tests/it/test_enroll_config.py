"""`fieldchart enroll --config FILE`: the clinic configuration file IT hands to every device
(format in docs/operations.md), against the real FHIR peer."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.it.conftest import SeededVault, one_line_error, run_cli
from tests.peer.harness import PeerServer

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def documented_example() -> dict[str, object]:
    """The example configuration of docs/operations.md (the block after its marker)."""
    text = DOCS.read_text(encoding="utf-8")
    start = text.index("```json", text.index("<!-- clinic-config-example -->")) + len("```json")
    example: dict[str, object] = json.loads(text[start : text.index("```", start)])
    return example


@pytest.mark.peer
def test_every_device_enrols_from_the_documented_file(
    seeded: SeededVault, tmp_path: Path, fhir_peer: PeerServer
) -> None:
    config = documented_example()
    assert str(config["server_url"]).startswith("https://")
    assert config["auth_mode"] == "smart-backend"
    # The test peer has no authorisation server: same file, but the peer and no auth.
    config.update(server_url=fhir_peer.base_url, auth_mode="none")
    # The facility and location the example names exist on the central server.
    locations = config["scope_locations"]
    assert isinstance(locations, list)
    for reference in [config["scope_organization"], *locations]:
        kind, _, ident = str(reference).partition("/")
        created = httpx.put(
            f"{fhir_peer.base_url}/{reference}",
            json={"resourceType": kind, "id": ident, "name": "Mbeya clinic"},
            headers={"Content-Type": "application/fhir+json"},
        )
        assert created.status_code in (200, 201), created.text
    del config["client_id"], config["token_url"]
    path = tmp_path / "clinic.json"
    path.write_text(json.dumps(config, indent=2))

    enrolled = run_cli("enroll", "--data-dir", seeded.data_dir, "--config", path, "--json")
    assert enrolled.returncode == 0, enrolled.stderr
    assert json.loads(enrolled.stdout)["fhir_version"].startswith("4.")
    status = run_cli("status", "--data-dir", seeded.data_dir, "--json", user="doc")
    settings = json.loads(status.stdout)["settings"]
    assert settings["server_url"] == fhir_peer.base_url
    assert settings["auth_mode"] == config["auth_mode"]
    assert settings["sync_interval_minutes"] == config["sync_interval_minutes"]
    assert settings["scope_organization"] == config["scope_organization"]
    assert settings["scope_locations"] == config["scope_locations"]
    assert settings["auto_lock_minutes"] == config["auto_lock_minutes"]

    synced = run_cli("sync", "--data-dir", seeded.data_dir, "--json")
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["pushed"] >= len(seeded.patients)


@pytest.mark.peer
def test_a_flag_overrides_the_file(
    seeded: SeededVault, tmp_path: Path, fhir_peer: PeerServer
) -> None:
    path = tmp_path / "clinic.json"
    path.write_text(
        json.dumps(
            {"server_url": fhir_peer.base_url, "sync_interval_minutes": 30, "pull_everything": True}
        )
    )
    enrolled = run_cli("enroll", "--data-dir", seeded.data_dir, "--config", path, "--interval", "2")
    assert enrolled.returncode == 0, enrolled.stderr
    status = json.loads(run_cli("status", "--data-dir", seeded.data_dir, "--json").stdout)
    assert status["settings"]["sync_interval_minutes"] == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"server_url": "https://x.example", "sync_interval_minutes": "15"}, "whole number"),
        ({"server_url": "https://x.example", "auto_lock_minutes": True}, "whole number"),
        ({"server_url": 42}, "server_url must be a string"),
        ({"server_url": "https://x.example", "bearer_token": "s3cret"}, "unknown setting"),
        ({"format": "fieldchart-clinic-config/9", "server_url": "https://x"}, "format must be"),
        (["https://x.example"], "must hold a JSON object"),
    ],
)
def test_a_bad_file_is_a_usage_error_that_changes_nothing(
    seeded: SeededVault, tmp_path: Path, content: object, message: str
) -> None:
    path = tmp_path / "clinic.json"
    path.write_text(json.dumps(content))
    refused = run_cli("enroll", "--data-dir", seeded.data_dir, "--config", path)
    assert refused.returncode == 2
    assert message in one_line_error(refused)
    status = json.loads(run_cli("status", "--data-dir", seeded.data_dir, "--json").stdout)
    assert status["configured"] is False
