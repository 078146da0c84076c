"""Make the engine's decisions visible: logs, Events on Services, ServiceL2Status, metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from ..kube.events import NORMAL, EventRecorder
from ..kube.kubeapi import JSON
from .l2status import L2StatusWriter
from .metrics import SpeakerMetrics

ASSIGNED = "nodeAssigned"
UNASSIGNED = "nodeUnassigned"

log = logging.getLogger(__name__)

Announced = Mapping[str, Mapping[str, list[str]]]  # ip -> {"interfaces": [...], "services": [...]}


class Reporter:
    """Turns each ``announcing`` report of the engine into what users and tools see."""

    def __init__(
        self,
        node: str,
        *,
        service: Callable[[str], JSON | None],
        events: EventRecorder,
        statuses: L2StatusWriter,
        metrics: SpeakerMetrics,
    ) -> None:
        self._node = node
        self._service = service
        self._events = events
        self._statuses = statuses
        self._metrics = metrics
        self._announced: dict[tuple[str, str], tuple[str, ...]] = {}  # (service, ip) -> interfaces

    def handle(self, message: Mapping[str, Any]) -> None:
        """Act on one engine report (``announcing``/``members`` or ``counters``)."""
        if "counters" in message:
            self._metrics.set_layer2_totals(message["counters"])
        if "announcing" in message:
            self._metrics.members.set(len(message.get("members") or ()))
            self._announcing(message["announcing"], message.get("members") or [])

    def _announcing(self, announced: Announced, members: list[str]) -> None:
        now = {
            (service, ip): tuple(entry["interfaces"])
            for ip, entry in announced.items()
            for service in entry["services"]
        }
        for (service, ip), interfaces in sorted(now.items()):
            if self._announced.get((service, ip)) != interfaces:
                self._changed(service, ip, interfaces, members, started=True)
        for (service, ip), interfaces in sorted(self._announced.items()):
            if (service, ip) not in now:
                self._changed(service, ip, interfaces, members, started=False)
        self._announced = now
        wanted: dict[str, set[str]] = {}
        for (service, _ip), interfaces in now.items():
            wanted.setdefault(service, set()).update(interfaces)
        self._statuses.want({service: sorted(ifaces) for service, ifaces in wanted.items()})

    def _changed(
        self, service: str, ip: str, interfaces: tuple[str, ...], members: list[str], started: bool
    ) -> None:
        verb = "announcing" if started else "stopped announcing"
        log.info(
            "%s %s of %s from %s on %s",
            verb,
            ip,
            service,
            self._node,
            ",".join(interfaces),
            extra={
                "service": service,
                "ip": ip,
                "node": self._node,
                "interfaces": list(interfaces),
                "members": members,
            },
        )
        self._metrics.set_announced(self._node, service, ip, started)
        obj = self._service(service)
        if obj is None:  # deleted: nobody to tell
            return
        where = f'node "{self._node}" with protocol "layer2"'
        if started:
            message = f"announcing from {where} (ip {ip}, interfaces {','.join(interfaces)})"
            self._events.record({**obj, "apiVersion": "v1", "kind": "Service"}, NORMAL, ASSIGNED, message)
        else:
            message = f"stopped announcing from {where} (ip {ip})"
            self._events.record({**obj, "apiVersion": "v1", "kind": "Service"}, NORMAL, UNASSIGNED, message)
