"""The one chart loader: a patient's stream folded through the event mapper into a chart.

Commands decide on it, sync pushes from it and rebases re-decide on it, so all three see the
same chart for the same events.
"""

from __future__ import annotations

from sqlalchemy import Connection

from app.domain import chart as chart_state
from app.domain.events import stream_of
from app.store.event_log import EventLog

Loaded = tuple[int, chart_state.PatientChart]  # (stream version folded up to, chart)


def load_chart(
    log: EventLog,
    patient_id: str,
    conn: Connection | None = None,
    start: Loaded | None = None,
) -> Loaded:
    """The patient's chart and the stream version it reflects. Given `start` (a version and
    the chart at it, e.g. from a cache), only the newer events are read and folded into that
    chart, which is changed in place."""
    version, chart = start if start is not None else (0, chart_state.PatientChart(patient_id))
    for record in log.read_stream(stream_of(patient_id), conn, after_version=version):
        chart_state.evolve(chart, record.to_domain())
        version = record.stream_version
    return version, chart
