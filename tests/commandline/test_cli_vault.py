"""The real `fieldchart` command line, run as a separate process the way IT staff run it.

Every failure must be one plain line on stderr (never a traceback) with the documented exit code:
0 ok, 1 refused or failed, 2 bad usage or wrong credentials.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.domain.roles import Role
from app.store.crypto import FAST_FOR_TESTS
from app.store.event_log import NewEvent
from app.store.vault import TAIL_VERIFY_AT_UNLOCK, Vault
from tests.clock import cli_environment
from tests.store.helpers import metadata, tamper

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSPHRASE = "admin passphrase for the cli"
NURSE_PASSPHRASE = "nurse passphrase for the cli"
RECOVERY_SECRET = re.compile(
    r"^  ([0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){7})$", re.MULTILINE
)


Completed = subprocess.CompletedProcess[str]


def run_cli(*args: str | Path, **env: str) -> Completed:
    clean = cli_environment()
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *map(str, args)],
        cwd=REPO_ROOT,
        env={**clean, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_in(data_dir: Path, command: str, *options: str | Path, **env: str) -> Completed:
    """`fieldchart COMMAND --data-dir DATA_DIR OPTIONS…`; a command of two words ("user add")
    is split into both."""
    return run_cli(*command.split(), "--data-dir", data_dir, *options, **env)


def assert_one_plain_line(result: Completed) -> str:
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    assert lines[0].startswith("fieldchart: ")
    return lines[0]


@dataclass
class CliVault:
    data_dir: Path
    init: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def cli_vault(tmp_path_factory: pytest.TempPathFactory) -> CliVault:
    """One vault made by `fieldchart init` (default Argon2id parameters), shared by the module."""
    data_dir = tmp_path_factory.mktemp("cli") / "vault"
    init = run_in(data_dir, "init", "--user", "admin", FIELDCHART_PASSPHRASE=ADMIN_PASSPHRASE)
    return CliVault(data_dir, init)


def test_init_creates_a_vault_and_shows_the_recovery_secret_once(cli_vault: CliVault) -> None:
    assert cli_vault.init.returncode == 0, cli_vault.init.stderr
    assert cli_vault.init.stderr == ""
    out = cli_vault.init.stdout
    assert f"created vault in {cli_vault.data_dir} with admin 'admin'" in out
    assert "RECOVERY SECRET" in out
    secret = RECOVERY_SECRET.search(out)
    assert secret, out
    assert secret.group(1) not in (cli_vault.data_dir / "keyslots.json").read_text()

    again = run_in(
        cli_vault.data_dir, "init", "--user", "other", FIELDCHART_PASSPHRASE=ADMIN_PASSPHRASE
    )
    assert again.returncode == 1
    assert assert_one_plain_line(again) == (
        f"fieldchart: a vault already exists in {cli_vault.data_dir}"
    )


def test_an_admin_adds_a_clinician_who_then_cannot_add_users(
    cli_vault: CliVault, tmp_path: Path
) -> None:
    admin_file = tmp_path / "admin.txt"
    admin_file.write_text(ADMIN_PASSPHRASE + "\n")
    added = run_in(
        cli_vault.data_dir,
        "user add",
        "--user",
        "nurse-bea",
        "--role",
        "clinician",
        "--passphrase-file",
        admin_file,
        FIELDCHART_NEW_PASSPHRASE=NURSE_PASSPHRASE,
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout == "added user 'nurse-bea' with role clinician\n"

    listed = run_in(
        cli_vault.data_dir, "user list", "--json", FIELDCHART_PASSPHRASE=ADMIN_PASSPHRASE
    )
    assert listed.returncode == 0, listed.stderr
    assert {(u["name"], u["role"]) for u in json.loads(listed.stdout)} == {
        ("admin", "admin"),
        ("nurse-bea", "clinician"),
    }

    refused = run_in(
        cli_vault.data_dir,
        "user add",
        "--user",
        "eve",
        "--role",
        "admin",
        "--as",
        "nurse-bea",
        FIELDCHART_PASSPHRASE=NURSE_PASSPHRASE,
        FIELDCHART_NEW_PASSPHRASE="eves passphrase",
    )
    assert refused.returncode == 1
    assert assert_one_plain_line(refused) == (
        "fieldchart: only an admin may add users; you are clinician"
    )


def test_verify_reports_an_intact_log(cli_vault: CliVault) -> None:
    result = run_in(cli_vault.data_dir, "verify", "--json", FIELDCHART_PASSPHRASE=ADMIN_PASSPHRASE)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    # The log holds the audit of the user added by the tests before (an admin action) and
    # its signed role grant; the vault signs from its first event.
    assert report == {
        "ok": True,
        "events": report["head_position"],
        "head_position": 2,
        "signed_events": 2,
        "unsigned_legacy_events": 0,
        "baseline_position": 0,
        "trust_anchor": report["trust_anchor"],
    }
    assert report["trust_anchor"].startswith("ed25519:")
    assert result.stderr == ""


def test_a_wrong_passphrase_exits_2_with_one_plain_line(cli_vault: CliVault) -> None:
    result = run_in(cli_vault.data_dir, "verify", FIELDCHART_PASSPHRASE="not the admin passphrase")
    assert result.returncode == 2
    assert result.stderr == "fieldchart: wrong passphrase for user 'admin'\n"
    assert result.stdout == ""


def test_no_passphrase_and_no_terminal_is_a_usage_error(cli_vault: CliVault) -> None:
    result = run_in(cli_vault.data_dir, "verify")
    assert result.returncode == 2
    assert "no passphrase given" in assert_one_plain_line(result)


def test_an_unknown_role_is_bad_usage(cli_vault: CliVault) -> None:
    result = run_in(
        cli_vault.data_dir,
        "user add",
        "--user",
        "x",
        "--role",
        "surgeon",
        FIELDCHART_PASSPHRASE=ADMIN_PASSPHRASE,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "invalid choice: 'surgeon'" in result.stderr


def test_a_missing_vault_exits_1_with_one_line(tmp_path: Path) -> None:
    result = run_in(tmp_path / "nowhere", "verify", FIELDCHART_PASSPHRASE=ADMIN_PASSPHRASE)
    assert result.returncode == 1
    assert assert_one_plain_line(result) == (
        f"fieldchart: no vault in {tmp_path / 'nowhere'}; create one with `init`"
    )


@pytest.fixture
def tampered_vault(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A vault (test KDF) of 1005 events whose event 2 was altered: older than the tail that
    unlock checks, so only the full `verify` finds it."""
    data_dir = tmp_path / "tampered"
    vault, _ = Vault.create(data_dir, "admin", ADMIN_PASSPHRASE, kdf=FAST_FOR_TESTS)
    total = TAIL_VERIFY_AT_UNLOCK + 5
    vault.events.append(
        "bulk", 0, [NewEvent("NoteWritten", {"n": i}, metadata()) for i in range(total)]
    )
    tamper(vault, "UPDATE events SET type = 'Forged' WHERE position = 2")
    vault.lock()
    yield data_dir, 2


def test_verify_names_the_tampered_position(tampered_vault: tuple[Path, int]) -> None:
    data_dir, position = tampered_vault
    result = run_in(data_dir, "verify", FIELDCHART_PASSPHRASE=ADMIN_PASSPHRASE)
    assert result.returncode == 1
    line = assert_one_plain_line(result)
    assert line.startswith(f"fieldchart: event at position {position} does not match")
    assert result.stdout == ""


def test_a_corrupted_database_exits_1_with_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "broken"
    vault, _ = Vault.create(data_dir, "admin", ADMIN_PASSPHRASE, kdf=FAST_FOR_TESTS)
    vault.lock()
    (data_dir / "vault.db").write_bytes(os.urandom(8192))
    result = run_in(data_dir, "verify", FIELDCHART_PASSPHRASE=ADMIN_PASSPHRASE)
    assert result.returncode == 1
    assert assert_one_plain_line(result) == (
        "fieldchart: vault.db cannot be opened with this vault's key: it is not a FieldChart "
        "vault, or it is truncated or corrupted"
    )


def test_the_recovery_secret_resets_a_passphrase(tmp_path: Path) -> None:
    data_dir = tmp_path / "recover"
    vault, secret = Vault.create(data_dir, "admin", ADMIN_PASSPHRASE, kdf=FAST_FOR_TESTS)
    vault.lock()
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(secret + "\n")

    reset = run_in(
        data_dir,
        "recover",
        "--user",
        "admin",
        "--recovery-file",
        secret_file,
        FIELDCHART_NEW_PASSPHRASE="the admins new passphrase",
    )
    assert reset.returncode == 0, reset.stderr
    assert reset.stdout == "set a new passphrase for 'admin'\n"

    old = run_in(data_dir, "verify", FIELDCHART_PASSPHRASE=ADMIN_PASSPHRASE)
    assert (old.returncode, old.stderr) == (2, "fieldchart: wrong passphrase for user 'admin'\n")
    new = run_in(data_dir, "verify", FIELDCHART_PASSPHRASE="the admins new passphrase")
    assert new.returncode == 0, new.stderr


def test_an_admin_enables_a_disabled_user_with_a_new_passphrase(tmp_path: Path) -> None:
    data_dir = tmp_path / "enable"
    vault, _secret = Vault.create(data_dir, "admin", ADMIN_PASSPHRASE, kdf=FAST_FOR_TESTS)
    vault.add_user("desk", Role.STAFF, "desks first passphrase")
    vault.disable_user("desk")
    vault.lock()
    enabled = run_in(
        data_dir,
        "user enable",
        "--user",
        "desk",
        FIELDCHART_PASSPHRASE=ADMIN_PASSPHRASE,
        FIELDCHART_NEW_PASSPHRASE="desks second passphrase",
    )
    assert enabled.returncode == 0, enabled.stderr
    assert enabled.stdout == "enabled user 'desk' with a new passphrase\n"
    again = run_in(
        data_dir,
        "user enable",
        "--user",
        "desk",
        FIELDCHART_PASSPHRASE=ADMIN_PASSPHRASE,
        FIELDCHART_NEW_PASSPHRASE="desks third passphrase",
    )
    assert again.returncode == 1
    assert assert_one_plain_line(again) == "fieldchart: user 'desk' is not disabled"
    reopened = Vault.open(data_dir)
    assert reopened.unlock("desk", "desks second passphrase").user == "desk"
    reopened.lock()
