"""`init`, `user add|list|disable|enable`, `passwd`, `recover` and `verify`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.commandline.context import (
    PASSPHRASE_ENV,
    acting_user,
    add_credentials,
    add_data_dir,
    data_dir_of,
    locking,
    open_vault,
    read_acting_passphrase,
    vault_from,
)
from app.commandline.passphrases import read_passphrase
from app.domain.roles import Role
from app.services.clock import configured_clock
from app.store.errors import TamperError
from app.store.signature_check import SignatureReport
from app.store.vault import Vault
from app.store.vault_creation import confirm_created

NEW_PASSPHRASE_ENV = "FIELDCHART_NEW_PASSPHRASE"
RECOVERY_ENV = "FIELDCHART_RECOVERY_SECRET"


def read_new_passphrase(args: argparse.Namespace, user: str) -> str:
    """A user's new passphrase: --new-passphrase-file, else $FIELDCHART_NEW_PASSPHRASE, else
    a prompt asked twice."""
    return read_passphrase(
        args.new_passphrase_file, NEW_PASSPHRASE_ENV, f"New passphrase for {user}: ", confirm=True
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("init", help="create a vault and its first (admin) user")
    add_data_dir(p)
    p.add_argument("--user", required=True, help="name of the first user, who becomes admin")
    p.add_argument("--passphrase-file", type=Path)
    p.set_defaults(run=cmd_init)

    users = sub.add_parser("user", help="manage users (admin)")
    user_sub = users.add_subparsers(dest="user_command", required=True)
    p = user_sub.add_parser("add", help="add a user with a role")
    add_data_dir(p)
    p.add_argument("--user", required=True, help="the new user's name")
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    add_credentials(p, user_flag="--as")
    p.add_argument(
        "--new-passphrase-file",
        type=Path,
        help=f"the new user's passphrase (else ${NEW_PASSPHRASE_ENV}, else a prompt)",
    )
    p.set_defaults(run=cmd_user_add)
    p = user_sub.add_parser("list", help="list users and roles")
    add_data_dir(p)
    add_credentials(p, user_flag="--as")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_user_list)
    p = user_sub.add_parser("disable", help="disable a user (their passphrase stops working)")
    add_data_dir(p)
    p.add_argument("--user", required=True)
    add_credentials(p, user_flag="--as")
    p.set_defaults(run=cmd_user_disable)
    p = user_sub.add_parser(
        "enable", help="enable a disabled user again, with a new passphrase (admin)"
    )
    add_data_dir(p)
    p.add_argument("--user", required=True)
    add_credentials(p, user_flag="--as")
    p.add_argument(
        "--new-passphrase-file",
        type=Path,
        help=f"the user's new passphrase (else ${NEW_PASSPHRASE_ENV}, else a prompt)",
    )
    p.set_defaults(run=cmd_user_enable)

    p = sub.add_parser("passwd", help="change your passphrase (rewraps your key slot)")
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("--new-passphrase-file", type=Path)
    p.set_defaults(run=cmd_passwd)

    p = sub.add_parser("recover", help="set a user's passphrase using the recovery secret")
    add_data_dir(p)
    p.add_argument("--user", required=True)
    p.add_argument("--recovery-file", type=Path)
    p.add_argument("--new-passphrase-file", type=Path)
    p.set_defaults(run=cmd_recover)

    p = sub.add_parser("verify", help="check every event's seal and the hash chain")
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_verify)


def cmd_init(args: argparse.Namespace) -> int:
    passphrase = read_passphrase(
        args.passphrase_file, PASSPHRASE_ENV, f"New passphrase for {args.user}: ", confirm=True
    )
    vault, recovery = Vault.create(
        data_dir_of(args), args.user, passphrase, clock=configured_clock(), confirmed=False
    )
    vault.lock()
    print(f"created vault in {vault.data_dir} with admin '{args.user}'")
    # IT notes it down: `status` and `verify` show it, and it must never change.
    print(f"trust anchor (the admin's signing key): {vault.trust_anchor}")
    print("RECOVERY SECRET (shown once; store it offline, it can reset any passphrase):")
    print(f"  {recovery}", flush=True)
    # Only now is the vault finished: killed before the secret was out, it stays unfinished
    # (it does not open) and the next `init` replaces it.
    confirm_created(vault.data_dir)
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    with vault_from(args) as vault:
        passphrase = read_new_passphrase(args, args.user)
        vault.add_user(args.user, Role(args.role), passphrase)
    print(f"added user '{args.user}' with role {args.role}")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    with vault_from(args) as vault:
        users = vault.list_users()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": u.name,
                        "role": u.role.value,
                        "created_at": u.created_at,
                        "disabled": u.disabled,
                    }
                    for u in users
                ]
            )
        )
    else:
        for u in users:
            print(f"{u.name}\t{u.role.value}\t{'disabled' if u.disabled else 'active'}")
    return 0


def cmd_user_disable(args: argparse.Namespace) -> int:
    with vault_from(args) as vault:
        vault.disable_user(args.user)
    print(f"disabled user '{args.user}'")
    return 0


def cmd_user_enable(args: argparse.Namespace) -> int:
    with vault_from(args) as vault:
        passphrase = read_new_passphrase(args, args.user)
        vault.enable_user(args.user, passphrase)
    print(f"enabled user '{args.user}' with a new passphrase")
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    vault = open_vault(args)  # never unlocked: proving the old passphrase is enough
    user = acting_user(args, vault.first_admin)
    old = read_acting_passphrase(args, f"Current passphrase for {user}: ")
    new = read_new_passphrase(args, user)
    vault.change_passphrase(user, old, new)
    print(f"changed the passphrase of '{user}'")
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    vault = open_vault(args)
    secret = read_passphrase(args.recovery_file, RECOVERY_ENV, "Recovery secret: ")
    vault.unlock_with_recovery(secret)
    with locking(vault):
        new = read_new_passphrase(args, args.user)
        vault.reset_passphrase(args.user, new)
    print(f"set a new passphrase for '{args.user}'")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    with vault_from(args) as vault:
        report = vault.events.verify()
        signed, mismatches = vault.signing.verify()
    problems = [what for _, what in signed.problems] + mismatches
    for what in problems:
        print(f"problem: {what}", file=sys.stderr)
    if problems:
        raise TamperError(
            f"{len(problems)} signature or role problem(s) (listed above); the first: "
            f"{problems[0]}",
            signed.problems[0][0] if signed.problems else None,
        )
    if args.json:
        found: dict[str, object] = {
            "ok": True,
            "events": report.events,
            "head_position": report.head_position,
            "signed_events": signed.signed,
            "unsigned_legacy_events": signed.legacy,
            "baseline_position": signed.baseline_position,
            "trust_anchor": signed.anchor,
        }
        if report.purged:  # removed with patients who left the device, each purge-listed
            found["purged"] = report.purged
        print(json.dumps(found))
    else:
        removed = (
            f" ({report.purged} removed with patients who left this device, as purge events record)"
            if report.purged
            else ""
        )
        print(
            f"ok: {report.events} events verified{removed}, chain intact up to position "
            f"{report.head_position}"
        )
        print(_signatures_line(signed))
    return 0


def _signatures_line(signed: SignatureReport) -> str:
    if signed.baseline_position is None:
        return (
            f"not signed yet: {signed.legacy} unsigned legacy events (written before signing "
            "keys); an admin's next unlock writes the signed baseline"
        )
    legacy = (
        f"; {signed.legacy} unsigned legacy events before the signed baseline at position "
        f"{signed.baseline_position}"
        if signed.legacy
        else ""
    )
    return (
        f"signatures: {signed.signed} events signed by users holding a granted role{legacy}; "
        f"trust anchor {signed.anchor} (compare with the one noted at init)"
    )
