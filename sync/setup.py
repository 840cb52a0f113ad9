"""Builds the sync machinery of one unlocked clinic from its device settings."""

from __future__ import annotations

import ssl

import httpx

from app.services.clinic import Clinic
from app.services.settings import DeviceSettings
from app.services.sync_gateway import SyncGateway
from sync.engine import SyncEngine
from sync.fhir.auth import BearerAuth, NoAuth, SmartBackendAuth
from sync.fhir.client import FhirClient
from sync.fhir_mapper import FhirResourceMapper


class SyncNotConfiguredError(Exception):
    pass


def auth_for(settings: DeviceSettings) -> httpx.Auth:
    if settings.auth_mode == "bearer" and settings.bearer_token:
        return BearerAuth(
            settings.bearer_token, allow_insecure_http=_loopback(settings.server_url or "")
        )
    if settings.auth_mode == "smart-backend":
        if not (
            settings.smart_token_url and settings.smart_client_id and settings.smart_private_key_pem
        ):
            raise SyncNotConfiguredError(
                "SMART Backend Services needs a token URL, a client id and the device key; "
                "enrol the device again"
            )
        return SmartBackendAuth(
            settings.smart_token_url, settings.smart_client_id, settings.smart_private_key_pem
        )
    return NoAuth()


def _loopback(url: str) -> bool:
    host = httpx.URL(url).host if url else ""
    return host in ("127.0.0.1", "localhost", "::1")


def client_for(
    settings: DeviceSettings, transport: httpx.BaseTransport | None = None
) -> FhirClient:
    if not settings.server_url:
        raise SyncNotConfiguredError("no sync server is enrolled on this device")
    verify: bool | ssl.SSLContext = True
    if settings.ca_bundle_pem:
        verify = ssl.create_default_context(cadata=settings.ca_bundle_pem)
    return FhirClient(settings.server_url, auth_for(settings), verify=verify, transport=transport)


def engine_for(clinic: Clinic, client: FhirClient) -> SyncEngine:
    """The sync engine of a clinic, on the clinic's own catalog and clock."""
    gateway = gateway_for(clinic)
    return SyncEngine(gateway, client, FhirResourceMapper(clinic.catalog), clinic.clock)


def gateway_for(clinic: Clinic) -> SyncGateway:
    return SyncGateway(clinic.vault, clinic.runner, clinic.catalog, clinic.clock)
