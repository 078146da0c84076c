"""The BGP and BFD metrics under MetalLB's names, republished from the engine's reports.

The sessions live in the engine process; the handler passes each ``sessions`` report here.
Labels as MetalLB's: ``peer`` is the peer's address (MetalLB writes ``address:port``-less IPs for
the native speaker's sessions).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

_GAUGES = {
    "metallb_bgp_session_up": "BGP session state (1 is up, 0 is down)",
    "metallb_bfd_session_up": "BFD session state (1 is up, 0 is down)",
    "metallb_bgp_announced_prefixes_total": (
        "Number of prefixes currently being advertised on the BGP session"
    ),
}
_COUNTERS = {"metallb_bgp_updates_total": "Number of BGP UPDATE messages sent"}


class _Sessions(Collector):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, Mapping[str, Any]] = {}

    def set(self, sessions: Mapping[str, Mapping[str, Any]]) -> None:
        with self._lock:
            self._sessions = dict(sessions)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            sessions = self._sessions
        values: dict[str, list[tuple[str, float]]] = {name: [] for name in (*_GAUGES, *_COUNTERS)}
        for session in sessions.values():
            peer = str(session.get("peer_address", ""))
            values["metallb_bgp_session_up"].append((peer, float(session.get("state") == "Established")))
            values["metallb_bgp_announced_prefixes_total"].append(
                (peer, float(session.get("prefixes_announced", 0)))
            )
            values["metallb_bgp_updates_total"].append((peer, float(session.get("updates_sent", 0))))
            if session.get("bfd") is not None:
                values["metallb_bfd_session_up"].append((peer, float(session.get("bfd") == "UP")))
        for name, help_text in (*_GAUGES.items(), *_COUNTERS.items()):
            metric = Metric(name, help_text, "counter" if name in _COUNTERS else "gauge")
            for peer, value in sorted(values[name]):
                metric.add_sample(name, {"peer": peer}, value)
            yield metric


class BGPMetrics:
    """The BGP metrics, registered in the speaker's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._sessions = _Sessions()
        registry.register(self._sessions)

    def set_sessions(self, sessions: Mapping[str, Mapping[str, Any]]) -> None:
        """Publish the engine's latest per-session report."""
        self._sessions.set(sessions)
