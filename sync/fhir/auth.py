"""How the device proves who it is to the FHIR server: httpx.Auth flows.

Four ways, chosen at enrolment (DESIGN.md, "Auth"): ``NoAuth``; ``BearerAuth`` (a static token
issued by IT); ``ClientCredentialsAuth``, OAuth2 client credentials with a client secret IT
issued (``client_secret_basic`` or ``client_secret_post``), what servers such as Medplum, HAPI
behind Keycloak or Azure hand out; ``SmartBackendAuth``, the HL7 SMART Backend Services
profile: the device holds a private key generated on it (``generate_device_keypair``), IT
registers the public JWK with the server's authorisation service, and the device trades a
short-lived signed JWT for an access token (client credentials with ``private_key_jwt``).
The last two share one token machinery (``_TokenAuth``): the token is cached in memory,
renewed shortly before it expires, and fetched again once when the server answers 401.

They are ``httpx.Auth`` subclasses so that the token request travels over the same client,
transport, TLS settings and timeouts as every FHIR request (and tests swap the network for an
``httpx.MockTransport`` in one place). The compact JWS is built here with ``cryptography`` rather
than a JWT library: it is 30 lines and one dependency less.

Credentials are never sent over plain http except to loopback (the test peer): a bearer token
is as good as the device's identity. Secrets never appear in ``repr``, logs or exceptions.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Generator
from typing import Any, Literal
from urllib.parse import quote

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from app.i18n import N_, _
from app.services.server_address import is_loopback_host
from sync.fhir.bounded_body import ResponseLimits, read_bounded
from sync.fhir.errors import AuthError, InvalidResponseError, error_from_response

__all__ = [
    "CLIENT_AUTH_METHODS",
    "DEFAULT_SCOPE",
    "EXPIRED_TOKEN_MESSAGE",
    "BearerAuth",
    "ClientAuthMethod",
    "ClientCredentialsAuth",
    "NoAuth",
    "SmartBackendAuth",
    "generate_device_keypair",
    "jwk_thumbprint",
    "public_jwk",
    "sign_jwt",
]

DEFAULT_SCOPE = "system/*.read system/*.write"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: SMART caps the assertion's exp at 5 minutes ahead; stay below it for clock skew.
ASSERTION_LIFETIME_S = 240
#: An assumed token lifetime when the token endpoint does not state ``expires_in``.
DEFAULT_TOKEN_LIFETIME_S = 300
#: Renew a token this long (at most a fifth of its lifetime) before it expires.
REFRESH_MARGIN_S = 60.0
#: What a person reads when the server no longer accepts the static bearer token.
EXPIRED_TOKEN_MESSAGE = N_("the token has expired or was revoked; ask IT for a new one")

ClientAuthMethod = Literal["client_secret_basic", "client_secret_post"]
CLIENT_AUTH_METHODS: tuple[ClientAuthMethod, ...] = ("client_secret_basic", "client_secret_post")

Alg = Literal["ES384", "RS384"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _require_tls(request: httpx.Request, allow_insecure_http: bool) -> None:
    url = request.url
    if url.scheme != "https" and not allow_insecure_http and not is_loopback_host(url.host):
        raise AuthError(
            _("refusing to send credentials over unencrypted {scheme} to {host}: use https").format(
                scheme=url.scheme, host=url.host
            ),
            request=request,
        )


class NoAuth(httpx.Auth):
    """Send requests as they are (a server on a trusted network, or the test peer)."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield request


class BearerAuth(httpx.Auth):
    """A static bearer token issued by IT.

    A static token cannot be renewed by the device: a 401 means it expired or was revoked, so
    the request fails with an AuthError that tells the person what to do about it.
    """

    def __init__(self, token: str, *, allow_insecure_http: bool = False) -> None:
        if not token or any(c in token for c in "\r\n "):
            raise ValueError(_("a bearer token must be a non-empty string without spaces"))
        self._token = token
        self._allow_insecure_http = allow_insecure_http

    def __repr__(self) -> str:
        return "BearerAuth(token=***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        _require_tls(request, self._allow_insecure_http)
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:
            raise AuthError(_(EXPIRED_TOKEN_MESSAGE), request=request, status=401)


# -- keys and JWS ----------------------------------------------------------------------------


def _load_private_key(pem: bytes | str) -> PrivateKey:
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    key = serialization.load_pem_private_key(data, password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP384R1):
            raise ValueError(_("ES384 needs a P-384 key, not {name}").format(name=key.curve.name))
        return key
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise ValueError(_("RS384 needs an RSA key of at least 2048 bits"))
        return key
    raise ValueError(_("the device key must be an EC P-384 (ES384) or RSA (RS384) private key"))


def _alg(key: PrivateKey) -> Alg:
    return "ES384" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS384"


def _public_members(key: PrivateKey) -> dict[str, str]:
    """The JWK members RFC 7638 hashes for a thumbprint."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        numbers = key.public_key().public_numbers()
        return {
            "crv": "P-384",
            "kty": "EC",
            "x": _b64url(numbers.x.to_bytes(48, "big")),
            "y": _b64url(numbers.y.to_bytes(48, "big")),
        }
    rsa_numbers = key.public_key().public_numbers()
    return {
        "e": _b64url(rsa_numbers.e.to_bytes((rsa_numbers.e.bit_length() + 7) // 8, "big")),
        "kty": "RSA",
        "n": _b64url(rsa_numbers.n.to_bytes((rsa_numbers.n.bit_length() + 7) // 8, "big")),
    }


def jwk_thumbprint(members: dict[str, str]) -> str:
    """RFC 7638 SHA-256 thumbprint of a public JWK's required members, base64url."""
    required = ("crv", "kty", "x", "y") if members["kty"] == "EC" else ("e", "kty", "n")
    canonical = json.dumps({k: members[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def public_jwk(private_key_pem: bytes | str) -> dict[str, str]:
    """The public JWK (with ``kid`` = thumbprint) to register for a device private key."""
    key = _load_private_key(private_key_pem)
    members = _public_members(key)
    return {
        **members,
        "alg": _alg(key),
        "use": "sig",
        "kid": jwk_thumbprint(members),
    }


def generate_device_keypair(alg: Alg = "ES384") -> tuple[bytes, dict[str, str]]:
    """A new device key: (PKCS#8 PEM private key, public JWK to register on the server).

    The PEM is unencrypted because it is stored only inside the encrypted vault.
    """
    key: PrivateKey
    if alg == "ES384":
        key = ec.generate_private_key(ec.SECP384R1())
    elif alg == "RS384":
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    else:
        raise ValueError(_("unsupported algorithm {alg}: use ES384 or RS384").format(alg=repr(alg)))
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem, public_jwk(pem)


def sign_jwt(header: dict[str, Any], claims: dict[str, Any], key: PrivateKey) -> str:
    """Compact JWS ``header.claims.signature`` (ES384 as raw r||s, RS384 as PKCS#1 v1.5)."""
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode("utf-8"))
        for part in (header, claims)
    ).encode("ascii")
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA384())))
        signature = r.to_bytes(48, "big") + s.to_bytes(48, "big")
    else:
        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA384())
    return f"{signing_input.decode('ascii')}.{_b64url(signature)}"


# -- OAuth2 client credentials: the token machinery ------------------------------------------


class _TokenAuth(httpx.Auth):
    """An OAuth2 client-credentials grant; subclasses say how the client authenticates.

    The access token is cached in memory until shortly before ``expires_in`` and shared by all
    requests (and threads). A 401 on a request that used a *cached* token (revoked, or the
    server restarted) fetches a new token and retries once; a 401 with a fresh token is final
    (AuthError from the client). ``timer`` (monotonic seconds) ages the token: injectable, so
    tests step it and a laptop clock corrected after days offline neither keeps nor drops it.
    """

    requires_request_body = True  # the body must be replayable for the retry after a 401

    def __init__(
        self,
        token_url: str,
        client_id: str,
        *,
        timer: Callable[[], float] = time.monotonic,
        allow_insecure_http: bool = False,
    ) -> None:
        if not client_id:
            raise ValueError(_("client_id is required"))
        url = httpx.URL(token_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(
                _("not an http(s) token URL: {token_url}").format(token_url=repr(token_url))
            )
        self._token_url = token_url
        self._client_id = client_id
        self._timer = timer
        self._allow_insecure_http = allow_insecure_http
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(token_url={self._token_url!r}, client_id={self._client_id!r})"
        )

    def _credentials(self) -> tuple[dict[str, str], dict[str, str]]:
        """(form fields, headers) that prove who the client is, besides ``grant_type``."""
        raise NotImplementedError

    def _cached(self) -> str | None:
        with self._lock:
            if self._token is not None and self._timer() < self._expires_at:
                return self._token
            return None

    def _forget(self, token: str) -> None:
        with self._lock:
            if self._token == token:
                self._token = None

    def _token_request(self, original: httpx.Request) -> httpx.Request:
        # A bare httpx.Request has no timeout: take the client's from the request it is for.
        extensions = {k: v for k, v in original.extensions.items() if k == "timeout"}
        form, headers = self._credentials()
        headers = {"Accept": "application/json", **headers}
        if "User-Agent" in original.headers:
            headers["User-Agent"] = original.headers["User-Agent"]
        request = httpx.Request(
            "POST",
            self._token_url,
            data={"grant_type": "client_credentials", **form},
            headers=headers,
            extensions=extensions,
        )
        _require_tls(request, self._allow_insecure_http)
        return request

    def _fetch_token(
        self, original: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, str]:
        requested_at = self._timer()
        streamed = yield self._token_request(original)
        # Within a token's size and the request's deadline (sync.fhir.bounded_body); httpx
        # reads the answer again once the flow goes on, so it is handed the bytes read.
        response = read_bounded(streamed, ResponseLimits().token(), keep=True)
        if not response.is_success:
            raise error_from_response(response, token_endpoint=True)
        try:
            body = json.loads(response.content)
        except ValueError:
            raise InvalidResponseError(
                _("the token endpoint did not answer with JSON"),
                request=response.request,
                status=response.status_code,
            ) from None
        token = body.get("access_token") if isinstance(body, dict) else None
        token_type = body.get("token_type", "bearer") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token or str(token_type).lower() != "bearer":
            raise AuthError(
                _("the token endpoint gave no bearer access token"),
                request=response.request,
                status=response.status_code,
            )
        lifetime = body.get("expires_in", DEFAULT_TOKEN_LIFETIME_S)
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            lifetime = DEFAULT_TOKEN_LIFETIME_S
        # Refresh a little early so a token never expires between check and use.
        margin = min(REFRESH_MARGIN_S, lifetime / 5)
        with self._lock:
            self._token = token
            self._expires_at = requested_at + lifetime - margin
        return token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        _require_tls(request, self._allow_insecure_http)
        token = self._cached()
        fresh = token is None
        if token is None:
            token = yield from self._fetch_token(request)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and not fresh:
            # httpx reads the refused answer in full before the retry: bound it first (a
            # hostile server could otherwise send an endless 401 body).
            read_bounded(response, ResponseLimits().refusal(), keep=True)
            self._forget(token)
            token = yield from self._fetch_token(request)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request


# -- client secret ---------------------------------------------------------------------------


class ClientCredentialsAuth(_TokenAuth):
    """OAuth2 client credentials with a client secret IT issued for the device.

    ``client_secret_basic`` (RFC 6749 2.3.1, the default every server must accept) sends
    id and secret form-encoded in an HTTP Basic header; ``client_secret_post`` sends them as
    form fields of the token request. ``scope`` is sent only when given: servers such as
    Medplum grant what the client application is configured for.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        method: ClientAuthMethod = "client_secret_basic",
        scope: str | None = None,
        *,
        timer: Callable[[], float] = time.monotonic,
        allow_insecure_http: bool = False,
    ) -> None:
        super().__init__(token_url, client_id, timer=timer, allow_insecure_http=allow_insecure_http)
        if not client_secret:
            raise ValueError(_("client_secret is required"))
        if method not in CLIENT_AUTH_METHODS:
            raise ValueError(
                _("unsupported client authentication {method}").format(method=repr(method))
            )
        self._secret = client_secret
        self.method: ClientAuthMethod = method
        self._scope = scope

    def __repr__(self) -> str:
        return (
            f"ClientCredentialsAuth(token_url={self._token_url!r}, client_id={self._client_id!r}, "
            f"method={self.method!r}, client_secret=***)"
        )

    def _credentials(self) -> tuple[dict[str, str], dict[str, str]]:
        form = {"scope": self._scope} if self._scope else {}
        if self.method == "client_secret_post":
            return {**form, "client_id": self._client_id, "client_secret": self._secret}, {}
        pair = f"{quote(self._client_id, safe='')}:{quote(self._secret, safe='')}"
        basic = base64.b64encode(pair.encode("utf-8")).decode("ascii")
        return form, {"Authorization": f"Basic {basic}"}


# -- SMART Backend Services ------------------------------------------------------------------


class SmartBackendAuth(_TokenAuth):
    """SMART Backend Services: client-credentials grant with a signed JWT assertion
    (``private_key_jwt``); token caching and the retry after a 401 as in every ``_TokenAuth``.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        private_key_pem: bytes | str,
        kid: str | None = None,
        scope: str = DEFAULT_SCOPE,
        *,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.monotonic,
        allow_insecure_http: bool = False,
    ) -> None:
        """``clock`` (wall time) dates the assertion; ``timer`` (monotonic) ages the token."""
        super().__init__(token_url, client_id, timer=timer, allow_insecure_http=allow_insecure_http)
        self._key = _load_private_key(private_key_pem)
        self._kid = kid or jwk_thumbprint(_public_members(self._key))
        self._scope = scope
        self._clock = clock

    @property
    def alg(self) -> Alg:
        """The JWS algorithm this device key signs with."""
        return _alg(self._key)

    def client_assertion(self) -> str:
        """A fresh signed JWT (iss = sub = client_id, aud = token URL, exp <= 4 min, jti)."""
        header = {"alg": self.alg, "typ": "JWT", "kid": self._kid}
        claims = {
            "iss": self._client_id,
            "sub": self._client_id,
            "aud": self._token_url,
            "exp": int(self._clock()) + ASSERTION_LIFETIME_S,
            "jti": str(uuid.uuid4()),
        }
        return sign_jwt(header, claims, self._key)

    def _credentials(self) -> tuple[dict[str, str], dict[str, str]]:
        form = {
            "scope": self._scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.client_assertion(),
        }
        return form, {}
