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
from app.i18n import _
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
        args.new_passphrase_file,
        NEW_PASSPHRASE_ENV,
        _("New passphrase for {user}: ").format(user=user),
        confirm=True,
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("init", help=_("create a vault and its first (admin) user"))
    add_data_dir(p)
    p.add_argument("--user", required=True, help=_("name of the first user, who becomes admin"))
    p.add_argument("--passphrase-file", type=Path)
    p.set_defaults(run=cmd_init)

    users = sub.add_parser("user", help=_("manage users (admin)"))
    user_sub = users.add_subparsers(dest="user_command", required=True)
    p = user_sub.add_parser("add", help=_("add a user with a role"))
    add_data_dir(p)
    p.add_argument("--user", required=True, help=_("the new user's name"))
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    add_credentials(p, user_flag="--as")
    p.add_argument(
        "--new-passphrase-file",
        type=Path,
        help=_("the new user's passphrase (else ${new_passphrase_env}, else a prompt)").format(
            new_passphrase_env=NEW_PASSPHRASE_ENV
        ),
    )
    p.set_defaults(run=cmd_user_add)
    p = user_sub.add_parser("list", help=_("list users and roles"))
    add_data_dir(p)
    add_credentials(p, user_flag="--as")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_user_list)
    p = user_sub.add_parser("disable", help=_("disable a user (their passphrase stops working)"))
    add_data_dir(p)
    p.add_argument("--user", required=True)
    add_credentials(p, user_flag="--as")
    p.set_defaults(run=cmd_user_disable)
    p = user_sub.add_parser(
        "enable", help=_("enable a disabled user again, with a new passphrase (admin)")
    )
    add_data_dir(p)
    p.add_argument("--user", required=True)
    add_credentials(p, user_flag="--as")
    p.add_argument(
        "--new-passphrase-file",
        type=Path,
        help=_("the user's new passphrase (else ${new_passphrase_env}, else a prompt)").format(
            new_passphrase_env=NEW_PASSPHRASE_ENV
        ),
    )
    p.set_defaults(run=cmd_user_enable)

    p = sub.add_parser("passwd", help=_("change your passphrase (rewraps your key slot)"))
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("--new-passphrase-file", type=Path)
    p.set_defaults(run=cmd_passwd)

    p = sub.add_parser("recover", help=_("set a user's passphrase using the recovery secret"))
    add_data_dir(p)
    p.add_argument("--user", required=True)
    p.add_argument("--recovery-file", type=Path)
    p.add_argument("--new-passphrase-file", type=Path)
    p.set_defaults(run=cmd_recover)

    p = sub.add_parser("verify", help=_("check every event's seal and the hash chain"))
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_verify)


def cmd_init(args: argparse.Namespace) -> int:
    passphrase = read_passphrase(
        args.passphrase_file,
        PASSPHRASE_ENV,
        _("New passphrase for {user}: ").format(user=args.user),
        confirm=True,
    )
    vault, recovery = Vault.create(
        data_dir_of(args), args.user, passphrase, clock=configured_clock(), confirmed=False
    )
    vault.lock()
    print(
        _("created vault in {data_dir} with admin '{user}'").format(
            data_dir=vault.data_dir, user=args.user
        )
    )
    # IT notes it down: `status` and `verify` show it, and it must never change.
    print(
        _("trust anchor (the admin's signing key): {trust_anchor}").format(
            trust_anchor=vault.trust_anchor
        )
    )
    print(_("RECOVERY SECRET (shown once; store it offline, it can reset any passphrase):"))
    print(f"  {recovery}", flush=True)
    # Only now is the vault finished: killed before the secret was out, it stays unfinished
    # (it does not open) and the next `init` replaces it.
    confirm_created(vault.data_dir)
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    with vault_from(args) as vault:
        passphrase = read_new_passphrase(args, args.user)
        vault.add_user(args.user, Role(args.role), passphrase)
    print(_("added user '{user}' with role {role}").format(user=args.user, role=args.role))
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
            print(f"{u.name}\t{u.role.value}\t{_('disabled') if u.disabled else _('active')}")
    return 0


def cmd_user_disable(args: argparse.Namespace) -> int:
    with vault_from(args) as vault:
        vault.disable_user(args.user)
    print(_("disabled user '{user}'").format(user=args.user))
    return 0


def cmd_user_enable(args: argparse.Namespace) -> int:
    with vault_from(args) as vault:
        passphrase = read_new_passphrase(args, args.user)
        vault.enable_user(args.user, passphrase)
    print(_("enabled user '{user}' with a new passphrase").format(user=args.user))
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    vault = open_vault(args)  # never unlocked: proving the old passphrase is enough
    user = acting_user(args, vault.first_admin)
    old = read_acting_passphrase(args, _("Current passphrase for {user}: ").format(user=user))
    new = read_new_passphrase(args, user)
    vault.change_passphrase(user, old, new)
    print(_("changed the passphrase of '{user}'").format(user=user))
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    vault = open_vault(args)
    secret = read_passphrase(args.recovery_file, RECOVERY_ENV, "Recovery secret: ")
    vault.unlock_with_recovery(secret)
    with locking(vault):
        new = read_new_passphrase(args, args.user)
        vault.reset_passphrase(args.user, new)
    print(_("set a new passphrase for '{user}'").format(user=args.user))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    with vault_from(args) as vault:
        report = vault.events.verify()
        signed, mismatches = vault.signing.verify()
    problems = [what for _, what in signed.problems] + mismatches
    for what in problems:
        print(_("problem: {what}").format(what=what), file=sys.stderr)
    if problems:
        raise TamperError(
            _("{count} signature or role problem(s) (listed above); the first: {problems}").format(
                count=len(problems), problems=problems[0]
            ),
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
            _(
                " ({purged} removed with patients who left this device, as purge events record)"
            ).format(purged=report.purged)
            if report.purged
            else ""
        )
        print(
            _(
                "ok: {events} events verified{removed}, chain intact up to position {head_position}"
            ).format(events=report.events, removed=removed, head_position=report.head_position)
        )
        print(_signatures_line(signed))
    return 0


def _signatures_line(signed: SignatureReport) -> str:
    if signed.baseline_position is None:
        return _(
            "not signed yet: {legacy} unsigned legacy events (written "
            "before signing keys); an admin's next unlock writes the "
            "signed baseline"
        ).format(legacy=signed.legacy)
    legacy = (
        _(
            "; {legacy} unsigned legacy events before the signed "
            "baseline at position {baseline_position}"
        ).format(legacy=signed.legacy, baseline_position=signed.baseline_position)
        if signed.legacy
        else ""
    )
    return _(
        "signatures: {signed} events signed by users holding a "
        "granted role{legacy}; trust anchor {anchor} (compare with "
        "the one noted at init)"
    ).format(signed=signed.signed, legacy=legacy, anchor=signed.anchor)
