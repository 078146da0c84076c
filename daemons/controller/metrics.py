"""Prometheus metrics under MetalLB's names, so existing dashboards and alerts keep working."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from ..kube.config_metrics import ConfigMetrics


class ControllerMetrics:
    """The controller's metrics in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.addresses_in_use = Gauge(
            "metallb_allocator_addresses_in_use_total",
            "Number of IP addresses in use, per pool",
            ["pool"],
            registry=self.registry,
        )
        self.addresses_total = Gauge(
            "metallb_allocator_addresses_total",
            "Number of usable IP addresses, per pool",
            ["pool"],
            registry=self.registry,
        )
        self.config = ConfigMetrics(self.registry)
        self.updates = Counter(
            "metallb_k8s_client_updates",
            "Number of k8s object updates that have been processed",
            registry=self.registry,
        )
        self.update_errors = Counter(
            "metallb_k8s_client_update_errors",
            "Number of k8s object updates that failed for some reason",
            registry=self.registry,
        )

    def set_pool(self, pool: str, in_use: int, total: int) -> None:
        """Publish the usage of one pool."""
        self.addresses_in_use.labels(pool).set(in_use)
        self.addresses_total.labels(pool).set(total)

    def forget_pool(self, pool: str) -> None:
        """Stop publishing a pool that no longer exists."""
        for gauge in (self.addresses_in_use, self.addresses_total):
            try:
                gauge.remove(pool)
            except KeyError:
                continue

    def serve(self, port: int, address: str = "0.0.0.0") -> None:
        """Serve ``/metrics`` on ``port`` from a background thread."""
        start_http_server(port, addr=address, registry=self.registry)
