"""Kubernetes Events on Services and configuration objects, posted off the hot path.

Events are informational: they go through a bounded queue to one thread that waits while status
writes are pending (status first, so a burst of allocations is not slowed by as many Event
POSTs), and when the queue is full the surplus is dropped: one warning when dropping starts, and
one with the count by reason once the queue has drained (a cold start over tens of thousands of
Services would otherwise log a line per dropped Event).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from .kubeapi import EVENTS, JSON, KubeApi

NORMAL = "Normal"
WARNING = "Warning"

_YIELD_SECONDS = 0.05

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}

log = logging.getLogger(__name__)


def go_quote(value: str | Iterable[str]) -> str:
    """Format ``value`` as Go's ``%q`` does, so our Event messages read as MetalLB's.

    A string becomes a double-quoted Go string literal (``"ns/web"``); a sequence of strings
    becomes Go's rendering of a quoted slice: ``["192.0.2.1" "2001:db8::1"]``.
    """
    if isinstance(value, str):
        return _go_quote_string(value)
    return "[" + " ".join(_go_quote_string(item) for item in value) + "]"


def _go_quote_string(text: str) -> str:
    quoted = []
    for char in text:
        if char in '"\\':
            quoted.append("\\" + char)
        elif char in _GO_ESCAPES:
            quoted.append(_GO_ESCAPES[char])
        elif char.isprintable():
            quoted.append(char)
        elif ord(char) < 0x80:
            quoted.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            quoted.append(f"\\u{ord(char):04x}")
        else:
            quoted.append(f"\\U{ord(char):08x}")
    return '"' + "".join(quoted) + '"'


class EventRecorder:
    """Posts core/v1 Events from a background thread."""

    def __init__(self, api: KubeApi, idle: Callable[[], bool], component: str, capacity: int = 20000) -> None:
        self._api = api
        self._component = component  # source.component, e.g. metallb-controller, metallb-speaker
        self._idle = idle
        self._queue: queue.Queue[_Queued] = queue.Queue(capacity)
        self._thread = threading.Thread(target=self._run, name="events", daemon=True)
        self._dropping = threading.Lock()
        self._dropped: Counter[str] = Counter()  # by reason, since the queue last drained

    def start(self) -> None:
        """Start posting queued events."""
        self._thread.start()

    def record(self, obj: JSON, event_type: str, reason: str, message: str) -> None:
        """Queue an Event about ``obj`` (any object with apiVersion, kind and metadata)."""
        meta = obj["metadata"]
        queued = _Queued(
            api_version=obj.get("apiVersion", "v1"),
            kind=obj.get("kind", "Service"),
            name=meta["name"],
            namespace=meta["namespace"],
            uid=meta.get("uid"),
            resource_version=meta.get("resourceVersion"),
            event_type=event_type,
            reason=reason,
            message=message,
            at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        try:
            self._queue.put_nowait(queued)
        except queue.Full:
            self._drop(reason, f"{meta['namespace']}/{meta['name']}")

    def _drop(self, reason: str, about: str) -> None:
        with self._dropping:
            if not self._dropped:
                log.warning(
                    "event queue full (%d queued); dropping Events until it drains, first %s on %s",
                    self._queue.maxsize,
                    reason,
                    about,
                )
            self._dropped[reason] += 1

    def _report_drops(self) -> None:
        """Once the queue has drained: how many Events were dropped while it was full, by reason."""
        with self._dropping:
            if not self._dropped:
                return
            counts = ", ".join(f"{reason} {count}" for reason, count in sorted(self._dropped.items()))
            log.warning(
                "event queue drained; %d Events were dropped while it was full: %s",
                sum(self._dropped.values()),
                counts,
            )
            self._dropped.clear()

    def _run(self) -> None:
        while True:
            if self._queue.empty():
                self._report_drops()
            queued = self._queue.get()
            while not self._idle():
                time.sleep(_YIELD_SECONDS)
            path = f"{EVENTS.api_path}/namespaces/{queued.namespace}/events"
            try:
                self._api.request("POST", path, body=queued.body(self._component))
            except Exception as error:  # an Event that cannot be posted is only logged
                log.warning("could not post event %s: %s", queued.reason, error)


@dataclass(frozen=True, slots=True)
class _Queued:
    """An Event waiting to be posted: only its facts, its body made when it is posted.

    20,000 queued IPAllocated Events hold ~5 MB; as bodies they held ~23 MB (tracemalloc).
    """

    api_version: str
    kind: str
    name: str
    namespace: str
    uid: str | None
    resource_version: str | None
    event_type: str
    reason: str
    message: str
    at: str

    def body(self, component: str) -> JSON:
        """The core/v1 Event to post, reported by ``component``."""
        return {
            "metadata": {"generateName": f"{self.name}.", "namespace": self.namespace},
            "involvedObject": {
                "apiVersion": self.api_version,
                "kind": self.kind,
                "name": self.name,
                "namespace": self.namespace,
                "uid": self.uid,
                "resourceVersion": self.resource_version,
            },
            "reason": self.reason,
            "message": self.message,
            "type": self.event_type,
            "source": {"component": component},
            "reportingComponent": component,
            "firstTimestamp": self.at,
            "lastTimestamp": self.at,
            "count": 1,
        }
