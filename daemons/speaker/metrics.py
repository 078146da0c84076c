"""Prometheus metrics under MetalLB's speaker names, so existing dashboards keep working.

One registry for the speaker; a protocol registers its own metrics in it (layer 2:
:mod:`.layer2.metrics`).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from ..kube.config_metrics import ConfigMetrics

REPLAN_REASONS = ("start", "change", "periodic")
"""Why the speaker planned anew: its first plan, a change it was told of, the safety net."""


class SpeakerMetrics:
    """The speaker's metrics in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.announced = Gauge(
            "metallb_speaker_announced",
            "Services being announced from this node. This is desired state, it does not guarantee "
            "that the routing protocols have converged.",
            ["ip", "node", "protocol", "service"],
            registry=self.registry,
        )
        self.config = ConfigMetrics(self.registry)
        self.replans = Counter(
            "baremetal_lb_speaker_replans",
            "Times the speaker planned every protocol anew, by why: start, change (a watched object, "
            "a link or an address changed) or periodic (the safety net)",
            ["reason"],
            registry=self.registry,
        )
        for reason in REPLAN_REASONS:
            self.replans.labels(reason)  # every reason shows from the start, at 0

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
