"""Loads the hypertension protocol: the bundled resources/protocols/hearts_hypertension.json,
or IT's edited copy `hypertension_protocol.json` in the vault's data directory (format and
rules: docs/clinical/hypertension-protocol.md, resources/README.md).

A file that cannot be used is never half-used: `load_protocol` raises ProtocolFileError with
every problem named by its key; the services then show no suggestion and say why, and
`fieldchart protocol check FILE` tells IT the same before the file is installed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from app.domain.hearts.protocol import Protocol, ProtocolError, parse_protocol
from app.domain.reference import Catalog

# A vault's data directory may hold this file; it replaces the bundled protocol.
LOCAL_PROTOCOL_FILE = "hypertension_protocol.json"
BUNDLED_NAME = "hearts_hypertension.json"


class ProtocolFileError(Exception):
    """A protocol file that could not be read or is not a usable protocol."""

    def __init__(self, name: str, problems: list[str]) -> None:
        super().__init__(f"{name}: " + "; ".join(problems))
        self.name = name
        self.problems = problems


@dataclass(frozen=True)
class LoadedProtocol:
    protocol: Protocol
    origin: str  # "bundled" or the local file's name


def bundled_text() -> str:
    return resources.files("resources").joinpath("protocols", BUNDLED_NAME).read_text("utf-8")


def read_protocol_file(path: Path, catalog: Catalog) -> Protocol:
    """The protocol in `path`; ProtocolFileError naming what is wrong (never a traceback)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProtocolFileError(Path(path).name, [f"not read ({type(exc).__name__})"]) from None
    return _parsed(text, Path(path).name, catalog)


def _parsed(text: str, name: str, catalog: Catalog) -> Protocol:
    try:
        data: Any = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise ProtocolFileError(name, [f"not valid JSON{where}"]) from None
    try:
        return parse_protocol(data, catalog)
    except ProtocolError as exc:
        raise ProtocolFileError(name, exc.problems) from None


def load_protocol(data_dir: Path | None, catalog: Catalog) -> LoadedProtocol:
    """The protocol in effect on a device: IT's local file when there is one, else the
    bundled one. A local file that is not usable raises (it is not silently replaced by the
    bundled protocol: IT put it there for a reason)."""
    if data_dir is not None:
        local = Path(data_dir) / LOCAL_PROTOCOL_FILE
        if local.is_file():
            return LoadedProtocol(read_protocol_file(local, catalog), LOCAL_PROTOCOL_FILE)
    return LoadedProtocol(_parsed(bundled_text(), BUNDLED_NAME, catalog), "bundled")
