"""`enroll`, `sync` and `status`: connect a device to the central FHIR server and run sync."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from app.commandline import held_commands
from app.commandline.context import add_credentials, add_data_dir, clinic_from
from app.commandline.errors import CliError, UsageError
from app.i18n import _
from app.services.redaction import redact_error
from app.services.settings import AUTH_MODES, CLIENT_SECRET_MODES, LEGACY_NAMES, current_names

QUARANTINE_SHOWN = 50


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("enroll", help=_("connect this device to a central FHIR R4 server (admin)"))
    add_data_dir(p)
    add_credentials(p)
    add_server_options(p)
    p.add_argument("--interval", type=int, help=_("minutes between sync cycles"))
    p.add_argument("--auto-lock", type=int, help=_("minutes of inactivity before the app locks"))
    p.add_argument(
        "--visit-days",
        type=int,
        help=_("days without activity after which a patient from elsewhere leaves (default 30)"),
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_enroll)

    p = sub.add_parser("sync", help=_("run one sync cycle now"))
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_sync)

    p = sub.add_parser("status", help=_("sync state: server, counts, last success, errors"))
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_status)
    # What needs a person after sync, and deciding it (app/commandline/held_commands.py).
    held_commands.register(sub)


def add_server_options(p: argparse.ArgumentParser) -> None:
    """The server and how to authenticate to it, read by ``_config`` (enroll, check-server)."""
    p.add_argument("--server", help=_("FHIR base URL, e.g. https://fhir.example.org/fhir/R4"))
    p.add_argument("--config", type=Path, help=_("clinic configuration file (JSON) from IT"))
    p.add_argument("--auth", choices=AUTH_MODES, default=None)
    p.add_argument("--token-file", type=Path, help=_("bearer token (first line)"))
    p.add_argument("--client-id", help=_("OAuth client id (client-secret-* and smart-backend)"))
    p.add_argument(
        "--token-url", help=_("OAuth2 token endpoint (client-secret-* and smart-backend)")
    )
    p.add_argument(
        "--client-secret-file",
        type=Path,
        help=_("client secret (first line; else ${client_secret_env}, else a prompt)").format(
            client_secret_env=CLIENT_SECRET_ENV
        ),
    )
    p.add_argument("--ca-bundle", type=Path, help=_("PEM file of CA certificates to trust"))
    scope = p.add_argument_group(_("scope (the facility this device serves; see docs/district)"))
    scope.add_argument(
        "--organization", help=_("its Organization on the server: Organization/<id> (or the id)")
    )
    scope.add_argument(
        "--location",
        action="append",
        help=_("a Location of it, Location/<id> (repeatable; the first goes on encounters)"),
    )
    scope.add_argument("--group", help=_("or a Group of its patients: Group/<id>"))
    scope.add_argument(
        "--pull-everything",
        action="store_true",
        default=None,
        help=_("IT's explicit choice: pull every patient on the server (no scoped pull)"),
    )
    p.set_defaults(interval=None, auto_lock=None, visit_days=None)  # enroll's own flags


#: The scope's keys in a clinic configuration file (the same as the settings' names).
SCOPE_KEYS = ("scope_organization", "scope_locations", "scope_group", "pull_everything")
NO_SCOPE: dict[str, Any] = {
    "scope_organization": None,
    "scope_locations": (),
    "scope_group": None,
    "pull_everything": False,
}
CONFIG_FORMAT = "fieldchart-clinic-config/1"  # optional "format" key of --config files
CLIENT_SECRET_ENV = "FIELDCHART_CLIENT_SECRET"  # for automation; never a command-line flag


def _print(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, sort_keys=True))


def _config(args: argparse.Namespace) -> dict[str, Any]:
    """Settings from --config, overridden by explicit flags."""
    values: dict[str, Any] = {}
    if args.config is not None:
        try:
            loaded = json.loads(args.config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(
                _("cannot read the configuration file {config}: {exc}").format(
                    config=args.config, exc=exc
                )
            ) from None
        if not isinstance(loaded, dict):
            raise UsageError(_("{config} must hold a JSON object").format(config=args.config))
        allowed = {
            "server_url",
            "auth_mode",
            "client_id",
            "token_url",
            *LEGACY_NAMES,  # smart_client_id, smart_token_url: files written before 1.x
            "sync_interval_minutes",
            "auto_lock_minutes",
            "visit_days",
            "ca_bundle_pem",
            *SCOPE_KEYS,
        }
        unknown = sorted(set(loaded) - allowed - {"format"})
        if unknown:
            raise UsageError(
                _("{config}: unknown setting {unknown!r} (known: {items})").format(
                    config=args.config, unknown=unknown[0], items=", ".join(sorted(allowed))
                )
            )
        if loaded.pop("format", CONFIG_FORMAT) != CONFIG_FORMAT:
            raise UsageError(
                _("{config}: format must be {config_format!r}").format(
                    config=args.config, config_format=CONFIG_FORMAT
                )
            )
        for key, value in loaded.items():  # a wrong type is a usage error, not a crash
            _check_type(args.config, key, value)
        values.update(current_names(loaded))
    flags = {
        "server_url": args.server,
        "auth_mode": args.auth,
        "client_id": args.client_id,
        "token_url": args.token_url,
        "sync_interval_minutes": args.interval,
        "auto_lock_minutes": args.auto_lock,
        "visit_days": args.visit_days,
        "scope_organization": args.organization,
        "scope_locations": args.location,
        "scope_group": args.group,
        "pull_everything": args.pull_everything,
    }
    values.update({k: v for k, v in flags.items() if v is not None})
    files = (
        ("token_file", "bearer_token"),
        ("client_secret_file", "client_secret"),
        ("ca_bundle", "ca_bundle_pem"),
    )
    for flag, key in files:
        path = getattr(args, flag, None)
        if path is not None:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise UsageError(
                    _("cannot read {path}: {strerror}").format(path=path, strerror=exc.strerror)
                ) from None
            if key == "ca_bundle_pem":
                values[key] = text
            elif not text.strip():
                raise UsageError(_("{path} is empty").format(path=path))
            else:
                values[key] = text.strip().splitlines()[0].strip()
    if "client_secret" not in values and os.environ.get(CLIENT_SECRET_ENV):
        values["client_secret"] = os.environ[CLIENT_SECRET_ENV].strip()
    if not values.get("server_url"):
        raise UsageError(_("give --server URL or a --config file with server_url"))
    if any(key in values for key in SCOPE_KEYS):  # a scope given replaces the whole scope
        values = {**NO_SCOPE, **values}
    return values


def _check_type(config: Path, key: str, value: Any) -> None:
    """UsageError unless a configuration file's `value` has the type `key` takes."""
    if key == "pull_everything":
        ok, kind = isinstance(value, bool), _("true or false")
    elif key == "scope_locations":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        kind = _('a list of references ("Location/<id>")')
    elif key.endswith("_minutes") or key == "visit_days":
        ok = isinstance(value, int) and not isinstance(value, bool)
        kind = (
            _("a whole number of days") if key == "visit_days" else _("a whole number of minutes")
        )
    else:
        ok, kind = isinstance(value, str), _("a string")
    if not ok:
        raise UsageError(
            _("{config}: {key} must be {kind}").format(config=config, key=key, kind=kind)
        )


def cmd_enroll(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from app.services.settings import validate
    from sync.clinic_sync import client_for
    from sync.create_strategy import record_create_strategy
    from sync.fhir.auth import generate_device_keypair
    from sync.fhir.errors import AuthError, FhirError
    from sync.scope import SyncScope
    from sync.scope_cache import record_strategy
    from sync.server_check.atomicity import refresh_server_facts
    from sync.server_check.scope_check import (
        ScopeCheckError,
        describe_scope,
        require_scope,
        verify_scope,
    )

    values = _config(args)
    with clinic_from(args) as clinic:
        actor = clinic.actor
        current = clinic.settings.get()
        public_jwk = None
        if values.get("auth_mode") == "smart-backend" and not current.smart_private_key_pem:
            private_pem, public_jwk = generate_device_keypair()
            values["smart_private_key_pem"] = private_pem.decode("ascii")
        mode = values.get("auth_mode", current.auth_mode)
        if mode in CLIENT_SECRET_MODES and not values.get("client_secret", current.client_secret):
            values["client_secret"] = _prompt_client_secret()
        candidate = validate(replace(current, **values))
        try:
            require_scope(candidate)
        except ScopeCheckError as exc:
            raise UsageError(exc.message) from None
        try:
            with client_for(candidate) as client:
                info = client.capabilities()
                # Before anything is saved: a scope the server cannot honour enrols nothing.
                strategy = verify_scope(client, info, candidate)
                refresh_server_facts(clinic.sync_gateway, client, clinic.clock(), force=True)
                saved = clinic.settings.update(actor, **values)
        except ScopeCheckError as exc:
            raise CliError(exc.message) from None
        except AuthError as exc:
            raise CliError(
                _("the server refused this device's credentials: {exc}").format(exc=exc)
            ) from None
        except FhirError as exc:
            raise CliError(_("could not reach the server: {exc}").format(exc=exc)) from None
        # Kept where the pull keeps it: the first cycle reads no CapabilityStatement for it.
        scope = SyncScope.from_settings(saved)
        record_strategy(clinic.sync_gateway, scope, strategy, clinic.clock())
        record_create_strategy(clinic.sync_gateway, info)
        warnings = info.warnings()
    for warning in warnings:
        print(_("WARNING: {warning}").format(warning=warning), file=sys.stderr)
    described = describe_scope(saved)
    chosen = {"name": strategy.name, "description": strategy.description}
    result = {
        "ok": True,
        "server": values["server_url"],
        "fhir_version": info.fhir_version,
        "warnings": warnings,
        "public_jwk": public_jwk,
        "scope": {**described, "strategy": chosen},
    }
    if args.json:
        _print(result)
    else:
        print(
            _("enrolled with {server_url} (FHIR {fhir_version})").format(
                server_url=values["server_url"], fhir_version=info.fhir_version
            )
        )
        print(
            _("scope: {summary} — {description}").format(
                summary=described["summary"], description=strategy.description
            )
        )
        if public_jwk:
            print(_("register this device's public key with the server:"))
            print(json.dumps(public_jwk))
    return 0


def _prompt_client_secret() -> str:
    """The client secret typed without echo (only in a terminal)."""
    if not sys.stdin.isatty():
        raise UsageError(
            _(
                "the client secret is missing: use --client-secret-file FILE "
                "or set {client_secret_env} (never a command-line argument)"
            ).format(client_secret_env=CLIENT_SECRET_ENV)
        )
    return getpass.getpass("Client secret: ").strip()


def cmd_sync(args: argparse.Namespace) -> int:
    from app.commandline.sync_progress import ProgressPrinter
    from sync.clinic_sync import SyncNotConfiguredError, client_for, engine_for
    from sync.fhir.errors import FhirError

    with clinic_from(args) as clinic:
        try:
            with client_for(clinic.settings.get()) as client:
                report = engine_for(clinic, client).run_cycle(ProgressPrinter())
        except SyncNotConfiguredError as exc:
            raise CliError(str(exc)) from None
        except FhirError as exc:
            # Redacted before it is stored: the URL may name a client-chosen patient id.
            clinic.sync_gateway.set_journal("last_error", redact_error(str(exc)))
            raise CliError(_("sync failed: {exc}").format(exc=exc)) from None
        clinic.sync_gateway.set_journal("last_error", None)
    if args.json:
        _print(report.to_json())
    else:
        print(
            _(
                "pushed {pushed}, pulled {pulled_new} new of {pulled}, "
                "conflicts {conflicts}, needs attention {needs_attention}"
            ).format(
                pushed=report.pushed,
                pulled_new=report.pulled_new,
                pulled=report.pulled,
                conflicts=report.conflicts,
                needs_attention=report.needs_attention,
            )
        )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from sync.held_changes import status_json as held_status
    from sync.retention import latest_retention_report
    from sync.server_check.atomicity import server_facts
    from sync.server_check.scope_check import describe_scope, recorded_strategy

    with clinic_from(args) as clinic:
        settings = clinic.settings.get()
        gateway = clinic.sync_gateway
        overview = clinic.queries.sync_overview()
        held = held_status(gateway)
        retention = latest_retention_report(gateway)
        status = {
            "configured": settings.sync_configured,
            "settings": settings.public(),
            "pending": overview.pending,
            "synced": overview.synced,
            # Commands in conflict and server changes held for a person (listed below).
            "needs_attention": overview.needs_attention + len(held),
            "attention": [
                {
                    "command_id": a.command_id,
                    "command_type": a.command_type,
                    "message": a.last_error,
                    "detail": a.detail,
                }
                for a in overview.attention
            ],
            # Server changes held for a person (identity changes, moves between patients):
            # decided in the app's Sync panel (docs/sync-identity.md).
            "held_server_changes": held,
            "last_success_at": gateway.journal("last_success_at"),
            "last_error": redact_error(gateway.journal("last_error")),  # older vaults: raw
            "server": server_facts(gateway),
            # The facility it pulls, and how (decided at enrolment, then by the pull);
            # configured False: an enrolment from before scopes, which pulls everything.
            "scope": {**describe_scope(settings), "strategy": recorded_strategy(gateway, settings)},
            # Who the last retention run removed from the device and who it kept, and why
            # (patient ids and reasons only).
            "retention": retention.to_json() if retention else None,
            "quarantined": gateway.quarantined_count(),  # all of them, not the list's length
            # The first admin's signing key: IT compares it with the one noted at init
            # (docs/security/roles-and-signatures.md).
            "trust_anchor": clinic.vault.trust_anchor,
            # What IT needs to find each item; reasons name elements, never patient data.
            "quarantine": [
                {
                    k: q[k]
                    for k in (
                        "received_at",
                        "resource_type",
                        "resource_id",
                        "reason",
                        "times_seen",
                        "last_seen_at",
                    )
                }
                for q in gateway.quarantined(QUARANTINE_SHOWN)
            ],
        }
    if args.json:
        _print(status)
    else:
        print(
            _("server: {server_url}").format(server_url=settings.server_url or _("not configured"))
        )
        if settings.sync_configured:
            print(_("scope: {summary}").format(summary=status["scope"]["summary"]))
        print(
            _(
                "pending {pending}, needs attention {needs_attention}, last "
                "success {last_success_at}"
            ).format(
                pending=status["pending"],
                needs_attention=status["needs_attention"],
                last_success_at=status["last_success_at"] or _("never"),
            )
        )
        if status["last_error"]:
            print(_("last error: {last_error}").format(last_error=status["last_error"]))
        if status["held_server_changes"]:
            print(
                _(
                    "server changes held for a person: {count} (identity changes "
                    "or items moved between patients; decide in the Sync panel)"
                ).format(count=len(status["held_server_changes"]))
            )
        if status["quarantined"]:
            print(
                _("quarantined server items: {quarantined} (see --json)").format(
                    quarantined=status["quarantined"]
                )
            )
        for line in retention.lines() if retention else []:
            print(line)
    return 0
