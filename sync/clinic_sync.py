"""The front door of sync for one unlocked clinic: what the app, the CLI and the tests use.

`client_for` and `engine_for` build the FHIR client and the sync engine from the device's
settings and the clinic's own catalog, clock and sync gateway. `ClinicSync` is the SyncControl
the desktop app's sync panel talks to: it runs the background worker when a server is enrolled
(and reports NOT_CONFIGURED otherwise), adds the needs-attention list with both values to every
status, and turns a person's decision on a conflict into a ResolveSyncConflict command.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import replace

import httpx

from app.domain.commands import ResolveSyncConflict
from app.domain.errors import ValidationError
from app.domain.events import patient_of_command_stream
from app.domain.rebase import ConflictDetail
from app.domain.roles import Actor
from app.i18n import N_, _
from app.services.clinic import Clinic
from app.services.settings import OAUTH_MODES, DeviceSettings
from app.services.sync_gateway import HELD_PREFIX
from app.services.sync_status import (
    HELD_RESOLUTION,
    AttentionItem,
    OutboxStatus,
    Resolution,
    SyncState,
    SyncStatus,
    VaultLockedError,
)
from sync.engine import SyncEngine
from sync.exclusive_engine import ExclusiveSyncEngine
from sync.fhir.auth import BearerAuth, ClientCredentialsAuth, NoAuth, SmartBackendAuth
from sync.fhir.client import FhirClient
from sync.fhir.errors import FhirError
from sync.fhir.mapping.facility import Facility
from sync.fhir_mapper import FhirResourceMapper
from sync.held_changes import attention_items, resolve_held
from sync.retention import retention_hook
from sync.scope import SyncScope
from sync.server_check.scope_check import ScopeCheckError, verify_scope
from sync.worker import SyncWorker, wall_clock
from sync.worker_status import WorkerStatusFile

log = logging.getLogger("fieldchart.sync")


class SyncNotConfiguredError(Exception):
    pass


def auth_for(settings: DeviceSettings) -> httpx.Auth:
    """The httpx.Auth of the device's authentication mode (SyncNotConfiguredError when a
    setting the mode needs is missing: settings saved through validate() always have them)."""
    mode = settings.auth_mode
    if mode == "bearer" and settings.bearer_token:
        return BearerAuth(
            settings.bearer_token, allow_insecure_http=_loopback(settings.server_url or "")
        )
    if mode in OAUTH_MODES:
        smart = mode == "smart-backend"
        credential = settings.smart_private_key_pem if smart else settings.client_secret
        if not (settings.token_url and settings.client_id and credential):
            raise SyncNotConfiguredError(
                _(
                    "SMART Backend Services needs a token URL, a client id and the device key; "
                    "enrol the device again"
                )
                if smart
                else _(
                    "client credentials need a token URL, a client id and a client secret; "
                    "enrol the device again"
                )
            )
        insecure = _loopback(settings.token_url)
        if smart:
            return SmartBackendAuth(
                settings.token_url, settings.client_id, credential, allow_insecure_http=insecure
            )
        post = mode == "client-secret-post"
        return ClientCredentialsAuth(
            settings.token_url,
            settings.client_id,
            credential,
            "client_secret_post" if post else "client_secret_basic",
            allow_insecure_http=insecure,
        )
    return NoAuth()


def _loopback(url: str) -> bool:
    host = httpx.URL(url).host if url else ""
    return host in ("127.0.0.1", "localhost", "::1")


def client_for(
    settings: DeviceSettings, transport: httpx.BaseTransport | None = None
) -> FhirClient:
    if not settings.server_url:
        raise SyncNotConfiguredError(_("no sync server is enrolled on this device"))
    verify: bool | ssl.SSLContext = True
    if settings.ca_bundle_pem:
        verify = ssl.create_default_context(cadata=settings.ca_bundle_pem)
    return FhirClient(settings.server_url, auth_for(settings), verify=verify, transport=transport)


def engine_for(clinic: Clinic, client: FhirClient) -> SyncEngine:
    """The sync engine of a clinic, on the clinic's own catalog and clock. It pulls the
    device's scope, read from the settings each cycle (a re-scope applies at the next one);
    what it creates on the server names the facility (the scope's Organization and first
    Location)."""
    settings = clinic.settings.get()
    mapper = FhirResourceMapper(clinic.catalog, facility_of(settings))
    # One cycle at a time per vault across processes: the app's worker and `fieldchart sync`.
    return ExclusiveSyncEngine(
        clinic.sync_gateway,
        client,
        mapper,
        clinic.clock,
        scope=lambda: SyncScope.from_settings(clinic.settings.get()),
        # Patients who left the scope leave the device once nothing of theirs is pending.
        retention=retention_hook(clinic, client, settings.visit_days),
        data_dir=clinic.vault.data_dir,
    )


def facility_of(settings: DeviceSettings) -> Facility | None:
    """The facility references of the device's scope; None for a device without one."""
    location = settings.scope_locations[0] if settings.scope_locations else None
    if not (settings.scope_organization or location):
        return None
    return Facility(settings.scope_organization, location)


#: How a person chooses to pull everything on the Settings screen (named in its errors).
# Translators: quotes the Settings screen's check box of that name
SETTINGS_PULL_EVERYTHING = N_("'Pull every patient on the server'")


def check_scope_for(clinic: Clinic, settings: DeviceSettings) -> str:
    """The Settings screen's check of a scope before it is saved, as enroll's: what it names
    exists on the server, which can honour it. The strategy's description; ValidationError
    naming the setting otherwise (the message says why and what to do)."""
    if not settings.sync_configured:
        return _("not checked: no server")
    if not settings.scope_named and not settings.pull_everything:
        raise ValidationError(
            _(
                "Name the facility this device serves (its Organization, or a Group of its "
                "patients), or choose {option}"
            ).format(option=_(SETTINGS_PULL_EVERYTHING)),
            "scope_organization",
        )
    try:
        with client_for(settings) as client:
            info = client.capabilities()
            strategy = verify_scope(
                client, info, settings, pull_everything=_(SETTINGS_PULL_EVERYTHING)
            )
    except ScopeCheckError as exc:
        raise ValidationError(exc.message[:1].upper() + exc.message[1:], exc.field) from None
    except (FhirError, SyncNotConfiguredError, ValueError) as exc:
        raise ValidationError(
            _("Could not check the scope with the server: {problem}").format(problem=exc),
            "scope_organization",
        ) from None
    return strategy.description


class ClinicSync:
    def __init__(self, clinic: Clinic, *, start: bool = True, actor: Actor | None = None) -> None:
        self._clinic = clinic
        # Who decides conflicts: the person signed in (tests may name another).
        self._actor = actor
        self._listeners: list[Callable[[SyncStatus], None]] = []
        self._lock = threading.Lock()
        self._worker: SyncWorker | None = None
        self._client: FhirClient | None = None
        self._status_file: WorkerStatusFile | None = None
        self._gateway = clinic.sync_gateway
        self._not_configured_reason: str | None = None
        if start:
            self.reconfigure()

    # -- lifecycle ---------------------------------------------------------------------------

    def reconfigure(self) -> None:
        """(Re)start the worker from the current device settings (after enrolment or edits)."""
        self.stop()
        settings = self._clinic.settings.get()
        if not settings.sync_configured:
            self._publish(self._not_configured())
            return
        try:
            client = client_for(settings)
        except (SyncNotConfiguredError, ValueError) as exc:
            self._not_configured_reason = str(exc)
            self._publish(self._not_configured())
            return
        engine = engine_for(self._clinic, client)
        worker = SyncWorker(
            engine.run_cycle,
            server_url=settings.server_url or "",
            interval_s=settings.sync_interval_minutes * 60,
            counts=self._gateway.counts,
            resolver=self.resolve,
            last_success_at=self._gateway.journal("last_success_at"),
            clock=self._clinic.clock,
            scheduler_clock=wall_clock,
        )
        worker.subscribe(lambda status: self._publish(self._with_attention(status)))
        # What `fieldchart diagnose` reports of the running worker (no patient data).
        status_file = WorkerStatusFile(
            self._clinic.vault.data_dir,
            clock=self._clinic.clock,
            interval_minutes=settings.sync_interval_minutes,
        )
        worker.subscribe(status_file)
        with self._lock:
            self._client, self._worker, self._status_file = client, worker, status_file
        worker.start()

    def stop(self) -> None:
        with self._lock:
            worker, client, status_file = self._worker, self._client, self._status_file
            self._worker = self._client = self._status_file = None
        if worker is not None:
            worker.stop()
        if status_file is not None:
            status_file.remove()
        if client is not None:
            client.close()

    # -- SyncControl -------------------------------------------------------------------------

    def status(self) -> SyncStatus:
        worker = self._worker
        if worker is None:
            return self._not_configured()
        return self._with_attention(worker.status())

    def sync_now(self) -> None:
        worker = self._worker
        if worker is not None:
            worker.sync_now()

    def subscribe(self, callback: Callable[[SyncStatus], None]) -> None:
        self._listeners.append(callback)
        callback(self.status())

    def resolve(
        self, command_id: str, resolution: Resolution, edited_value: str | None = None
    ) -> None:
        """Record a person's decision as a command, then sync it. A held server change
        (identity change, move between patients) is decided by sync/held_changes.py."""
        if command_id.startswith(HELD_PREFIX):
            self._resolve_held(command_id, resolution)
            return
        entry = self._gateway.entry(command_id)
        if entry is None:
            raise LookupError("that conflict no longer exists")
        detail = ConflictDetail.from_json(entry.detail)
        value = {
            Resolution.KEEP_MINE: detail.mine,
            Resolution.EDIT: edited_value,
            Resolution.TAKE_SERVERS: None,
        }[resolution]
        self._clinic.commands.execute(
            ResolveSyncConflict(
                patient_id=patient_of_command_stream(entry.stream_id),
                conflict_command_id=command_id,
                resolution=resolution.value,
                field=detail.field,
                value=value,
            ),
            self._actor or self._clinic.actor,
        )
        self.sync_now()
        self._publish(self.status())

    def _resolve_held(self, hold_id: str, resolution: Resolution) -> None:
        held_resolution = HELD_RESOLUTION.get(resolution)
        if held_resolution is None:
            raise ValueError("a server change can only be accepted or refused, not edited")
        mapper = FhirResourceMapper(self._clinic.catalog, facility_of(self._clinic.settings.get()))
        resolve_held(
            self._gateway, mapper, hold_id, held_resolution, self._actor or self._clinic.actor
        )
        self.sync_now()
        self._publish(self.status())

    # -- status ------------------------------------------------------------------------------

    def _not_configured(self) -> SyncStatus:
        counts = self._counts()
        return SyncStatus(
            SyncState.NOT_CONFIGURED,
            pending=counts.get(OutboxStatus.PENDING, 0),
            needs_attention=counts.get(OutboxStatus.NEEDS_ATTENTION, 0),
            last_error=self._not_configured_reason,
            attention=self._attention(),
        )

    def _counts(self) -> dict[str, int]:
        try:
            return self._gateway.counts()
        except VaultLockedError:  # locked meanwhile: report nothing rather than fail
            return {}

    def _attention(self) -> list[AttentionItem]:
        try:
            overview = self._clinic.queries.sync_overview()
        except VaultLockedError:  # locked meanwhile: the list is empty, not an error
            return []
        items = attention_items(self._gateway)
        for a in overview.attention:
            d = ConflictDetail.from_json(a.detail)
            items.append(
                AttentionItem(
                    command_id=a.command_id,
                    command_type=a.command_type,
                    patient_id=a.patient_id,
                    field=d.field,
                    mine=d.mine,
                    servers=d.servers,
                    message=a.last_error or _("needs a decision"),
                )
            )
        return items

    def _with_attention(self, status: SyncStatus) -> SyncStatus:
        """Counts and the attention list as they are now (the worker's are from its last
        cycle; a command recorded or resolved since must show as pending at once)."""
        counts = self._counts()
        return replace(
            status,
            pending=counts.get(OutboxStatus.PENDING, status.pending),
            needs_attention=counts.get(OutboxStatus.NEEDS_ATTENTION, status.needs_attention),
            attention=self._attention(),
        )

    def _publish(self, status: SyncStatus) -> None:
        for listener in list(self._listeners):
            try:
                listener(status)
            except Exception:
                log.exception("sync status listener failed")
