"""Device settings for each authentication mode: what each needs, what is shown, and vaults
written before client-secret authentication existed."""

from __future__ import annotations

import pytest

from app.domain.errors import ValidationError
from app.services.clinic import Clinic
from app.services.settings import AUTH_MODES, FIELDS_OF_MODE, DeviceSettings, validate
from app.store import settings_store
from tests.clinic_fixtures import ADMIN

SERVER = "https://fhir.example.org/R4"
TOKEN_URL = "https://auth.example.org/oauth2/token"


def test_every_mode_says_which_fields_it_needs() -> None:
    assert set(FIELDS_OF_MODE) == set(AUTH_MODES)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"auth_mode": "bearer"}, "bearer_token", "Enter the bearer token"),
        ({"auth_mode": "client-secret-basic"}, "token_url", "Enter the token URL"),
        (
            {"auth_mode": "client-secret-post", "token_url": "auth.example.org/token"},
            "token_url",
            "The token URL must start with https://",
        ),
        ({"auth_mode": "client-secret-post", "token_url": TOKEN_URL}, "client_id", "client id"),
        (
            {"auth_mode": "client-secret-basic", "token_url": TOKEN_URL, "client_id": "c"},
            "client_secret",
            "Enter the client secret",
        ),
        ({"auth_mode": "smart-backend", "token_url": TOKEN_URL}, "client_id", "client id"),
        (
            {"auth_mode": "smart-backend", "token_url": TOKEN_URL, "client_id": "c"},
            "smart_private_key_pem",
            "fieldchart enroll --auth smart-backend",
        ),
        ({"auth_mode": "password"}, "auth_mode", "Authentication must be one of"),
    ],
)
def test_each_missing_field_has_its_own_message(
    changes: dict[str, str], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        validate(DeviceSettings(server_url=SERVER, **changes))  # type: ignore[arg-type]
    assert caught.value.field == field and message in str(caught.value)


def test_the_client_secret_is_stored_but_only_ever_shown_as_set(clinic: Clinic) -> None:
    saved = clinic.settings.update(
        ADMIN,
        server_url=SERVER,
        auth_mode="client-secret-post",
        token_url=TOKEN_URL,
        client_id="clinic-7",
        client_secret="s3cret-value",
    )
    assert clinic.settings.get() == saved and saved.client_secret == "s3cret-value"
    public = saved.public()
    assert public["client_secret"] == "set" and public["client_id"] == "clinic-7"
    assert "s3cret-value" not in repr(public)


def test_a_vault_from_before_client_secrets_still_loads_its_smart_settings(
    clinic: Clinic,
) -> None:
    old = {
        "server_url": SERVER,
        "auth_mode": "smart-backend",
        "smart_client_id": "device-7f3a",
        "smart_token_url": TOKEN_URL,
        "smart_private_key_pem": "-----BEGIN PRIVATE KEY-----\n...",
        "sync_interval_minutes": 15,
    }
    settings_store.save(clinic.vault.engine, old)
    loaded = clinic.settings.get()
    assert (loaded.auth_mode, loaded.client_id, loaded.token_url) == (
        "smart-backend",
        "device-7f3a",
        TOKEN_URL,
    )
    assert loaded.sync_interval_minutes == 15 and loaded.client_secret is None
    # The old names are still accepted by update, and the next save keeps only the new ones.
    updated = clinic.settings.update(ADMIN, smart_client_id="device-8")
    assert updated.client_id == "device-8"
    stored = settings_store.load(clinic.vault.engine)
    assert stored["client_id"] == "device-8" and "smart_client_id" not in stored
    assert "smart_token_url" not in stored and stored["token_url"] == TOKEN_URL
