"""The append-only event log: order, positions, optimistic concurrency and immutability."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import DBAPIError

from app.store.crypto import FAST_FOR_TESTS
from app.store.errors import ConcurrencyError, StoreError
from app.store.event_log import ANY_VERSION, NO_STREAM, NewEvent
from app.store.vault import Vault
from tests.store.conftest import CreatedVault
from tests.store.helpers import ADMIN, PASSPHRASE, metadata, new_event, raw_events, seed_events

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_events_come_back_in_the_order_they_were_written(vault: Vault) -> None:
    log = vault.events
    a1 = log.append("patient-a", NO_STREAM, [new_event("PatientRegistered", name="Ana")])
    b1 = log.append("patient-b", NO_STREAM, [new_event("PatientRegistered", name="Ben")])
    a2 = log.append(
        "patient-a",
        1,
        [new_event("VitalsRecorded", pulse=72), new_event("NoteWritten", text="ok")],
    )

    assert [(e.position, e.stream_version) for e in a1 + b1 + a2] == [
        (1, 1),
        (2, 1),
        (3, 2),
        (4, 3),
    ]
    stream_a = log.read_stream("patient-a")
    assert [(e.type, e.stream_version, e.position) for e in stream_a] == [
        ("PatientRegistered", 1, 1),
        ("VitalsRecorded", 2, 3),
        ("NoteWritten", 3, 4),
    ]
    assert [e.payload for e in stream_a] == [{"name": "Ana"}, {"pulse": 72}, {"text": "ok"}]
    assert stream_a == a1 + a2  # what append returned is what is read back

    everything = list(log.read_all())
    assert [e.position for e in everything] == [1, 2, 3, 4]
    assert [e.stream_id for e in everything] == ["patient-a", "patient-b", "patient-a", "patient-a"]
    assert [e.position for e in log.read_all(from_position=2)] == [3, 4]
    assert list(log.read_all(from_position=4)) == []
    # Reading in small batches gives the same sequence.
    assert list(log.read_all(batch=3)) == everything
    assert log.read_stream("patient-a", up_to_position=3) == stream_a[:2]
    assert log.head_position() == 4
    assert log.stream_version("patient-a") == 3


def test_payload_and_metadata_survive_the_round_trip(vault: Vault) -> None:
    meta = metadata(user="dr.ødegård", role="clinician", origin="server")
    payload = {"text": "Ødegård – 血圧 120/80 🩺", "nested": {"list": [1, 2.5, None, True]}}
    [written] = vault.events.append("p", NO_STREAM, [NewEvent("NoteWritten", payload, meta, 3)])
    [read] = vault.events.read_stream("p")
    assert read.payload == payload
    assert read.metadata == meta
    assert read.schema_version == 3
    assert read.event_id == written.event_id


def test_a_stale_expected_version_is_refused_and_nothing_is_written(vault: Vault) -> None:
    log = vault.events
    log.append("patient-a", NO_STREAM, [new_event(n=1)])
    log.append("patient-a", 1, [new_event(n=2)])
    before = raw_events(vault)

    # Someone edited the chart while this screen still showed version 1.
    with pytest.raises(ConcurrencyError) as caught:
        log.append("patient-a", 1, [new_event(n=3), new_event(n=4)])

    assert (caught.value.stream_id, caught.value.expected, caught.value.actual) == (
        "patient-a",
        1,
        2,
    )
    assert str(caught.value) == (
        "stream patient-a is at version 2, expected 1; someone else changed it first"
    )
    assert raw_events(vault) == before
    assert log.head_position() == 2
    assert log.stream_version("patient-a") == 2
    assert log.verify().events == 2


def test_a_batch_is_all_or_nothing(vault: Vault) -> None:
    seed_events(vault, 3)
    before = raw_events(vault)
    [first] = vault.events.read_stream("patient-b")
    duplicate = NewEvent("NoteWritten", {"n": 9}, metadata(), event_id=first.event_id)
    with pytest.raises(StoreError):
        vault.events.append("patient-c", NO_STREAM, [new_event(n=8), duplicate])
    assert raw_events(vault) == before
    assert vault.events.verify().events == 3


def test_no_stream_means_the_stream_must_not_exist_yet(vault: Vault) -> None:
    log = vault.events
    assert NO_STREAM == 0
    assert log.stream_version("patient-new") == 0
    assert log.read_stream("patient-new") == []

    [created] = log.append("patient-new", NO_STREAM, [new_event("PatientRegistered")])
    assert created.stream_version == 1

    with pytest.raises(ConcurrencyError) as again:
        log.append("patient-new", NO_STREAM, [new_event("PatientRegistered")])
    assert (again.value.expected, again.value.actual) == (0, 1)

    with pytest.raises(ConcurrencyError) as ahead:
        log.append("patient-other", 1, [new_event()])
    assert (ahead.value.expected, ahead.value.actual) == (1, 0)
    assert log.read_stream("patient-other") == []

    # ANY_VERSION skips the check (clinic-wide streams).
    [any1] = log.append("clinic", ANY_VERSION, [new_event()])
    [any2] = log.append("clinic", ANY_VERSION, [new_event()])
    assert (any1.stream_version, any2.stream_version) == (1, 2)
    assert log.head_position() == 3


def _race(appenders: list[Any], rounds: int) -> list[list[str]]:
    """Each appender gets its own thread; in every round all of them append to the same new
    stream at the same instant. Returns, per round, the sorted outcomes ('ok' or the error).

    The threads live for all rounds (as a UI thread and a worker would); see
    test_more_worker_threads_than_five_can_use_the_vault_at_once for many short-lived threads.
    """
    barrier = threading.Barrier(len(appenders))
    outcomes: list[list[str]] = [[] for _ in range(rounds)]
    lock = threading.Lock()

    def run(append: Any, n: int) -> None:
        for round_ in range(rounds):
            barrier.wait(timeout=30)
            try:
                append(f"patient-{round_}", NO_STREAM, [new_event(writer=n)])
                result = "ok"
            except ConcurrencyError:
                result = "ConcurrencyError"
            except Exception as exc:  # reported in the assertion, not swallowed
                result = f"unexpected {type(exc).__name__}: {exc}"
            with lock:
                outcomes[round_].append(result)

    threads = [threading.Thread(target=run, args=(a, n)) for n, a in enumerate(appenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return [sorted(o) for o in outcomes]


def test_two_screens_racing_to_change_one_chart_exactly_one_wins(vault: Vault) -> None:
    outcomes = _race([vault.events.append, vault.events.append], rounds=20)
    assert outcomes == [["ConcurrencyError", "ok"]] * 20
    for round_ in range(20):
        assert len(vault.events.read_stream(f"patient-{round_}")) == 1
    assert vault.events.verify().events == 20


def test_two_unlocked_handles_racing_on_one_file_exactly_one_wins(created: CreatedVault) -> None:
    second = Vault.open(created.data_dir)
    second.unlock(ADMIN, PASSPHRASE)
    try:
        outcomes = _race([created.vault.events.append, second.events.append], rounds=20)
        assert outcomes == [["ConcurrencyError", "ok"]] * 20
        assert [e.position for e in second.events.read_all()] == list(range(1, 21))
        assert created.vault.events.verify().events == 20
    finally:
        second.lock()


def test_more_worker_threads_than_five_can_use_the_vault_at_once(tmp_path: Path) -> None:
    # A scheduler's thread pool, the UI thread and a sync worker may all use one unlocked vault.
    # Run in a child process: if connections are closed under a busy thread, SQLCipher may
    # crash the whole interpreter, which must not take the test session down with it.
    child = subprocess.run(
        [sys.executable, "-m", "tests.store.thread_workers", str(tmp_path / "v"), "8", "25"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    died = f" (killed by signal {-child.returncode})" if child.returncode < 0 else ""
    assert child.returncode == 0, (
        f"the worker process failed with exit code {child.returncode}{died}:\n"
        f"{child.stdout[-1500:]}\n{child.stderr[:2000]}"
    )
    assert json.loads(child.stdout.splitlines()[-1]) == {"errors": [], "events": 8 * 25}


def test_events_cannot_be_edited_or_deleted_even_with_the_database_key(vault: Vault) -> None:
    seed_events(vault, 3)
    before = raw_events(vault)
    for sql in (
        "UPDATE events SET type = 'Forged' WHERE position = 2",
        "UPDATE events SET payload = x'00' WHERE position = 2",
        "DELETE FROM events WHERE position = 2",
        "DELETE FROM events",
    ):
        with pytest.raises(DBAPIError, match="events are immutable"), vault.engine.begin() as conn:
            conn.exec_driver_sql(sql)
    assert raw_events(vault) == before
    assert vault.events.verify().events == 3


# -- property: any sequence of appends reads back in order ------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=20)
)
payloads = st.dictionaries(st.text(max_size=8), json_scalars, max_size=4)
batches = st.tuples(
    st.sampled_from(["patient-a", "patient-b", "patient-c", "clinic"]),
    st.lists(payloads, min_size=1, max_size=3),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(batches, min_size=0, max_size=12))
def test_any_sequence_of_appends_reads_back_in_order(plan: list[tuple[str, list[Any]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        vault, _ = Vault.create(Path(tmp) / "v", ADMIN, PASSPHRASE, kdf=FAST_FOR_TESTS)
        try:
            versions: dict[str, int] = defaultdict(int)
            expected: list[tuple[str, int, Any]] = []
            for stream, bodies in plan:
                vault.events.append(
                    stream,
                    versions[stream],
                    [NewEvent("NoteWritten", b, metadata()) for b in bodies],
                )
                for body in bodies:
                    versions[stream] += 1
                    expected.append((stream, versions[stream], body))

            everything = list(vault.events.read_all())
            assert [(e.stream_id, e.stream_version, e.payload) for e in everything] == expected
            assert [e.position for e in everything] == list(range(1, len(expected) + 1))
            for stream, version in versions.items():
                assert [e.stream_version for e in vault.events.read_stream(stream)] == list(
                    range(1, version + 1)
                )
            report = vault.events.verify()
            assert (report.events, report.head_position) == (len(expected), len(expected))
        finally:
            vault.lock()
