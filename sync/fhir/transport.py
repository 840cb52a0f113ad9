"""The network under the FHIR client: TLS verification, the environment's proxy, and the
deadline every socket operation observes (``sync.fhir.deadline``).

Apart from the client because the client only decides what to send; how bytes reach the server
is set up once, here, when the client is made without an injected transport (tests inject
``httpx.MockTransport`` instead).
"""

from __future__ import annotations

import os
import ssl
import urllib.request

import httpx

from sync.fhir.deadline import with_deadlines

__all__ = ["Verify", "network_transport", "ssl_context"]

Verify = bool | str | os.PathLike[str] | ssl.SSLContext


def ssl_context(verify: Verify) -> ssl.SSLContext | bool:
    """What httpx should verify with: True (public CAs), a PEM CA bundle path, or a context.

    A path *replaces* the public CAs, as a clinic network's private CA usually should.
    ``False`` turns verification off; nothing in FieldChart passes it except tests.
    """
    if isinstance(verify, bool | ssl.SSLContext):
        return verify
    path = os.fspath(verify)
    if not os.path.isfile(path):
        raise ValueError(f"CA bundle not found: {path}")
    try:
        return ssl.create_default_context(cafile=path)
    except ssl.SSLError as exc:
        raise ValueError(f"CA bundle is not a PEM certificate file: {path}") from exc


def network_transport(
    base: httpx.URL, verify: ssl.SSLContext | bool, limits: httpx.Limits
) -> httpx.HTTPTransport:
    """The real network for a client of ``base``: its TLS, its connection limits, the proxy the
    environment names for it, and every socket operation bounded by the request's deadline."""
    transport = httpx.HTTPTransport(verify=verify, limits=limits, proxy=_proxy_for(base))
    return with_deadlines(transport)


def _proxy_for(url: httpx.URL) -> str | None:
    """The proxy the environment names for ``url`` (HTTPS_PROXY, NO_PROXY ...), as httpx
    itself would use when it builds its own transport."""
    if urllib.request.proxy_bypass(url.host):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(url.scheme) or proxies.get("all")
