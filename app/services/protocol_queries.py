"""The hypertension protocol's suggestion for a patient's chart as it is now.

Read from the same chart fold commands decide on (app.store.charts.load_chart), never from
the screen, with the protocol in effect on this device (IT's file in the data directory, else
the bundled one). Reading a suggestion records nothing: the chart's opening is audited by
ClinicQueries.chart, and only the clinician's own commands (a prescription, a dose change, a
follow-up, a DeclineProtocolSuggestion) change the chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from app.domain.errors import NotFoundError, RoleError
from app.domain.hearts.engine import Suggestion, suggest
from app.domain.reference import Catalog
from app.domain.roles import Actor, Role
from app.i18n import _
from app.services.clock import Clock
from app.store.charts import load_chart
from app.store.database import read_transaction
from app.store.protocol_data import LoadedProtocol, ProtocolFileError, load_protocol
from app.store.vault import Vault


@dataclass(frozen=True)
class ProtocolAdvice:
    """A suggestion (None when the protocol file cannot be used), and where it came from."""

    suggestion: Suggestion | None
    protocol_version: str | None
    protocol_origin: str | None  # "bundled" or IT's file name
    problem: str | None = None  # why there is no suggestion: the protocol file's problems

    def to_json(self) -> dict[str, Any]:
        return {
            "suggestion": self.suggestion.to_json() if self.suggestion else None,
            "protocol_version": self.protocol_version,
            "protocol_origin": self.protocol_origin,
            "problem": self.problem,
        }


class ProtocolQueries:
    def __init__(self, vault: Vault, catalog: Catalog, clock: Clock) -> None:
        self._vault = vault
        self._catalog = catalog
        self._clock = clock

    @classmethod
    def of(cls, clinic: Any) -> ProtocolQueries:
        """The protocol queries over an open Clinic's vault, catalog and clock."""
        return cls(clinic.vault, clinic.catalog, clinic.clock)

    def protocol(self) -> LoadedProtocol:
        """The protocol in effect on this device; ProtocolFileError if IT's file is unusable."""
        return load_protocol(self._data_dir(), self._catalog)

    def _data_dir(self) -> Path:
        return self._vault.data_dir

    def advice(self, patient_id: str, viewer: Actor, today: date | None = None) -> ProtocolAdvice:
        """The suggestion for the patient's chart now (`today`: the device's day)."""
        if viewer.role is Role.ADMIN:
            raise RoleError(_("Admins manage users, devices and sync; they do not open charts"))
        try:
            loaded = self.protocol()
        except ProtocolFileError as exc:
            return ProtocolAdvice(
                None,
                None,
                exc.name,
                _(
                    "The hypertension protocol file cannot be used ({problem}); ask IT to fix it"
                ).format(problem=exc),
            )
        with read_transaction(self._vault.engine) as conn:
            _head, chart = load_chart(self._vault.events, patient_id, conn)
        if not chart.registered:
            raise NotFoundError(_("No patient with this id on this device"), "patient_id")
        day = today or self._clock().astimezone().date()
        found = suggest(chart, loaded.protocol, self._catalog, day)
        return ProtocolAdvice(found, loaded.protocol.version, loaded.origin)
