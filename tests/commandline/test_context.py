"""Who acts in a CLI command, and that an opened vault is locked however the command ends."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from app.commandline.context import USER_ENV, acting_user, vault_from
from app.store.crypto import FAST_FOR_TESTS
from app.store.vault import Vault


def args_with(acting: str | None, data_dir: Path | None = None) -> argparse.Namespace:
    return argparse.Namespace(acting_user=acting, data_dir=data_dir, passphrase_file=None)


def test_the_option_wins_then_the_environment_then_the_first_admin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(USER_ENV, "desk")
    assert acting_user(args_with("doc"), "admin") == "doc"
    assert acting_user(args_with(None), "admin") == "desk"
    monkeypatch.delenv(USER_ENV)
    assert acting_user(args_with(None), "admin") == "admin"


def test_a_vault_opened_for_a_command_is_locked_when_it_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created, _ = Vault.create(tmp_path, "admin", "admin passphrase", kdf=FAST_FOR_TESTS)
    created.lock()
    monkeypatch.setenv("FIELDCHART_PASSPHRASE", "admin passphrase")
    monkeypatch.delenv(USER_ENV, raising=False)
    with pytest.raises(RuntimeError), vault_from(args_with(None, tmp_path)) as vault:
        assert vault.actor.user == "admin"
        raise RuntimeError("the command failed")
    assert not vault.is_unlocked
