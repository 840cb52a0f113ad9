"""`enroll` with each way of authenticating, through the real CLI: a client id and secret
(the secret from a file, the environment or a no-echo prompt, never a flag) against the real
FHIR server, and a static bearer token that the server stops accepting. Whole sync cycles on
the real server are tests/commandline/test_cli_sync.py's; these stop at what auth decides."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.commandline.test_cli_clinic import run_cli
from tests.realfhir.harness import RealFhirServer


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    data = tmp_path / "vault"
    assert run_cli("init", "--data-dir", data, "--user", "admin", user="admin").returncode == 0
    return data


def client_flags(real: RealFhirServer, mode: str) -> list[str]:
    if not (real.token_url and real.client_id and real.client_secret):
        pytest.skip("this real server has no client credentials")
    return [
        "--server",
        real.base_url,
        "--auth",
        mode,
        "--token-url",
        real.token_url,
        "--client-id",
        real.client_id,
    ]


def status_of(vault: Path) -> dict[str, object]:
    shown = run_cli("status", "--data-dir", vault, "--json", user="admin")
    assert shown.returncode == 0, shown.stderr
    status: dict[str, object] = json.loads(shown.stdout)
    return status


@pytest.mark.parametrize(
    ("mode", "secret_from"),
    [("client-secret-basic", "file"), ("client-secret-post", "environment")],
)
def test_enrol_with_a_client_secret(
    vault: Path, tmp_path: Path, real_fhir_server: RealFhirServer, mode: str, secret_from: str
) -> None:
    flags = client_flags(real_fhir_server, mode)
    secret = str(real_fhir_server.client_secret)
    env = {}
    if secret_from == "file":
        (tmp_path / "secret").write_text(secret + "\n")
        flags += ["--client-secret-file", str(tmp_path / "secret")]
    else:
        env["FIELDCHART_CLIENT_SECRET"] = secret
    flags.append("--pull-everything")
    enrolled = run_cli("enroll", "--data-dir", vault, *flags, "--json", user="admin", **env)
    assert enrolled.returncode == 0, enrolled.stderr
    assert secret not in enrolled.stdout + enrolled.stderr

    settings = status_of(vault)["settings"]
    assert isinstance(settings, dict)
    assert settings["auth_mode"] == mode and settings["client_secret"] == "set"
    assert settings["client_id"] == real_fhir_server.client_id
    assert settings["token_url"] == real_fhir_server.token_url
    assert secret not in json.dumps(status_of(vault))


def test_a_wrong_secret_is_refused_in_one_plain_line_and_enrols_nothing(
    vault: Path, real_fhir_server: RealFhirServer
) -> None:
    flags = client_flags(real_fhir_server, "client-secret-basic")
    flags.append("--pull-everything")
    refused = run_cli(
        "enroll", "--data-dir", vault, *flags, user="admin", FIELDCHART_CLIENT_SECRET="not-it"
    )
    assert refused.returncode == 1
    (line,) = refused.stderr.splitlines()
    assert line.startswith(
        "fieldchart: the server refused this device's credentials: "
        "the token endpoint refused the device's credentials"
    ), line
    assert "not-it" not in line
    assert status_of(vault)["configured"] is False


def test_a_missing_secret_is_asked_for_never_taken_from_a_flag(vault: Path) -> None:
    flags = ["--server", "https://fhir.example.org/R4", "--auth", "client-secret-post"]
    flags += ["--token-url", "https://auth.example.org/token", "--client-id", "clinic-7"]
    missing = run_cli("enroll", "--data-dir", vault, *flags, user="admin")  # no terminal
    assert missing.returncode == 2
    assert "--client-secret-file FILE or set FIELDCHART_CLIENT_SECRET" in missing.stderr
    no_id = run_cli(
        "enroll", "--data-dir", vault, *flags[:-2], user="admin", FIELDCHART_CLIENT_SECRET="s"
    )
    assert no_id.returncode == 1 and "Enter the client id" in no_id.stderr
    assert status_of(vault)["configured"] is False


def test_a_revoked_bearer_token_says_to_ask_it_for_a_new_one(
    vault: Path, tmp_path: Path, real_fhir_server: RealFhirServer
) -> None:
    """A token of the device's own (not the suite's shared one), revoked on the server."""
    token_url, client_id, secret = (
        real_fhir_server.token_url,
        real_fhir_server.client_id,
        real_fhir_server.client_secret,
    )
    if not (token_url and client_id and secret):
        pytest.skip("this real server has no client credentials")
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    token = httpx.post(token_url, data=form, timeout=30).json()["access_token"]
    (tmp_path / "token").write_text(token + "\n")
    flags = ["--server", real_fhir_server.base_url, "--auth", "bearer"]
    enrolled = run_cli(
        "enroll",
        "--data-dir",
        vault,
        *flags,
        "--pull-everything",
        "--token-file",
        tmp_path / "token",
        user="admin",
    )
    assert enrolled.returncode == 0, enrolled.stderr

    logout = token_url.rsplit("/", 1)[0] + "/logout"  # Medplum's revocation
    revoked = httpx.post(logout, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    if revoked.status_code != 200:
        pytest.skip("this server has no token revocation FieldChart's tests know")
    failed = run_cli("sync", "--data-dir", vault, user="admin")
    assert failed.returncode == 1
    expected = "the token has expired or was revoked; ask IT for a new one"
    assert failed.stderr.startswith(f"fieldchart: sync failed: {expected}"), failed.stderr
    shown = run_cli("status", "--data-dir", vault, user="admin")
    assert f"last error: {expected}" in shown.stdout
    assert token not in shown.stdout + failed.stderr


def test_a_config_file_with_the_old_smart_names_still_enrols(
    vault: Path, tmp_path: Path, real_fhir_server: RealFhirServer
) -> None:
    client_flags(real_fhir_server, "client-secret-post")  # skips without credentials
    config = tmp_path / "clinic.json"
    old = {
        "server_url": real_fhir_server.base_url,
        "auth_mode": "client-secret-post",
        "smart_client_id": real_fhir_server.client_id,
        "smart_token_url": real_fhir_server.token_url,
        "pull_everything": True,
    }
    config.write_text(json.dumps(old))
    secret = str(real_fhir_server.client_secret)
    enrolled = run_cli(
        "enroll",
        "--data-dir",
        vault,
        "--config",
        config,
        user="admin",
        FIELDCHART_CLIENT_SECRET=secret,
    )
    assert enrolled.returncode == 0, enrolled.stderr
    settings = status_of(vault)["settings"]
    assert isinstance(settings, dict)
    assert (settings["client_id"], settings["token_url"]) == (
        real_fhir_server.client_id,
        real_fhir_server.token_url,
    )
