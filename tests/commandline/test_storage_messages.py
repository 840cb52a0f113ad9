"""A held lock and a full or failing disk, injected in-process (no tmpfs, no root needed): their
own message and exit code 3, never "not a FieldChart vault" or an internal error; `exec`
refuses each line it could not store and goes on. tests/reliability/it_messages.py runs the
same cases on a real full disk."""

from __future__ import annotations

import errno
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from app import cli
from app.domain.roles import Role
from app.services.clinic_commands import ClinicCommands
from app.store import storage_errors
from app.store.crypto import FAST_FOR_TESTS
from app.store.errors import DiskFullError, DiskIOError, VaultBusyError
from app.store.storage_errors import storage_failure
from app.store.vault import Vault

FULL = "database or disk is full"


def sqlite_error(message: str) -> OperationalError:
    return OperationalError("INSERT ...", {}, Exception(message))


def test_sqlite_and_os_errors_name_their_cause(tmp_path: Path) -> None:
    assert isinstance(storage_failure(sqlite_error("database is locked")), VaultBusyError)
    assert isinstance(storage_failure(sqlite_error(FULL)), DiskFullError)
    assert isinstance(storage_failure(OSError(errno.ENOSPC, "No space left")), DiskFullError)
    assert isinstance(storage_failure(sqlite_error("disk I/O error"), tmp_path), DiskIOError)
    assert storage_failure(sqlite_error("file is not a database")) is None
    assert storage_failure(ValueError("database is locked")) is not None  # by its text
    wrapped = RuntimeError("outer")
    wrapped.__cause__ = OSError(errno.ENOSPC, "No space left")
    assert isinstance(storage_failure(wrapped), DiskFullError)


def test_an_io_error_on_a_nearly_full_disk_is_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Usage:
        free = storage_errors.LOW_SPACE_BYTES - 1

    monkeypatch.setattr("shutil.disk_usage", lambda _path: Usage())
    assert isinstance(storage_failure(sqlite_error("disk I/O error"), tmp_path), DiskFullError)
    cannot_open = sqlite_error("unable to open database file")
    assert isinstance(storage_failure(cannot_open, tmp_path), DiskFullError)


@pytest.fixture
def vault_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    vault, _ = Vault.create(tmp_path / "v", "admin", "admin passphrase", kdf=FAST_FOR_TESTS)
    vault.add_user("doc", Role.CLINICIAN, "doctor passphrase", kdf=FAST_FOR_TESTS)
    vault.lock()
    monkeypatch.setenv("FIELDCHART_USER", "doc")
    monkeypatch.setenv("FIELDCHART_PASSPHRASE", "doctor passphrase")
    return tmp_path / "v"


def _line(n: int) -> str:
    register = {
        "type": "RegisterPatient",
        "command_id": f"cmd-{n}",
        "given": "Asha",
        "family": "Mrema",
        "birth_date": "1985-02-03",
        "sex": "female",
    }
    return json.dumps(register) + "\n"


def test_exec_refuses_each_line_the_full_disk_kept_and_goes_on(
    vault_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = ClinicCommands.execute
    calls = []

    def full_after_the_first(self: ClinicCommands, *args: Any) -> Any:
        calls.append(1)
        if len(calls) in (2, 3):
            raise sqlite_error(FULL)
        return real(self, *args)

    monkeypatch.setattr(ClinicCommands, "execute", full_after_the_first)
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(_line(n) for n in range(4))))
    code = cli.main(["exec", "--data-dir", str(vault_dir)])
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 3
    assert [a["ok"] for a in answers] == [True, False, False, True]
    refused = answers[1:3]
    assert {a["error"] for a in refused} == {"the disk is full: this command was not saved"}
    assert {a["kind"] for a in refused} == {"DiskFullError"}


def test_a_full_disk_at_open_is_not_a_damaged_vault(
    vault_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Usage:
        free = 0

    monkeypatch.setattr("app.store.vault.check_readable", _failing_check)
    monkeypatch.setattr("shutil.disk_usage", lambda _path: Usage())
    code = cli.main(["patients", "--data-dir", str(vault_dir)])
    err = capsys.readouterr().err
    assert code == 3
    assert "the disk holding the vault is full" in err
    assert "not a FieldChart vault" not in err and "internal error" not in err


def _failing_check(engine: Any, path: Path) -> None:
    from app.store.database import check_readable

    def broken_connect(*_args: Any, **_kwargs: Any) -> Any:
        raise sqlite_error("disk I/O error")

    engine.connect = broken_connect
    check_readable(engine, path)


def test_a_wrong_passphrase_on_a_full_disk_is_refused_as_wrong(
    vault_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.store import throttle

    def no_space(*_args: Any, **_kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(throttle, "write_atomically", no_space)
    monkeypatch.setenv("FIELDCHART_PASSPHRASE", "not the passphrase")
    code = cli.main(["patients", "--data-dir", str(vault_dir)])
    err = capsys.readouterr().err
    assert code == 2
    assert "wrong passphrase for user 'doc'" in err
    assert "could not be recorded" in err
    assert "internal error" not in err
