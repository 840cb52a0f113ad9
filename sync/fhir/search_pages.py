"""What the client reads from a searchset page to follow it: the ``next`` link, whether the
page can be followed at all, and a smaller page size for a server that refused ours.

Apart from the client (``sync.fhir.client``) because these are pure functions of a page or of
search parameters; the client sends, these read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sync.fhir.errors import InvalidResponseError

__all__ = ["FALLBACK_COUNT", "check_page_shape", "next_link", "smaller_count"]

#: A search whose ``_count`` the server refuses (400) is asked once more with this page size,
#: or without ``_count`` (the server's default size) if it already asked for no more.
FALLBACK_COUNT = 100


def next_link(bundle: Mapping[str, Any]) -> str | None:
    """The ``next`` link of a Bundle, as given, or None on the last page."""
    links = bundle.get("link")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None


def check_page_shape(page: Mapping[str, Any]) -> None:
    """A page whose entries or paging links are unreadable cannot be used (and following it
    could skip pages silently): refuse it as a whole."""
    for element in ("entry", "link"):
        value = page.get(element)
        if value is not None and not isinstance(value, list):
            raise InvalidResponseError(
                f"the search page's {element} element is not a list", request=None
            )
    links = page.get("link") or []
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            if not isinstance(url, str) or not url:
                raise InvalidResponseError(
                    "the search page has a next link without a URL", request=None
                )


def smaller_count(
    params: Mapping[str, str] | Sequence[tuple[str, str]] | None,
) -> list[tuple[str, str]] | None:
    """``params`` with a smaller ``_count`` (see FALLBACK_COUNT), or None if there is none."""
    if not params:
        return None
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    counts = [value for name, value in pairs if name == "_count"]
    if not counts:
        return None
    rest = [(name, value) for name, value in pairs if name != "_count"]
    try:
        asked = int(counts[0])
    except ValueError:
        return rest
    return [*rest, ("_count", str(FALLBACK_COUNT))] if asked > FALLBACK_COUNT else rest
