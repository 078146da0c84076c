"""The configuration gauges both MetalLB daemons export, under MetalLB's names."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge


class ConfigMetrics:
    """Whether a configuration ever loaded, and whether the daemon runs on a stale one."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.loaded = Gauge(
            "metallb_k8s_client_config_loaded_bool",
            "1 if the MetalLB configuration was successfully loaded at least once",
            registry=registry,
        )
        self.stale = Gauge(
            "metallb_k8s_client_config_stale_bool",
            "1 if running on a stale configuration, because the latest config failed to load",
            registry=registry,
        )

    def accepted(self) -> None:
        """The newest configuration loaded: it runs, and it is not stale."""
        self.loaded.set(1)
        self.stale.set(0)

    def refused(self) -> None:
        """The newest configuration was refused: the daemon runs on the last good one (if any)."""
        self.stale.set(1)
