"""The decider waits out a slow responder (a starved machine) and gives up only on a dead one."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.layer2.engine import wait_applied

PATIENCE = 0.05


def _alive_thread(until: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=until.wait, args=(5,), daemon=True)
    thread.start()
    return thread


def test_a_change_applied_after_several_patience_periods_is_waited_for_with_warnings(caplog):
    applied: Future[None] = Future()
    release = threading.Event()
    responder = _alive_thread(release)
    late = threading.Timer(PATIENCE * 4, lambda: applied.set_result(None))
    late.start()
    try:
        with caplog.at_level(logging.WARNING):
            wait_applied(applied, responder, patience=PATIENCE)
    finally:
        late.cancel()
        release.set()
    assert applied.done()
    assert any("has not applied the new answers" in r.getMessage() for r in caplog.records)


def test_a_responder_thread_that_has_ended_is_an_error():
    applied: Future[None] = Future()
    responder = threading.Thread(target=lambda: None)
    responder.start()
    responder.join()
    with pytest.raises(RuntimeError, match="responder thread has ended"):
        wait_applied(applied, responder, patience=PATIENCE)


def test_an_applied_change_returns_at_once():
    applied: Future[None] = Future()
    applied.set_result(None)
    wait_applied(applied, threading.current_thread(), patience=PATIENCE)
