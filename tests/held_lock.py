"""A cross-process lock held by someone else, for the tests of what waits on it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager


@contextmanager
def held_by_another_thread(take: Callable[[], AbstractContextManager[object]]) -> Iterator[None]:
    """The lock `take()` acquires, held by another thread for the block: its own open of the
    lock file, as another process would have."""
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:
        with take():
            taken.set()
            done.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert taken.wait(5)
    try:
        yield
    finally:
        done.set()
        thread.join(5)
