"""`enroll` refuses plain http to another machine, from flags and from IT's configuration
file, before contacting anything or saving anything (issue 15, item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.commandline.test_cli_clinic import run_cli


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("plain-http") / "vault"
    assert run_cli("init", "--data-dir", data, "--user", "admin", user="admin").returncode == 0
    return data


def settings_of(vault: Path) -> object:
    shown = run_cli("status", "--data-dir", vault, "--json", user="admin")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)["settings"]


def test_enroll_refuses_a_plain_http_server_from_flags_or_the_config_file(
    vault: Path, tmp_path: Path
) -> None:
    config = tmp_path / "clinic.json"
    config.write_text(
        json.dumps(
            {
                "server_url": "https://fhir.clinic.example/R4",
                "auth_mode": "client-secret-basic",
                "token_url": "http://auth.clinic.example/token",
                "client_id": "device",
                "pull_everything": True,
            }
        )
    )
    attempts = [
        (["--server", "http://fhir.clinic.example/R4", "--pull-everything"], "fhir.clinic.example"),
        (["--config", str(config)], "auth.clinic.example"),
    ]
    for flags, host in attempts:
        refused = run_cli(
            "enroll", "--data-dir", vault, *flags, user="admin", FIELDCHART_CLIENT_SECRET="s"
        )
        assert refused.returncode == 1, refused.stderr
        assert host in refused.stderr and f"use https://{host}" in refused.stderr
        assert "Traceback" not in refused.stderr
    settings = settings_of(vault)
    assert isinstance(settings, dict) and settings["server_url"] is None  # nothing saved
