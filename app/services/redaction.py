"""Error lines with the ids and values a client chose taken out, before they are stored or shown
to IT (`status`, `diagnose`, the worker's status file).

A failing request's error names its URL, and a FHIR URL carries ids: `Patient/pat-0001` is
a patient id a script chose (`exec` lets clients choose ids), and a search's query values are
what was searched for (names, identifiers, birth dates). What stays is what IT needs: the
method, the server, the resource type, the status and the server's reason.
"""

from __future__ import annotations

import re

MAX_ERROR = 200

# `Type/<id>` in a path: a FHIR resource type (a capitalised word) and an id (FHIR ids:
# letters, digits, '-' and '.', 1-64), optionally `/_history/<version>`.
_PATH_ID = re.compile(r"\b([A-Z][A-Za-z]{2,})/(?!_history\b)[A-Za-z0-9\-.]{1,64}(?![A-Za-z0-9\-.])")
_HISTORY = re.compile(r"/_history/[^/\s?#\"']+")
# `name=value` in a query string: the value goes, the name stays.
_QUERY_VALUE = re.compile(r"([?&][^=\s&#?\"']+)=[^&\s#\"']*?(?=[&\s#\"']|:\s|:$|$)")
# A UUID, or any long run of token characters, may be an id whatever surrounds it.
_LONG_IDS = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|\b[A-Za-z0-9_-]{24,}\b"
)


def redact_error(text: str | None) -> str | None:
    """`text` with request paths' ids (`Patient/<id>`), versions, query values (`name=…`)
    and long id-like tokens (`<id>`) replaced, cut to MAX_ERROR characters."""
    if text is None:
        return None
    text = _QUERY_VALUE.sub(r"\1=…", text)
    text = _HISTORY.sub("/_history/<version>", text)
    text = _PATH_ID.sub(r"\1/<id>", text)
    text = _LONG_IDS.sub("<id>", text)
    return text[:MAX_ERROR]
