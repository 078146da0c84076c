"""Prometheus metrics under MetalLB's speaker names, so existing dashboards keep working.

The layer-2 counters live in the engine process; the Kubernetes half republishes the engine's
latest totals, as counters named exactly as MetalLB exposes them (no ``_total`` suffix).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, Gauge, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

_LAYER2_COUNTERS = {
    "requests_received": "Number of layer2 requests received for owned IPs",
    "responses_sent": "Number of layer2 responses sent for owned IPs",
    "gratuitous_sent": "Number of gratuitous layer2 packets sent for owned IPs",
}


class _EngineCounters(Collector):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[str, dict[str, int]] = {}

    def set(self, totals: Mapping[str, Mapping[str, int]]) -> None:
        with self._lock:
            self._totals = {name: dict(values) for name, values in totals.items()}

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            totals = self._totals
        for name, help_text in _LAYER2_COUNTERS.items():
            full = f"metallb_layer2_{name}"
            metric = Metric(full, help_text, "counter")
            for ip, value in sorted(totals.get(name, {}).items()):
                metric.add_sample(full, {"ip": ip}, value)
            yield metric


class SpeakerMetrics:
    """The speaker's metrics in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._counters = _EngineCounters()
        self.registry.register(self._counters)
        self.announced = Gauge(
            "metallb_speaker_announced",
            "Services being announced from this node. This is desired state, it does not guarantee "
            "that the routing protocols have converged.",
            ["ip", "node", "protocol", "service"],
            registry=self.registry,
        )
        self.members = Gauge(
            "baremetal_lb_speaker_live_members",
            "Speakers this node's membership sees alive (itself included while its links are up)",
            registry=self.registry,
        )

    def set_layer2_totals(self, totals: Mapping[str, Mapping[str, int]]) -> None:
        """Publish the engine's latest per-IP counters."""
        self._counters.set(totals)

    def set_announced(self, node: str, protocol: str, service: str, ip: str, announced: bool) -> None:
        """Mark ``ip`` of ``service`` as announced (or no longer) from ``node`` by ``protocol``."""
        labels = (ip, node, protocol, service)
        if announced:
            self.announced.labels(*labels).set(1)
        else:
            try:
                self.announced.remove(*labels)
            except KeyError:
                return

    def serve(self, port: int, address: str = "0.0.0.0") -> None:
        """Serve ``/metrics`` on ``port`` from a background thread."""
        start_http_server(port, addr=address, registry=self.registry)
