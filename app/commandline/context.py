"""Shared CLI plumbing: where the data directory is, who acts, and how a vault gets unlocked.

Commands open a vault or a clinic with `with vault_from(args) as vault:` or `with
clinic_from(args) as clinic:`, which lock it again however the command ends.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.commandline.passphrases import read_passphrase
from app.i18n import LANGUAGE_ENV, _, set_language
from app.services.clinic import Clinic, open_clinic
from app.services.clock import Clock, configured_clock
from app.services.user_settings import UserSettingsService
from app.store.location import default_data_dir
from app.store.vault import Vault

PASSPHRASE_ENV = "FIELDCHART_PASSPHRASE"
USER_ENV = "FIELDCHART_USER"


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=_("vault directory (default: $FIELDCHART_DATA_DIR or the platform's data directory)"),
    )


def add_credentials(parser: argparse.ArgumentParser, *, user_flag: str = "--user") -> None:
    parser.add_argument(
        user_flag,
        dest="acting_user",
        default=None,
        help=_("who is acting (default: ${user_env}, or the vault's first admin)").format(
            user_env=USER_ENV
        ),
    )
    parser.add_argument(
        "--passphrase-file",
        type=Path,
        default=None,
        help=_("read the passphrase from this file (else ${passphrase_env}, else a prompt)").format(
            passphrase_env=PASSPHRASE_ENV
        ),
    )


def data_dir_of(args: argparse.Namespace) -> Path:
    return Path(args.data_dir) if args.data_dir else default_data_dir()


def acting_user(args: argparse.Namespace, first_admin: str) -> str:
    """Who acts: the --user (or --as) option, else $FIELDCHART_USER, else `first_admin` (of
    the vault, or of the backup being restored)."""
    return args.acting_user or os.environ.get(USER_ENV) or first_admin


def read_acting_passphrase(args: argparse.Namespace, prompt: str) -> str:
    """The acting user's passphrase: --passphrase-file, else $FIELDCHART_PASSPHRASE, else a
    prompt."""
    return read_passphrase(args.passphrase_file, PASSPHRASE_ENV, prompt)


def open_vault(args: argparse.Namespace, clock: Clock | None = None) -> Vault:
    """A locked handle on the vault in the data directory the arguments name. `clock` (the
    app's clock by default) times what the vault audits itself: admin actions, refused
    unlocks."""
    return Vault.open(data_dir_of(args), clock=clock or configured_clock())


def unlock_as_acting_user(vault: Vault, args: argparse.Namespace) -> str:
    """Unlock `vault` as the acting user; returns the passphrase (a key rotation re-wraps the
    admin's slot with it)."""
    user = acting_user(args, vault.first_admin)
    passphrase = read_acting_passphrase(args, _("Passphrase for {user}: ").format(user=user))
    vault.unlock(user, passphrase)
    # From here on the command speaks the user's own language (Settings, or `fieldchart
    # language`), unless FIELDCHART_LANG asks for another for this run.
    if not os.environ.get(LANGUAGE_ENV):
        set_language(UserSettingsService(vault).language(vault.actor))
    return passphrase


@contextmanager
def locking(vault: Vault) -> Iterator[Vault]:
    """`vault`, locked on leaving the block (its keys wiped) whatever happened inside."""
    try:
        yield vault
    finally:
        vault.lock()


@contextmanager
def vault_from(args: argparse.Namespace, clock: Clock | None = None) -> Iterator[Vault]:
    """The vault named by the arguments, unlocked as the acting user for the block."""
    vault = open_vault(args, clock)
    unlock_as_acting_user(vault, args)
    with locking(vault):
        yield vault


@contextmanager
def clinic_from(args: argparse.Namespace) -> Iterator[Clinic]:
    """The services of the vault named by the arguments, unlocked as the acting user for the
    block, on the app's clock (FIELDCHART_NOW may start it at a given instant)."""
    clock = configured_clock()  # before the slow unlock: a bad value fails at once
    vault = open_vault(args, clock)
    unlock_as_acting_user(vault, args)
    with locking(vault):  # also when the clinic cannot be opened (a failed rebuild, say)
        clinic = open_clinic(vault, clock=clock)
        try:
            yield clinic
        finally:
            clinic.close()
