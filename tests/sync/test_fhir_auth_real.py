"""Client-secret authentication against a real server (tests/realfhir: Medplum, or the one
named by FIELDCHART_FHIR_BASE and its client credentials): both ways of sending the secret get
a token that reads the CapabilityStatement and searches, and a wrong secret is a plain
AuthError that never shows the secret."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from app.services.settings import DeviceSettings, validate
from sync.clinic_sync import client_for
from sync.fhir.auth import CLIENT_AUTH_METHODS, ClientAuthMethod, ClientCredentialsAuth
from sync.fhir.client import FhirClient
from sync.fhir.errors import AuthError, RateLimitedError
from tests.realfhir.harness import RealFhirServer


def patiently(search: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``search()``, waiting out the server's rate limit (the real server limits requests per
    project per minute, and other tests share the project)."""
    for _ in range(5):
        try:
            return search()
        except RateLimitedError as exc:
            time.sleep(min(exc.retry_after_s or 10.0, 60.0))
    return search()


def credentials(real: RealFhirServer) -> tuple[str, str, str]:
    if not (real.token_url and real.client_id and real.client_secret):
        pytest.skip("this real server has no client credentials")
    return real.token_url, real.client_id, real.client_secret


@pytest.mark.parametrize("method", CLIENT_AUTH_METHODS)
def test_each_way_of_sending_the_secret_gets_a_token_that_reads_and_searches(
    real_fhir_server: RealFhirServer, method: ClientAuthMethod
) -> None:
    token_url, client_id, secret = credentials(real_fhir_server)
    auth = ClientCredentialsAuth(token_url, client_id, secret, method)
    with FhirClient(real_fhir_server.base_url, auth) as client:
        assert client.capabilities().fhir_version.startswith("4.0")
        page = patiently(lambda: client.search_page("Patient", {"_count": "1"}))
        assert page["resourceType"] == "Bundle" and page["type"] == "searchset"
        patiently(lambda: client.search_page("Patient", {"_count": "1"}))  # the cached token
    assert secret not in repr(auth)


@pytest.mark.parametrize("method", CLIENT_AUTH_METHODS)
def test_a_wrong_secret_is_a_clear_auth_error(
    real_fhir_server: RealFhirServer, method: ClientAuthMethod, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token_url, client_id, secret = credentials(real_fhir_server)
    wrong = secret[::-1] + "x"
    auth = ClientCredentialsAuth(token_url, client_id, wrong, method)
    with FhirClient(real_fhir_server.base_url, auth) as client, pytest.raises(AuthError) as caught:
        client.search_page("Patient", {"_count": "1"})
    message = str(caught.value)
    assert message.startswith("the token endpoint refused the device's credentials"), message
    assert caught.value.url == token_url and caught.value.status in (400, 401)
    assert wrong not in message and wrong not in caplog.text


@pytest.mark.parametrize("mode", ["client-secret-basic", "client-secret-post"])
def test_the_device_settings_of_each_mode_reach_the_server(
    real_fhir_server: RealFhirServer, mode: str
) -> None:
    token_url, client_id, secret = credentials(real_fhir_server)
    settings = validate(
        DeviceSettings(
            server_url=real_fhir_server.base_url,
            auth_mode=mode,
            token_url=token_url,
            client_id=client_id,
            client_secret=secret,
        )
    )
    with client_for(settings) as client:
        page = patiently(lambda: client.search_page("Patient", {"_count": "1"}))
        assert page["type"] == "searchset"
