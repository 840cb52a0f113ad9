"""The one chart loader: a patient's stream folded into a chart, whole or from a known point."""

from __future__ import annotations

from app.domain import chart as chart_state
from app.domain import events as ev
from app.store.charts import load_chart
from app.store.event_log import NewEvent
from app.store.vault import Vault
from tests.store.helpers import metadata

REGISTERED = ev.PatientRegistered(
    patient_id="p-1", given="Amina", family="Okafor", birth_date="1990-04-02", sex="female"
)


def _note(n: int) -> ev.NoteAdded:
    return ev.NoteAdded(note_id=f"n-{n}", text=f"note {n}", written_at="2026-11-20T09:00Z")


def _append(vault: Vault, *events: ev.DomainEvent, stream: str = ev.stream_of("p-1")) -> None:
    vault.events.append(
        stream, vault.events.stream_version(stream), [NewEvent.of(e, metadata()) for e in events]
    )


def test_a_chart_is_the_fold_of_its_stream(vault: Vault) -> None:
    history = [REGISTERED, _note(1), _note(2)]
    _append(vault, *history)
    _append(vault, _note(3), stream=ev.stream_of("p-2"))  # another patient's stream
    version, chart = load_chart(vault.events, "p-1")
    assert version == 3
    assert chart == chart_state.fold("p-1", history)


def test_an_unknown_patient_has_an_empty_chart_at_version_0(vault: Vault) -> None:
    assert load_chart(vault.events, "nobody") == (0, chart_state.PatientChart("nobody"))


def test_a_loaded_chart_catches_up_with_only_the_newer_events(vault: Vault) -> None:
    _append(vault, REGISTERED, _note(1))
    start = load_chart(vault.events, "p-1")
    _append(vault, _note(2))
    with vault.engine.connect() as conn:
        version, chart = load_chart(vault.events, "p-1", conn, start=start)
    assert version == 3
    assert chart is start[1]  # folded on in place, as a cache wants
    assert chart == chart_state.fold("p-1", [REGISTERED, _note(1), _note(2)])
