"""No request leaves the device over plain http to another machine (issue 15, item 4).

The rule lives in ``app.services.server_address`` (settings refuse such an address at enrol,
on the Settings screen and from the clinic configuration file); here it is enforced for every
request the FHIR client sends — FHIR calls, the OAuth token request, whatever the
authentication — because a vault enrolled before the rule, or a URL that reached the client
another way, must not leak patient names either. It runs as an httpx request hook, which httpx
calls for each request just before handing it to the transport: before any connection is
opened, so nothing at all is sent.
"""

from __future__ import annotations

import httpx

from app.i18n import _
from app.services.server_address import is_loopback_host, plain_http_refusal
from sync.fhir.errors import PlainHttpRefusedError

__all__ = ["is_loopback_host", "refuse_plain_http"]


def refuse_plain_http(request: httpx.Request) -> None:
    """Raise PlainHttpRefusedError if ``request`` would go over plain http to another machine."""
    url = request.url
    if url.scheme != "http" or is_loopback_host(url.host):
        return
    message = plain_http_refusal(f"http://{url.host}/", "the request") or _("plain http refused")
    raise PlainHttpRefusedError(
        _("refused before connecting, nothing was sent: {reason}").format(reason=message),
        request=request,
    )
