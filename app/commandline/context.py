"""Shared CLI plumbing: where the data directory is and how a vault gets unlocked."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from app.commandline.passphrases import read_passphrase
from app.services.clinic import Clinic, open_clinic
from app.services.clock import Clock, configured_clock
from app.store.location import default_data_dir
from app.store.vault import Vault

PASSPHRASE_ENV = "FIELDCHART_PASSPHRASE"
USER_ENV = "FIELDCHART_USER"


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="vault directory (default: $FIELDCHART_DATA_DIR or the platform's data directory)",
    )


def add_credentials(parser: argparse.ArgumentParser, *, user_flag: str = "--user") -> None:
    parser.add_argument(
        user_flag,
        dest="acting_user",
        default=None,
        help=f"who is acting (default: ${USER_ENV}, or the vault's first admin)",
    )
    parser.add_argument(
        "--passphrase-file",
        type=Path,
        default=None,
        help=f"read the passphrase from this file (else ${PASSPHRASE_ENV}, else a prompt)",
    )


def data_dir_of(args: argparse.Namespace) -> Path:
    return Path(args.data_dir) if args.data_dir else default_data_dir()


def unlocked_vault(args: argparse.Namespace, clock: Clock | None = None) -> Vault:
    """Open the vault named by the arguments and unlock it as the acting user. `clock` (the
    app's clock by default) times what the vault audits itself: admin actions, refused
    unlocks."""
    vault = Vault.open(data_dir_of(args), clock=clock or configured_clock())
    user = args.acting_user or os.environ.get(USER_ENV) or vault.first_admin
    passphrase = read_passphrase(args.passphrase_file, PASSPHRASE_ENV, f"Passphrase for {user}: ")
    vault.unlock(user, passphrase)
    return vault


def clinic_from(args: argparse.Namespace) -> Clinic:
    """The services of the vault named by the arguments, unlocked as the acting user, on the
    app's clock (FIELDCHART_NOW may start it at a given instant)."""
    clock = configured_clock()  # before the slow unlock: a bad value fails at once
    return open_clinic(unlocked_vault(args, clock), clock=clock)
