"""IT operations: `backup`, `restore`, `rotate-key` and `diagnose`.

Every one of them is described with examples in docs/operations.md. None prints or logs
patient data: backups and restores report counts, `diagnose` reports versions, sizes, counts
by type and states, never names, ids or free text.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import shutil
import sys
from contextlib import AbstractContextManager, nullcontext
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from app.commandline.context import (
    acting_user,
    add_credentials,
    add_data_dir,
    data_dir_of,
    locking,
    open_vault,
    read_acting_passphrase,
    unlock_as_acting_user,
    vault_from,
)
from app.i18n import _
from app.services.clock import configured_clock
from app.store.backup import StagedRestore, create_backup
from app.store.errors import NotAVaultError
from app.store.keyslots import RECOVERY_SLOT, KeySlotFile
from app.store.vault import DB_FILE, SLOTS_FILE, Vault
from sync.worker_status import read_worker_status, redact

log = logging.getLogger("fieldchart.it")
MIB = 1024 * 1024


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "backup", help=_("write an encrypted, verified backup (admin; safe while the app runs)")
    )
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help=_("the backup file"))
    p.add_argument("--force", action="store_true", help=_("replace FILE if it exists"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_backup)

    p = sub.add_parser(
        "restore", help=_("verify a backup, then install it (never over a vault without --force)")
    )
    p.add_argument("--from", dest="source", type=Path, required=True, metavar="FILE")
    add_data_dir(p)
    add_credentials(p)
    p.add_argument(
        "--force",
        action="store_true",
        help=_("replace the vault in --data-dir (it is kept aside in a replaced-* directory)"),
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_restore)

    p = sub.add_parser(
        "rotate-key", help=_("new data key, vault file re-encrypted (admin; close the app first)")
    )
    add_data_dir(p)
    add_credentials(p)
    p.add_argument(
        "--new-vault-key",
        action="store_true",
        help=_(
            "also replace the vault key: only you and a new recovery "
            "secret keep access; every other user needs a new passphrase"
        ),
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_rotate_key)

    p = sub.add_parser(
        "diagnose", help=_("versions, sizes, counts, projection lag, sync state: no patient data")
    )
    add_data_dir(p)
    add_credentials(p)
    p.add_argument(
        "--no-unlock",
        action="store_true",
        help=_("report only what needs no passphrase (versions, files, key slots, worker, logs)"),
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_diagnose)


def _print(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, sort_keys=True))


# -- backup and restore ---------------------------------------------------------------------


def cmd_backup(args: argparse.Namespace) -> int:
    with vault_from(args) as vault:
        info = create_backup(vault, args.out, overwrite=args.force)
    log.info("backup written: %d events, %d bytes", info.events, info.bytes)
    if args.json:
        _print(
            {
                "ok": True,
                "file": str(info.path),
                "vault_id": info.vault_id,
                "created_at": info.created_at,
                "events": info.events,
                "head_position": info.head_position,
                "bytes": info.bytes,
            }
        )
    else:
        print(
            _(
                "backed up vault {vault_id}: {events} events, chain "
                "verified, {value:.1f} MiB in {path}"
            ).format(
                vault_id=info.vault_id, events=info.events, value=info.bytes / MIB, path=info.path
            )
        )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    with StagedRestore(args.source, data_dir_of(args), force=args.force) as staged:
        user = acting_user(args, staged.first_admin)
        passphrase = read_acting_passphrase(
            args, _("Passphrase for {user} when backed up: ").format(user=user)
        )
        info = staged.install(user, passphrase)
    log.info("backup restored: %d events, replaced a vault: %s", info.events, bool(info.replaced))
    if args.json:
        _print(
            {
                "ok": True,
                "data_dir": str(info.data_dir),
                "vault_id": info.vault_id,
                "backup_created_at": info.created_at,
                "events": info.events,
                "head_position": info.head_position,
                "replaced": str(info.replaced) if info.replaced else None,
            }
        )
    else:
        print(
            _(
                "restored vault {vault_id} (backup of {created_at}): "
                "{events} events, chain verified, into {data_dir}"
            ).format(
                vault_id=info.vault_id,
                created_at=info.created_at,
                events=info.events,
                data_dir=info.data_dir,
            )
        )
        if info.replaced:
            print(
                _("the vault that was there is kept in {replaced}; delete it when done").format(
                    replaced=info.replaced
                )
            )
    return 0


# -- rotate-key -----------------------------------------------------------------------------


def cmd_rotate_key(args: argparse.Namespace) -> int:
    vault = open_vault(args)  # on the app's clock, like every command
    passphrase = unlock_as_acting_user(vault, args)
    with locking(vault):
        result = vault.rotate_keys(new_vault_key=args.new_vault_key, passphrase=passphrase)
    log.info(
        "keys rotated: data key generation %d, new vault key %s, %d slots cleared",
        result.generation,
        args.new_vault_key,
        len(result.need_new_passphrase),
    )
    if args.json:
        _print(
            {
                "ok": True,
                "data_key_generation": result.generation,
                "new_vault_key": args.new_vault_key,
                "recovery_secret": result.recovery_secret,
                "need_new_passphrase": result.need_new_passphrase,
            }
        )
        return 0
    print(
        _(
            "rotated the data key (generation {generation}): the vault "
            "file is re-encrypted and the old key no longer opens it"
        ).format(generation=result.generation)
    )
    if result.recovery_secret:
        print(_("NEW RECOVERY SECRET (shown once; the old one no longer works; store it offline):"))
        print(f"  {result.recovery_secret}")
    if result.need_new_passphrase:
        print(
            _(
                "these users need a new passphrase before they can sign in "
                "(`fieldchart recover --user NAME`): "
            )
            + ", ".join(result.need_new_passphrase)
        )
    print(_("backups made before now still open with the old keys: replace them with a new backup"))
    return 0


# -- diagnose -------------------------------------------------------------------------------


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _versions() -> dict[str, Any]:
    from app.store.stats import sqlcipher_versions

    try:
        cipher: dict[str, Any] = sqlcipher_versions()
    except Exception as exc:  # a broken driver is exactly what diagnose must report
        cipher = {"error": type(exc).__name__}
    pyside = _version("PySide6-Essentials") or _version("PySide6")
    return {
        "fieldchart": _version("fieldchart"),
        "bundle": bool(getattr(sys, "frozen", False)),
        "python": platform.python_version(),
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
        },
        # PySide6 wheels carry the Qt release of the same version number.
        "pyside6": pyside,
        "qt": pyside,
        "pyside6_addons": _version("PySide6-Addons"),
        "sqlcipher": cipher,
        "sqlcipher3": _version("sqlcipher3") or _version("sqlcipher3-binary"),
        "sqlalchemy": _version("SQLAlchemy"),
        "cryptography": _version("cryptography"),
        "httpx": _version("httpx"),
        "apscheduler": _version("APScheduler"),
        "platformdirs": _version("platformdirs"),
    }


def _files(directory: Path) -> dict[str, int]:
    if not directory.is_dir():
        return {}
    return {
        p.name: p.stat().st_size
        for p in sorted(directory.iterdir())
        if p.is_file() and not p.name.startswith(".")
    }


def _key_slots(data_dir: Path) -> dict[str, Any]:
    try:
        slots = KeySlotFile.load(data_dir / SLOTS_FILE)
    except NotAVaultError as exc:
        return {"error": str(exc)}
    entry = slots.data_key
    return {
        "format": 1 if slots.legacy else 2,
        "vault_id": slots.vault_id,
        "data_key_generation": entry.generation if entry else None,
        "data_key_created_at": entry.created_at if entry else None,
        "user_slots": sum(1 for s in slots.slots if s != RECOVERY_SLOT),
        "recovery_slot": RECOVERY_SLOT in slots.slots,
        "disabled_users": len(slots.disabled),
        "need_new_passphrase": len(slots.reset_required),
    }


def _server(url: str | None) -> str | None:
    """The server's address without credentials or a query (neither belongs in a ticket)."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _unlocked_report(vault: Vault) -> dict[str, Any]:
    from app.projections.runner import PROJECTIONS_VERSION
    from app.services.settings import SettingsService
    from app.store import stats
    from app.store.database import read_transaction
    from app.store.sync_state import journal

    s = stats.collect(vault.engine)
    with read_transaction(vault.engine) as conn:
        last_success = journal(conn, "last_success_at")
        last_error = journal(conn, "last_error")
        audit_position = journal(conn, "audit_position")
    settings = SettingsService(vault).get()
    lag = None if s.projection_checkpoint is None else s.head_position - s.projection_checkpoint
    return {
        "vault": {
            "schema_version": s.schema_version,
            "events": {
                "total": s.events,
                "head_position": s.head_position,
                "by_type": s.events_by_type,
            },
            "streams": s.streams_by_kind,
            "users": {"by_role": s.users_by_role, "disabled": s.users_disabled},
        },
        "projections": {
            "checkpoint": s.projection_checkpoint,
            "head_position": s.head_position,
            "lag_events": lag,
            "version": s.projection_version,
            "expected_version": PROJECTIONS_VERSION,
            "rebuild_pending": s.projection_version != PROJECTIONS_VERSION,
        },
        "sync": {
            "configured": settings.sync_configured,
            "server": _server(settings.server_url),
            "auth_mode": settings.auth_mode,
            "custom_ca_bundle": bool(settings.ca_bundle_pem),
            "interval_minutes": settings.sync_interval_minutes,
            "auto_lock_minutes": settings.auto_lock_minutes,
            "outbox": s.outbox_by_status,
            "in_flight": s.outbox_in_flight,
            "needs_attention_by_command": s.attention_by_command_type,
            "pending_with_errors": s.commands_with_errors,
            "quarantined": s.quarantined,
            "last_success_at": last_success,
            "last_error": redact(last_error if isinstance(last_error, str) else None),
            "audit_events_pushed_up_to": audit_position,
        },
    }


def diagnose(data_dir: Path, vault: Vault | None) -> dict[str, Any]:
    """The report `diagnose --json` prints (no patient data; see docs/operations.md)."""
    from app.logging_setup import log_dir

    files = _files(data_dir)
    try:
        free = shutil.disk_usage(data_dir).free if data_dir.exists() else None
    except OSError:
        free = None
    worker = read_worker_status(data_dir)
    logs = log_dir()
    report: dict[str, Any] = {
        "generated_at": configured_clock()().isoformat(timespec="seconds"),
        "versions": _versions(),
        "vault": {
            "data_dir": str(data_dir),
            "exists": (data_dir / SLOTS_FILE).exists() and (data_dir / DB_FILE).exists(),
            "files": files,
            "total_bytes": sum(files.values()),
            "free_disk_bytes": free,
            "key_slots": _key_slots(data_dir) if (data_dir / SLOTS_FILE).exists() else None,
        },
        "worker": {"running": worker.running, **worker.detail},
        "logs": {"directory": str(logs), "files": _files(logs)},
        "unlocked": vault is not None,
    }
    if vault is not None:
        extra = _unlocked_report(vault)
        report["vault"].update(extra.pop("vault"))
        report.update(extra)
    return report


def cmd_diagnose(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args)
    unlocked: AbstractContextManager[Vault | None] = (
        nullcontext() if args.no_unlock else vault_from(args)
    )
    with unlocked as vault:
        report = diagnose(data_dir, vault)
    log.info("diagnose report written (unlocked: %s)", vault is not None)
    if args.json:
        _print(report)
        return 0
    v, vault_part = report["versions"], report["vault"]
    print(
        _("FieldChart {fieldchart} ({value}), Python {python}, Qt {qt}, SQLCipher {get}").format(
            fieldchart=v["fieldchart"],
            value=_("bundle") if v["bundle"] else _("source"),
            python=v["python"],
            qt=v["qt"],
            get=v["sqlcipher"].get("sqlcipher"),
        )
    )
    print(
        _("vault {data_dir}: {value:.1f} MiB").format(
            data_dir=data_dir, value=vault_part["total_bytes"] / MIB
        )
    )
    if "projections" in report:
        events = vault_part["events"]
        lag = report["projections"]["lag_events"]
        lag_text = (
            _("read models not built yet") if lag is None else _("{lag} events").format(lag=lag)
        )
        print(
            _("events {total}, projection lag {lag_text}").format(
                total=events["total"], lag_text=lag_text
            )
        )
        sync = report["sync"]
        print(
            _(
                "sync {value}: outbox {outbox}, quarantined {quarantined}, "
                "last success {last_success_at}"
            ).format(
                value=_("configured") if sync["configured"] else _("not configured"),
                outbox=sync["outbox"],
                quarantined=sync["quarantined"],
                last_success_at=sync["last_success_at"] or _("never"),
            )
        )
    print(
        _("sync worker {value}").format(
            value=_("running") if report["worker"]["running"] else _("not running")
        )
    )
    return 0
