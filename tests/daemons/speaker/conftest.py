"""What the speaker's unit tests share: a stop event, a bounded wait, a thread that keeps its error."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest


def until(what: str, check: Callable[[], Any], timeout: float = 5.0) -> None:
    """Poll ``check`` until true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.01)


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    """An event for a writer's thread, set (stopping it) when the test ends."""
    event = threading.Event()
    yield event
    event.set()


def run_in_thread(target: Callable[[], object]) -> tuple[threading.Thread, list[RuntimeError]]:
    """Start ``target`` in a daemon thread; the list receives the RuntimeError it ends with, if any."""
    errors: list[RuntimeError] = []

    def run() -> None:
        try:
            target()
        except RuntimeError as err:
            errors.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors
