"""The layer-2 metrics: the engine's ARP/NDP counters under MetalLB's names, and live members.

The counters live in the engine process; the handler republishes the engine's latest totals,
as counters named exactly as MetalLB exposes them (no ``_total`` suffix).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

_LAYER2_COUNTERS = {
    "requests_received": "Number of layer2 requests received for owned IPs",
    "responses_sent": "Number of layer2 responses sent for owned IPs",
    "gratuitous_sent": "Number of gratuitous layer2 packets sent for owned IPs",
    # Not in MetalLB: address conflict detection (layer2/conflicts.py).
    "conflicts_received": "Number of layer2 packets from another host claiming an owned or probed IP",
    "peer_claims_received": "Number of layer2 packets from a peer speaker claiming an owned or probed IP",
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
            yield _counter(f"metallb_layer2_{name}", help_text, "ip", totals.get(name, {}))
        yield _counter(
            "baremetal_lb_speaker_membership_rejected",
            "Membership datagrams refused, by reason: forged (bad HMAC), unknown sender, replayed, stale",
            "reason",
            totals.get("membership_rejected", {}),
        )
        yield _counter(
            "baremetal_lb_speaker_peers_declared_dead",
            "Times this node declared a peer dead after the dead-after time of silence (a LEAVE is not "
            "counted), by peer",
            "peer",
            totals.get("peers_declared_dead", {}),
        )
        yield _counter(
            "baremetal_lb_speaker_redefined_terms_given",
            "Services whose layer-2 claims the engine gave new terms from a plan order that redefined "
            "the terms they name without listing them (an announcing Node's death or drain re-terms "
            "thousands of Services so, in one short order)",
            "",
            totals.get("redefined_terms_given", {}),
        )


def _counter(name: str, help_text: str, label: str, values: Mapping[str, int]) -> Metric:
    """A counter with a sample per value of ``label``; one unlabelled sample when ``label`` is ""."""
    metric = Metric(name, help_text, "counter")
    for key, value in sorted(values.items()):
        metric.add_sample(name, {label: key} if label else {}, value)
    return metric


class Layer2Metrics:
    """The layer-2 metrics, registered in the speaker's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._counters = _EngineCounters()
        registry.register(self._counters)
        self._members = Gauge(
            "baremetal_lb_speaker_live_members",
            "Speakers this node's membership sees alive (itself included while its links are up)",
            registry=registry,
        )

    def set_totals(self, totals: Mapping[str, Mapping[str, int]]) -> None:
        """Publish the engine's latest per-IP counters."""
        self._counters.set(totals)

    def set_members(self, count: int) -> None:
        """Publish how many speakers the engine's membership sees alive."""
        self._members.set(count)
