"""A full Event queue drops the surplus with two warnings, not one per dropped Event."""

from __future__ import annotations

import logging
import threading

from ansible_collections.baremetal.lb.daemons.kube import events
from ansible_collections.baremetal.lb.daemons.kube.events import NORMAL, EventRecorder

WAIT = 5.0  # seconds the posting thread may take on a busy machine


class PostingApi:
    """Takes the recorder's POSTs."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []

    def request(self, method: str, path: str, body: dict) -> None:
        self.bodies.append(body)


class Warnings(logging.Handler):
    """The recorder's warnings; ``drained`` is set when it reports what it dropped."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.drained = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        if record.getMessage().startswith("event queue drained"):
            self.drained.set()


def service(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "web"}}


def test_a_full_queue_warns_once_then_counts_the_dropped_by_reason() -> None:
    api = PostingApi()
    may_post = threading.Event()
    warnings = Warnings()
    events.log.addHandler(warnings)
    try:
        recorder = EventRecorder(api, idle=may_post.is_set, component="metallb-controller", capacity=2)  # type: ignore[arg-type]
        recorder.start()
        reasons = ["IPAllocated", "IPAllocated", "IPAllocated", "NotAnnounced", "IPAllocated", "NotAnnounced"]
        for index, reason in enumerate(reasons):
            recorder.record(service(f"svc-{index}"), NORMAL, reason, "message")
        # two Events queued (three if the posting thread took one to wait with): the rest dropped
        assert len(warnings.messages) == 1, warnings.messages
        assert warnings.messages[0].startswith("event queue full (2 queued)"), warnings.messages
        may_post.set()
        assert warnings.drained.wait(WAIT), warnings.messages
    finally:
        events.log.removeHandler(warnings)
    assert len(warnings.messages) == 2, warnings.messages
    dropped = len(reasons) - len(api.bodies)
    assert warnings.messages[1] == (
        f"event queue drained; {dropped} Events were dropped while it was full: "
        f"IPAllocated {dropped - 2}, NotAnnounced 2"
    )
