"""The speaker's command-line options, as :mod:`.__main__` parses them."""

from __future__ import annotations

from dataclasses import dataclass

from .layer2.handoff import HANDOVER_OVERLAP
from .membership.service import DEAD_AFTER, DEFAULT_PROFILE, INTERVAL, REALTIME_PRIORITY

REPLAN_INTERVAL = 10.0  # seconds between safety-net re-plans; changes and link events re-plan at once


@dataclass(frozen=True)
class Options:
    """The speaker's command-line options."""

    node_name: str
    namespace: str = "metallb-system"
    pod_name: str = ""  # this speaker's Pod and its UID, when it runs in one (downward API)
    pod_uid: str = ""
    kubeconfig: str | None = None
    lb_class: str = ""
    ignore_exclude_lb: bool = False
    drain_aware: bool = True
    handover_overlap: float = HANDOVER_OVERLAP
    metrics_port: int = 7472
    health_port: int = 7473
    bind_address: str = "0.0.0.0"
    log_level: str = "info"
    ml_bind_addr: str = ""
    ml_bind_port: int = 7946
    ml_secret_name: str = "memberlist"
    ml_secret_key_path: str = ""
    ml_profile: str = DEFAULT_PROFILE  # what ml_interval and ml_dead_after were taken from, unless given
    ml_interval: float = INTERVAL
    ml_dead_after: float = DEAD_AFTER
    ml_realtime_priority: int = REALTIME_PRIORITY  # the layer-2 engine's SCHED_FIFO priority, 0: normal
    replan_interval: float = REPLAN_INTERVAL
