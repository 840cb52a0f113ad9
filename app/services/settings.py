"""Device settings: sync server, authentication, sync interval, auto-lock.

Stored inside the encrypted vault because they include secrets (bearer token, client secret,
device key). Only admins may change them; everyone may read the non-secret parts.

Settings are stored one key per field, so a vault written before a field existed loads with
that field's default. ``client_id`` and ``token_url`` were called ``smart_client_id`` and
``smart_token_url`` when SMART Backend Services was the only OAuth mode: the old names are still
read (from old vaults, clinic configuration files and callers) and dropped on the next save.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from app.domain.errors import RoleError, ValidationError
from app.domain.roles import Actor, Role
from app.i18n import N_, _
from app.services.server_address import plain_http_refusal
from app.store import settings_store
from app.store.vault import Vault

AUTH_MODES = ("none", "bearer", "client-secret-basic", "client-secret-post", "smart-backend")
#: The OAuth2 client-credentials modes that authenticate with a client secret.
CLIENT_SECRET_MODES = ("client-secret-basic", "client-secret-post")
#: Modes that get tokens from a token URL as a client id.
OAUTH_MODES = (*CLIENT_SECRET_MODES, "smart-backend")
#: Old field name -> current one (still accepted everywhere a field name is).
LEGACY_NAMES = {"smart_client_id": "client_id", "smart_token_url": "token_url"}
SECRETS = ("bearer_token", "client_secret", "smart_private_key_pem")
#: The settings a person enters for each mode (the SMART device key is generated, not typed).
FIELDS_OF_MODE: dict[str, tuple[str, ...]] = {
    "none": (),
    "bearer": ("bearer_token",),
    "client-secret-basic": ("token_url", "client_id", "client_secret"),
    "client-secret-post": ("token_url", "client_id", "client_secret"),
    "smart-backend": ("token_url", "client_id"),
}


@dataclass(frozen=True)
class DeviceSettings:
    server_url: str | None = None
    auth_mode: str = "none"
    bearer_token: str | None = None  # secret
    client_id: str | None = None  # OAuth client id (client secret and SMART modes)
    token_url: str | None = None  # OAuth2 token endpoint (client secret and SMART modes)
    client_secret: str | None = None  # secret; issued by IT for client-secret-* modes
    smart_private_key_pem: str | None = None  # secret; generated on the device at enrolment
    ca_bundle_pem: str | None = None
    sync_interval_minutes: int = 5
    auto_lock_minutes: int = 10
    # The facility this device serves (issue 14): what sync pulls. References as the server
    # names them ("Organization/<server id>", "Group/<server id>"); locations are written on the
    # encounters recorded here. pull_everything is IT's explicit choice for a server that
    # cannot honour a scope (or a single-clinic server).
    scope_organization: str | None = None
    scope_locations: tuple[str, ...] = ()
    scope_group: str | None = None
    pull_everything: bool = False
    # Days without activity (and no open encounter) after which a patient brought here from
    # another facility leaves the device (docs/district/retention.md).
    visit_days: int = 30

    def __post_init__(self) -> None:
        # Stored as JSON, a tuple comes back as a list: keep the value hashable and comparable.
        object.__setattr__(self, "scope_locations", tuple(self.scope_locations or ()))

    @property
    def sync_configured(self) -> bool:
        return bool(self.server_url)

    @property
    def scope_named(self) -> bool:
        """The settings name the facility (an Organization, Locations or a Group)."""
        return bool(self.scope_organization or self.scope_locations or self.scope_group)

    def public(self) -> dict[str, Any]:
        """Everything but the secrets (safe for diagnostics and the settings screen)."""
        data = asdict(self)
        for secret in SECRETS:
            data[secret] = "set" if data[secret] else None
        return data


def current_names(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with old field names (``smart_client_id`` ...) under their current names;
    a current name given too wins."""
    renamed = {LEGACY_NAMES.get(k, k): v for k, v in values.items() if k in LEGACY_NAMES}
    return {**renamed, **{k: v for k, v in values.items() if k not in LEGACY_NAMES}}


def validate(s: DeviceSettings) -> DeviceSettings:
    if s.server_url is not None and not s.server_url.startswith(("https://", "http://")):
        raise ValidationError(_("The server address must start with https://"), "server_url")
    if s.server_url is not None and (refusal := plain_http_refusal(s.server_url)):
        raise ValidationError(refusal, "server_url")
    if s.auth_mode not in AUTH_MODES:
        raise ValidationError(
            _("Authentication must be one of {modes}").format(modes=", ".join(AUTH_MODES)),
            "auth_mode",
        )
    if s.auth_mode == "bearer" and not s.bearer_token:
        raise ValidationError(_("Enter the bearer token"), "bearer_token")
    if s.auth_mode in OAUTH_MODES:
        if not s.token_url:
            raise ValidationError(
                _("Enter the token URL (the server's OAuth2 token endpoint)"), "token_url"
            )
        if not s.token_url.startswith(("https://", "http://")):
            raise ValidationError(_("The token URL must start with https://"), "token_url")
        # i18n: ignore (a key of server_address._REFUSALS)
        if refusal := plain_http_refusal(s.token_url, "The token URL"):
            raise ValidationError(refusal, "token_url")
        if not s.client_id:
            raise ValidationError(
                _("Enter the client id IT registered for this device"), "client_id"
            )
    if s.auth_mode in CLIENT_SECRET_MODES and not s.client_secret:
        raise ValidationError(_("Enter the client secret"), "client_secret")
    if s.auth_mode == "smart-backend" and not s.smart_private_key_pem:
        raise ValidationError(
            _(
                "This device has no SMART key yet: enrol it with fieldchart enroll --auth "
                "smart-backend, which creates the key and prints the public key to register"
            ),
            "smart_private_key_pem",
        )
    s = _validate_scope(s)
    if not 1 <= s.sync_interval_minutes <= 24 * 60:
        raise ValidationError(_("Sync interval must be 1–1440 minutes"), "sync_interval_minutes")
    if not 1 <= s.visit_days <= 365:
        raise ValidationError(
            _("A visit from another facility must end after 1–365 days"), "visit_days"
        )
    if not 1 <= s.auto_lock_minutes <= 240:
        raise ValidationError(_("Auto-lock must be 1–240 minutes"), "auto_lock_minutes")
    return s


#: A FHIR resource id (R4: letters, digits, "-" and ".", at most 64).
_FHIR_ID = re.compile(r"(?!\.\.?$)[A-Za-z0-9\-.]{1,64}")  # not "." or "..": path traversal
#: The scope fields and the resource type each one names.
SCOPE_TYPES = {
    "scope_organization": "Organization",
    "scope_locations": "Location",
    "scope_group": "Group",
}
# A reference of the wrong type, by the type the field needs; translated where raised.
_WRONG_TYPE = {
    "Organization": N_("Give an Organization reference (Organization/<id>), not {text}"),
    "Location": N_("Give a Location reference (Location/<id>), not {text}"),
    "Group": N_("Give a Group reference (Group/<id>), not {text}"),
}


def scope_reference(field: str, value: str) -> str:
    """`value` as the reference the server needs ("Organization/<id>"): a bare id gets its
    type (the real server matches only the typed form). ValidationError, naming `field`, for
    a reference of another type or an id that is not a FHIR id."""
    resource_type = SCOPE_TYPES[field]
    text = value.strip()
    kind, slash, resource_id = text.rpartition("/")
    if not slash:
        kind, resource_id = resource_type, text
    if kind != resource_type:
        raise ValidationError(
            _(_WRONG_TYPE[resource_type]).format(text=repr(text)),  # N_-marked _WRONG_TYPE
            field,
        )
    if not _FHIR_ID.fullmatch(resource_id):
        raise ValidationError(
            _(
                "{text} is not a {resource_type} id the server could have (letters, digits, "
                "'-' and '.', at most 64)"
            ).format(text=repr(text), resource_type=resource_type),
            field,
        )
    return f"{resource_type}/{resource_id}"


def _validate_scope(s: DeviceSettings) -> DeviceSettings:
    """The scope's references in their typed form; a Group and an Organization are two
    different scopes, so naming both is refused."""
    organization = _optional_reference("scope_organization", s.scope_organization)
    group = _optional_reference("scope_group", s.scope_group)
    locations: list[str] = []
    for value in s.scope_locations:
        reference = scope_reference("scope_locations", value)
        if reference not in locations:
            locations.append(reference)
    if organization and group:
        raise ValidationError(
            _("Name the facility by its Organization or by a Group of patients, not both"),
            "scope_group",
        )
    return replace(
        s, scope_organization=organization, scope_group=group, scope_locations=tuple(locations)
    )


def _optional_reference(field: str, value: str | None) -> str | None:
    return scope_reference(field, value) if value and value.strip() else None


class SettingsService:
    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    def get(self) -> DeviceSettings:
        stored = current_names(settings_store.load(self._vault.engine))
        known = {f.name for f in fields(DeviceSettings)}
        return DeviceSettings(**{k: v for k, v in stored.items() if k in known})

    def update(self, actor: Actor, **changes: Any) -> DeviceSettings:
        if actor.role is not Role.ADMIN:
            raise RoleError(_("Only an admin may change device settings"))
        old = self.get()
        new = validate(replace(old, **current_names(changes)))
        # Old names go: what they held is under the current names now.
        settings_store.save(
            self._vault.engine, {**asdict(new), **dict.fromkeys(LEGACY_NAMES, None)}
        )
        # The audit names the settings that changed, never their values (some are secrets).
        changed = [
            f.name for f in fields(DeviceSettings) if getattr(old, f.name) != getattr(new, f.name)
        ]
        if changed:
            self._vault.record_admin_action("SettingsChanged", "", ", ".join(changed), actor=actor)
        return new
