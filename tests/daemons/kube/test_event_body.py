"""The Event the recorder posts: what it is about, why, and who says so, as MetalLB writes it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from ansible_collections.baremetal.lb.daemons.kube.events import WARNING, EventRecorder

WAIT = 5.0  # seconds the posting thread may take on a busy machine


class PostingApi:
    """Takes the recorder's POSTs; ``posted`` is set at the first."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict]] = []
        self.posted = threading.Event()

    def request(self, method: str, path: str, body: dict) -> None:
        self.requests.append((method, path, body))
        self.posted.set()


def test_the_posted_event_names_the_object_the_reason_and_the_component() -> None:
    api = PostingApi()
    recorder = EventRecorder(api, idle=lambda: True, component="metallb-controller")  # type: ignore[arg-type]
    service = {"metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "resourceVersion": "42"}}
    before = datetime.now(UTC).replace(microsecond=0)
    recorder.record(service, WARNING, "AllocationFailed", 'Failed to allocate IP for "shop/web": no pool')
    recorder.start()
    assert api.posted.wait(WAIT)
    [(method, path, body)] = api.requests
    assert (method, path) == ("POST", "/api/v1/namespaces/shop/events")
    stamped = body.pop("firstTimestamp")
    assert before <= datetime.strptime(stamped, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) <= datetime.now(UTC)
    assert body == {
        "metadata": {"generateName": "web.", "namespace": "shop"},
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Service",
            "name": "web",
            "namespace": "shop",
            "uid": "u-1",
            "resourceVersion": "42",
        },
        "reason": "AllocationFailed",
        "message": 'Failed to allocate IP for "shop/web": no pool',
        "type": "Warning",
        "source": {"component": "metallb-controller"},
        "reportingComponent": "metallb-controller",
        "lastTimestamp": stamped,
        "count": 1,
    }
