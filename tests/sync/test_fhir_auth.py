"""Device authentication: IT enrols a device, registers its public key (SMART Backend Services)
or hands it a client id and secret (OAuth2 client credentials), and the device then obtains
tokens by itself, reuses them, and renews them before they lapse and once after a 401.

The fake authorisation server below verifies each client assertion with nothing but the public
JWK the device produced at enrolment, as a real one would.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from app.services.settings import DeviceSettings
from sync.clinic_sync import SyncNotConfiguredError, auth_for
from sync.fhir.auth import (
    ASSERTION_TYPE,
    CLIENT_AUTH_METHODS,
    EXPIRED_TOKEN_MESSAGE,
    BearerAuth,
    ClientAuthMethod,
    ClientCredentialsAuth,
    NoAuth,
    SmartBackendAuth,
    generate_device_keypair,
    jwk_thumbprint,
)
from sync.fhir.client import FhirClient
from sync.fhir.errors import AuthError, InvalidResponseError, OfflineError, RateLimitedError

FHIR = "https://fhir.example.org/r4"
TOKEN_URL = "https://auth.example.org/oauth2/token"
CLIENT_ID = "device-7f3a"


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_jwt(token: str, jwk: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check a compact JWS with the registered public JWK only; return (header, claims)."""
    header_b64, claims_b64, signature_b64 = token.split(".")
    signing_input = f"{header_b64}.{claims_b64}".encode("ascii")
    signature = b64d(signature_b64)
    if jwk["kty"] == "EC":
        public = ec.EllipticCurvePublicNumbers(
            int.from_bytes(b64d(jwk["x"]), "big"),
            int.from_bytes(b64d(jwk["y"]), "big"),
            ec.SECP384R1(),
        ).public_key()
        assert len(signature) == 96  # raw r||s, not DER
        der = encode_dss_signature(
            int.from_bytes(signature[:48], "big"), int.from_bytes(signature[48:], "big")
        )
        public.verify(der, signing_input, ec.ECDSA(hashes.SHA384()))
    else:
        rsa_public = rsa.RSAPublicNumbers(
            int.from_bytes(b64d(jwk["e"]), "big"), int.from_bytes(b64d(jwk["n"]), "big")
        ).public_key()
        rsa_public.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA384())
    return json.loads(b64d(header_b64)), json.loads(b64d(claims_b64))


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class AuthServer:
    """A token endpoint plus a FHIR endpoint that accepts only the tokens it issued."""

    def __init__(self, jwk: dict[str, str], clock: Clock, expires_in: int = 300) -> None:
        self.jwk = jwk
        self.clock = clock
        self.expires_in = expires_in
        self.assertions: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.forms: list[dict[str, list[str]]] = []
        self.valid: set[str] = set()
        self.fhir_requests: list[httpx.Request] = []
        self.fhir_seen: list[tuple[str, bytes]] = []  # (Authorization, body) as each arrived
        self.token_answer: httpx.Response | None = None

    def handle(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            return self.token(request)
        self.fhir_requests.append(request)
        self.fhir_seen.append((request.headers.get("Authorization", ""), request.content))
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.valid:
            return httpx.Response(401)
        pid = request.url.path.rsplit("/", 1)[-1]
        return httpx.Response(200, json={"resourceType": "Patient", "id": pid})

    def token(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        form = parse_qs(request.content.decode())
        self.forms.append(form)
        if self.token_answer is not None:
            return self.token_answer
        self.assertions.append(verify_jwt(form["client_assertion"][0], self.jwk))
        token = f"token-{len(self.assertions)}"
        self.valid.add(token)
        return httpx.Response(
            200,
            json={"access_token": token, "token_type": "bearer", "expires_in": self.expires_in},
        )


def smart_client(
    alg: str = "ES384", expires_in: int = 300
) -> tuple[FhirClient, AuthServer, Clock, SmartBackendAuth]:
    pem, jwk = generate_device_keypair(alg)  # type: ignore[arg-type]
    clock = Clock()
    server = AuthServer(jwk, clock, expires_in)
    auth = SmartBackendAuth(TOKEN_URL, CLIENT_ID, pem, clock=clock, timer=clock)
    client = FhirClient(FHIR, auth, transport=httpx.MockTransport(server.handle), timeout=7.0)
    return client, server, clock, auth


# -- enrolment keys --------------------------------------------------------------------------


def test_device_keypair_is_p384_with_a_thumbprint_kid_and_no_private_part() -> None:
    pem, jwk = generate_device_keypair()
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1"
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert {k: jwk[k] for k in ("kty", "crv", "alg", "use")} == {
        "kty": "EC",
        "crv": "P-384",
        "alg": "ES384",
        "use": "sig",
    }
    assert "d" not in jwk
    assert jwk["kid"] == jwk_thumbprint(jwk)
    assert len(b64d(jwk["x"])) == len(b64d(jwk["y"])) == 48


def test_rs384_keypair() -> None:
    _pem, jwk = generate_device_keypair("RS384")
    assert jwk["kty"] == "RSA" and jwk["alg"] == "RS384" and "d" not in jwk
    assert jwk["kid"] == jwk_thumbprint(jwk)


def test_thumbprint_matches_the_rfc_7638_example() -> None:
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6"
        "tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-"
        "65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNL"
        "yrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJ"
        "zKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_keys_smart_does_not_allow_are_refused() -> None:
    p256 = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="P-384"):
        SmartBackendAuth(TOKEN_URL, CLIENT_ID, p256)


# -- SMART Backend Services ------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["ES384", "RS384"])
def test_token_request_carries_a_signed_assertion_with_the_right_claims(alg: str) -> None:
    client, server, clock, auth = smart_client(alg)
    with client:
        assert client.read("Patient", "p1") is not None

    (header, claims), form = server.assertions[0], server.forms[0]
    assert header == {"alg": alg, "typ": "JWT", "kid": server.jwk["kid"]}
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == TOKEN_URL
    assert clock.now < claims["exp"] <= clock.now + 300  # SMART: at most five minutes
    assert uuid.UUID(claims["jti"]).version == 4
    assert form["grant_type"] == ["client_credentials"]
    assert form["client_assertion_type"] == [ASSERTION_TYPE]
    assert form["scope"] == ["system/*.read system/*.write"]
    assert server.fhir_requests[0].headers["Authorization"] == "Bearer token-1"
    assert auth.alg == alg


def test_each_assertion_has_its_own_jti() -> None:
    pem, _ = generate_device_keypair()
    auth = SmartBackendAuth(TOKEN_URL, CLIENT_ID, pem)
    jtis = {json.loads(b64d(auth.client_assertion().split(".")[1]))["jti"] for _ in range(5)}
    assert len(jtis) == 5


def test_the_token_is_cached_and_reused_until_shortly_before_it_expires() -> None:
    client, server, clock, _ = smart_client(expires_in=300)
    with client:
        for n in range(3):
            client.read("Patient", f"p{n}")
        assert len(server.assertions) == 1
        clock.now += 239  # 300 s minus a 60 s safety margin: still valid
        client.read("Patient", "p3")
        assert len(server.assertions) == 1
        clock.now += 2
        client.read("Patient", "p4")
        assert len(server.assertions) == 2
    assert [auth for auth, _ in server.fhir_seen] == ["Bearer token-1"] * 4 + ["Bearer token-2"]


def test_a_401_with_a_cached_token_refreshes_once_and_replays_the_request() -> None:
    client, server, _, _ = smart_client()
    with client:
        client.read("Patient", "p0")
        server.valid.clear()  # the server restarted and forgot its tokens
        resource = {"resourceType": "Patient", "id": "p1", "active": True}
        assert client.put("Patient", "p1", resource).resource["id"] == "p1"
    assert len(server.assertions) == 2
    body = json.dumps(resource, separators=(",", ":")).encode()
    assert server.fhir_seen[1:] == [("Bearer token-1", body), ("Bearer token-2", body)]


def test_a_401_with_a_fresh_token_is_an_auth_error_without_a_loop() -> None:
    _, server, _, auth = smart_client()

    def deny(request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            return server.token(request)
        server.fhir_requests.append(request)
        return httpx.Response(401)

    client = FhirClient(FHIR, auth, transport=httpx.MockTransport(deny))
    with client, pytest.raises(AuthError) as caught:
        client.read("Patient", "p1")
    assert caught.value.status == 401
    assert len(server.assertions) == 1 and len(server.fhir_requests) == 1


def test_the_token_endpoint_refusing_the_device_is_an_auth_error() -> None:
    client, server, _, _ = smart_client()
    server.token_answer = httpx.Response(
        400, json={"error": "invalid_client", "error_description": "unknown key id"}
    )
    with client, pytest.raises(AuthError) as caught:
        client.read("Patient", "p1")
    err = caught.value
    assert "invalid_client" in str(err) and "unknown key id" in str(err)
    assert (err.method, err.url, err.status) == ("POST", TOKEN_URL, 400)
    assert server.fhir_requests == []


def test_a_busy_token_endpoint_is_rate_limited_not_an_auth_error() -> None:
    client, server, _, _ = smart_client()
    server.token_answer = httpx.Response(503, headers={"Retry-After": "30"})
    with client, pytest.raises(RateLimitedError) as caught:
        client.read("Patient", "p1")
    assert caught.value.retry_after_s == 30.0


def test_a_token_endpoint_answering_html_is_an_invalid_response() -> None:
    client, server, _, _ = smart_client()
    server.token_answer = httpx.Response(200, text="<html>portal</html>")
    with client, pytest.raises(InvalidResponseError):
        client.read("Patient", "p1")


def test_a_token_endpoint_without_an_access_token_is_an_auth_error() -> None:
    client, server, _, _ = smart_client()
    server.token_answer = httpx.Response(200, json={"token_type": "bearer"})
    with client, pytest.raises(AuthError):
        client.read("Patient", "p1")


def test_an_unreachable_token_endpoint_is_offline() -> None:
    pem, _ = generate_device_keypair()

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    auth = SmartBackendAuth(TOKEN_URL, CLIENT_ID, pem)
    with (
        FhirClient(FHIR, auth, transport=httpx.MockTransport(handler)) as client,
        pytest.raises(OfflineError) as caught,
    ):
        client.read("Patient", "p1")
    assert caught.value.url == TOKEN_URL


def test_the_token_request_uses_the_clients_timeout_and_user_agent() -> None:
    seen: list[httpx.Request] = []
    _, server, _, auth = smart_client()

    def spy(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return server.handle(request)

    with FhirClient(FHIR, auth, transport=httpx.MockTransport(spy), timeout=7.0) as c:
        c.read("Patient", "p1")
    token_request = seen[0]
    assert str(token_request.url) == TOKEN_URL
    assert token_request.extensions["timeout"]["read"] == 7.0
    assert token_request.headers["User-Agent"].startswith("FieldChart")


def test_an_explicit_kid_is_used() -> None:
    pem, _ = generate_device_keypair()
    auth = SmartBackendAuth(TOKEN_URL, CLIENT_ID, pem, kid="registered-key-1")
    header = json.loads(b64d(auth.client_assertion().split(".")[0]))
    assert header["kid"] == "registered-key-1"


# -- static token and no auth ----------------------------------------------------------------


def test_bearer_token_is_sent_and_never_shown() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"resourceType": "Patient", "id": "p1"})

    auth = BearerAuth("s3cret")
    with FhirClient(FHIR, auth, transport=httpx.MockTransport(handler)) as client:
        client.read("Patient", "p1")
    assert seen[0].headers["Authorization"] == "Bearer s3cret"
    assert "s3cret" not in repr(auth)
    pem, _ = generate_device_keypair()
    assert "PRIVATE" not in repr(SmartBackendAuth(TOKEN_URL, CLIENT_ID, pem))


def test_credentials_are_never_sent_over_plain_http_except_to_loopback() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"resourceType": "Patient", "id": "p1"})

    transport = httpx.MockTransport(handler)
    with (
        FhirClient("http://fhir.clinic.lan", BearerAuth("t"), transport=transport) as client,
        pytest.raises(AuthError, match="unencrypted"),
    ):
        client.read("Patient", "p1")
    assert sent == []
    with FhirClient("http://127.0.0.1:8080", BearerAuth("t"), transport=transport) as client:
        assert client.read("Patient", "p1") is not None
    pem, _ = generate_device_keypair()
    insecure_token_url = SmartBackendAuth("http://auth.clinic.lan/token", CLIENT_ID, pem)
    with (
        FhirClient(FHIR, insecure_token_url, transport=transport) as client,
        pytest.raises(AuthError, match="unencrypted"),
    ):
        client.read("Patient", "p1")


def test_no_auth_sends_no_authorization_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"resourceType": "Patient", "id": "p1"})

    with FhirClient(FHIR, NoAuth(), transport=httpx.MockTransport(handler)) as client:
        client.read("Patient", "p1")
    assert "Authorization" not in seen[0].headers


# -- client secret (client_secret_basic / client_secret_post) --------------------------------

SECRET = "s3cr+t/with:odd chars"


class SecretServer:
    """A token endpoint that accepts one client id and secret, sent either way, and a FHIR
    endpoint that accepts only the tokens it issued."""

    def __init__(self, expires_in: int = 3600) -> None:
        self.expires_in = expires_in
        self.token_requests: list[httpx.Request] = []
        self.valid: set[str] = set()
        self.fhir_seen: list[str] = []
        self.revoke_at_once = False

    def credentials(self, request: httpx.Request) -> tuple[str, str, str]:
        """(how, client id, secret) as the server decodes them (RFC 6749 2.3.1)."""
        form = parse_qs(request.content.decode())
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            return "basic", unquote_plus(client_id), unquote_plus(secret)
        return "post", form["client_id"][0], form["client_secret"][0]

    def handle(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            self.token_requests.append(request)
            _how, client_id, secret = self.credentials(request)
            if (client_id, secret) != (CLIENT_ID, SECRET):
                return httpx.Response(
                    401, json={"error": "invalid_client", "error_description": "Invalid secret"}
                )
            token = f"token-{len(self.token_requests)}"
            if not self.revoke_at_once:
                self.valid.add(token)
            return httpx.Response(
                200,
                json={"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in},
            )
        self.fhir_seen.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.valid:
            return httpx.Response(401)
        return httpx.Response(200, json={"resourceType": "Patient", "id": "p1"})


def secret_client(
    method: ClientAuthMethod = "client_secret_basic", secret: str = SECRET, expires_in: int = 3600
) -> tuple[FhirClient, SecretServer, Clock]:
    server, clock = SecretServer(expires_in), Clock()
    auth = ClientCredentialsAuth(TOKEN_URL, CLIENT_ID, secret, method, timer=clock)
    return FhirClient(FHIR, auth, transport=httpx.MockTransport(server.handle)), server, clock


def test_client_secret_basic_sends_id_and_secret_form_encoded_in_a_basic_header() -> None:
    client, server, _ = secret_client("client_secret_basic")
    with client:
        client.read("Patient", "p1")
    (request,) = server.token_requests
    assert server.credentials(request) == ("basic", CLIENT_ID, SECRET)
    pair = base64.b64decode(request.headers["Authorization"].removeprefix("Basic ")).decode()
    assert pair == "device-7f3a:s3cr%2Bt%2Fwith%3Aodd%20chars"  # the secret's ":" is encoded
    assert parse_qs(request.content.decode()) == {"grant_type": ["client_credentials"]}
    assert server.fhir_seen == ["Bearer token-1"]


def test_client_secret_post_sends_id_and_secret_as_form_fields() -> None:
    client, server, _ = secret_client("client_secret_post")
    with client:
        client.read("Patient", "p1")
    (request,) = server.token_requests
    assert "Authorization" not in request.headers
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["client_credentials"],
        "client_id": [CLIENT_ID],
        "client_secret": [SECRET],
    }
    assert server.fhir_seen == ["Bearer token-1"]


def test_a_scope_is_sent_only_when_given() -> None:
    server = SecretServer()
    auth = ClientCredentialsAuth(
        TOKEN_URL, CLIENT_ID, SECRET, "client_secret_post", scope="system/*.*"
    )
    with FhirClient(FHIR, auth, transport=httpx.MockTransport(server.handle)) as client:
        client.read("Patient", "p1")
    assert parse_qs(server.token_requests[0].content.decode())["scope"] == ["system/*.*"]


@pytest.mark.parametrize("method", CLIENT_AUTH_METHODS)
def test_the_client_secret_token_is_cached_and_renewed_before_it_expires(
    method: ClientAuthMethod,
) -> None:
    client, server, clock = secret_client(method, expires_in=3600)
    with client:
        client.read("Patient", "p1")
        client.read("Patient", "p1")
        clock.now += 3600 - 61  # an hour less the 60 s margin, less a second: still the same
        client.read("Patient", "p1")
        assert len(server.token_requests) == 1
        clock.now += 2  # inside the margin: renewed before the server would refuse it
        client.read("Patient", "p1")
    assert len(server.token_requests) == 2
    assert server.fhir_seen == ["Bearer token-1"] * 3 + ["Bearer token-2"]


def test_a_short_lived_token_is_renewed_a_fifth_of_its_life_early() -> None:
    client, server, clock = secret_client(expires_in=100)
    with client:
        client.read("Patient", "p1")
        clock.now += 79
        client.read("Patient", "p1")
        clock.now += 2
        client.read("Patient", "p1")
    assert len(server.token_requests) == 2


def test_a_401_with_a_cached_client_secret_token_fetches_once_more_then_gives_up() -> None:
    client, server, _ = secret_client("client_secret_post")
    with client:
        client.read("Patient", "p1")
        server.valid.clear()  # revoked: the new token is accepted
        assert client.read("Patient", "p1") is not None
        assert len(server.token_requests) == 2
        server.valid.clear()
        server.revoke_at_once = True  # every token is refused, the fresh one too
        with pytest.raises(AuthError) as caught:
            client.read("Patient", "p1")
    assert caught.value.status == 401
    assert len(server.token_requests) == 3  # one new token, not a loop


def test_threads_share_one_token() -> None:
    client, server, _ = secret_client()
    with client, ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _n: client.read("Patient", "p1"), range(8)))
        client.read("Patient", "p1")
    # Each thread may fetch at most once before the first token is cached; after that, one.
    assert 1 <= len(server.token_requests) <= 4
    assert server.fhir_seen[-1] == f"Bearer token-{len(server.token_requests)}"


@pytest.mark.parametrize("method", CLIENT_AUTH_METHODS)
def test_a_wrong_secret_is_a_clear_auth_error_that_never_shows_the_secret(
    method: ClientAuthMethod, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wr0ng-secret-value"
    client, server, _ = secret_client(method, secret=wrong)
    with client, pytest.raises(AuthError) as caught:
        client.read("Patient", "p1")
    err = caught.value
    assert str(err).startswith("the token endpoint refused the device's credentials")
    assert "invalid_client" in str(err) and err.status == 401
    assert server.fhir_seen == []
    auth = ClientCredentialsAuth(TOKEN_URL, CLIENT_ID, wrong, method)
    basic = base64.b64encode(f"{CLIENT_ID}:{wrong}".encode()).decode()
    for text in (str(err), repr(err), repr(auth), caplog.text, str(err.__cause__)):
        assert wrong not in text and basic not in text


def test_client_secret_auth_refuses_plain_http_and_bad_settings() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"access_token": "t", "expires_in": 60})

    auth = ClientCredentialsAuth("http://auth.clinic.lan/token", CLIENT_ID, SECRET)
    with (
        FhirClient(FHIR, auth, transport=httpx.MockTransport(handler)) as client,
        pytest.raises(AuthError, match="unencrypted"),
    ):
        client.read("Patient", "p1")
    assert sent == []
    with pytest.raises(ValueError, match="client_secret"):
        ClientCredentialsAuth(TOKEN_URL, CLIENT_ID, "")
    with pytest.raises(ValueError, match="client_id"):
        ClientCredentialsAuth(TOKEN_URL, "", SECRET)
    with pytest.raises(ValueError, match="unsupported"):
        ClientCredentialsAuth(TOKEN_URL, CLIENT_ID, SECRET, "private_key_jwt")  # type: ignore[arg-type]


# -- an expired static token -----------------------------------------------------------------


def test_an_expired_bearer_token_says_to_ask_it_for_a_new_one() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401, json={"resourceType": "OperationOutcome", "issue": []})

    auth = BearerAuth("old-token")
    with (
        FhirClient(FHIR, auth, transport=httpx.MockTransport(handler)) as client,
        pytest.raises(AuthError) as caught,
    ):
        client.read("Patient", "p1")
    assert caught.value.message == EXPIRED_TOKEN_MESSAGE
    assert str(caught.value).startswith("the token has expired or was revoked; ask IT for a new")
    assert caught.value.status == 401 and len(seen) == 1  # a static token is not retried
    assert "old-token" not in str(caught.value)


# -- from the device's settings --------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "method"),
    [("client-secret-basic", "client_secret_basic"), ("client-secret-post", "client_secret_post")],
)
def test_the_device_settings_choose_the_client_secret_method(mode: str, method: str) -> None:
    settings = DeviceSettings(
        server_url=FHIR,
        auth_mode=mode,
        token_url=TOKEN_URL,
        client_id=CLIENT_ID,
        client_secret=SECRET,
    )
    auth = auth_for(settings)
    assert isinstance(auth, ClientCredentialsAuth) and auth.method == method
    assert SECRET not in repr(auth)
    with pytest.raises(SyncNotConfiguredError, match="client secret"):
        auth_for(replace(settings, client_secret=None))
