"""Which server addresses FieldChart may talk to: https anywhere, plain http only to this
machine (loopback), because plain http carries patient names in clear text over the network.

One home for the rule: device settings (enrol, the Settings screen, the clinic configuration
file all save through ``settings.validate``) refuse such an address, and the FHIR client
(``sync.fhir.plain_http``) refuses to send anything to one, whatever the authentication, for a
vault enrolled before the rule existed. Pure: no I/O, no name lookup — "loopback" is decided
from the address as written (``localhost``, ``*.localhost``, 127.0.0.0/8, ``::1``), so a name
that merely resolves to 127.0.0.1 today does not count.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from app.i18n import N_, _

__all__ = ["is_loopback_host", "plain_http_refusal"]


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (as written in a URL, without brackets) names this machine."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# i18n: ignore (`what` names a key of _REFUSALS, whose sentences are the ones translated)
def plain_http_refusal(url: str, what: str = "The server address") -> str | None:
    """Why ``url`` must not be used (plain http to another machine), or None if it may."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        return None  # not a URL at all: the caller's own checks say so
    if parts.scheme.lower() != "http" or is_loopback_host(host):
        return None
    template = _REFUSALS.get(what, _REFUSALS["The server address"])
    return _(template).format(host=host)  # template: one of the N_-marked _REFUSALS


# The refusal by what is refused (`what`), as whole sentences; translated where returned.
_REFUSALS = {
    "The server address": N_(
        "The server address uses plain http:// to {host}, which would send patient data "
        "unencrypted over the network: use https://{host}… (plain http is allowed only for "
        "this machine: localhost or 127.0.0.1)"
    ),
    "The token URL": N_(
        "The token URL uses plain http:// to {host}, which would send patient data "
        "unencrypted over the network: use https://{host}… (plain http is allowed only for "
        "this machine: localhost or 127.0.0.1)"
    ),
    "the request": N_(
        "the request uses plain http:// to {host}, which would send patient data "
        "unencrypted over the network: use https://{host}… (plain http is allowed only for "
        "this machine: localhost or 127.0.0.1)"
    ),
}
