"""Device settings: sync server, authentication, sync interval, auto-lock.

Stored inside the encrypted vault because they include secrets (bearer token, device key).
Only admins may change them; everyone may read the non-secret parts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from app.domain.errors import RoleError, ValidationError
from app.domain.roles import Actor, Role
from app.store import settings_store
from app.store.vault import Vault

AUTH_MODES = ("none", "bearer", "smart-backend")


@dataclass(frozen=True)
class DeviceSettings:
    server_url: str | None = None
    auth_mode: str = "none"
    bearer_token: str | None = None  # secret
    smart_client_id: str | None = None
    smart_token_url: str | None = None
    smart_private_key_pem: str | None = None  # secret; generated on the device at enrolment
    ca_bundle_pem: str | None = None
    sync_interval_minutes: int = 5
    auto_lock_minutes: int = 10

    @property
    def sync_configured(self) -> bool:
        return bool(self.server_url)

    def public(self) -> dict[str, Any]:
        """Everything but the secrets (safe for diagnostics and the settings screen)."""
        data = asdict(self)
        for secret in ("bearer_token", "smart_private_key_pem"):
            data[secret] = "set" if data[secret] else None
        return data


def validate(s: DeviceSettings) -> DeviceSettings:
    if s.server_url is not None and not s.server_url.startswith(("https://", "http://")):
        raise ValidationError("The server address must start with https://", "server_url")
    if s.auth_mode not in AUTH_MODES:
        raise ValidationError(f"Authentication must be one of {', '.join(AUTH_MODES)}", "auth_mode")
    if s.auth_mode == "bearer" and not s.bearer_token:
        raise ValidationError("Enter the bearer token", "bearer_token")
    if not 1 <= s.sync_interval_minutes <= 24 * 60:
        raise ValidationError("Sync interval must be 1–1440 minutes", "sync_interval_minutes")
    if not 1 <= s.auto_lock_minutes <= 240:
        raise ValidationError("Auto-lock must be 1–240 minutes", "auto_lock_minutes")
    return s


class SettingsService:
    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    def get(self) -> DeviceSettings:
        stored = settings_store.load(self._vault.engine)
        known = {f.name for f in fields(DeviceSettings)}
        return DeviceSettings(**{k: v for k, v in stored.items() if k in known})

    def update(self, actor: Actor, **changes: Any) -> DeviceSettings:
        if actor.role is not Role.ADMIN:
            raise RoleError("Only an admin may change device settings")
        old = self.get()
        new = validate(replace(old, **changes))
        settings_store.save(self._vault.engine, asdict(new))
        # The audit names the settings that changed, never their values (some are secrets).
        changed = [
            f.name for f in fields(DeviceSettings) if getattr(old, f.name) != getattr(new, f.name)
        ]
        if changed:
            self._vault.record_admin_action("SettingsChanged", "", ", ".join(changed), actor=actor)
        return new
