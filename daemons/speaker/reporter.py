"""Make a protocol's announcements visible: logs, Events on Services, status objects, metrics.

One reporter per protocol, created with the protocol's name (``layer2``, ``bgp``) and the word
for where an IP is announced (``interfaces`` in layer 2, ``peers`` in BGP).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from ..kube.events import NORMAL, EventRecorder
from ..kube.kubeapi import JSON
from .metrics import SpeakerMetrics
from .service_status import Condition

ASSIGNED = "nodeAssigned"
UNASSIGNED = "nodeUnassigned"

log = logging.getLogger(__name__)

Announcements = Mapping[tuple[str, str], Sequence[str]]  # (service key, ip) -> where, e.g. interfaces


class StatusWriter(Protocol):
    """Keeps a protocol's status objects of this node (e.g. ServiceL2Status) as wanted."""

    def want(
        self,
        services: Mapping[str, Sequence[str]],
        conditions: Mapping[str, Sequence[Condition]] | None = None,
    ) -> None:
        """Ask for exactly these reports: ``{service key: where it is announced}``, with ``conditions``."""


class Reporter:
    """Turns what a protocol announces now into logs, Events, status objects and metrics."""

    def __init__(
        self,
        node: str,
        *,
        protocol: str,
        where: str,
        service: Callable[[str], JSON | None],
        events: EventRecorder,
        statuses: StatusWriter,
        metrics: SpeakerMetrics,
    ) -> None:
        self._node = node
        self._protocol = protocol
        self._where = where
        self._service = service
        self._events = events
        self._statuses = statuses
        self._metrics = metrics
        self._announced: dict[tuple[str, str], tuple[str, ...]] = {}
        self._wanted: dict[str, list[str]] = {}
        self._conditions: dict[str, tuple[Condition, ...]] = {}

    def announcing(self, announced: Announcements, extra: Mapping[str, Any] | None = None) -> None:
        """Report everything announced from this node now; ``extra`` goes into the log lines."""
        now = {key: tuple(where) for key, where in announced.items()}
        for (service, ip), where in sorted(now.items()):
            if self._announced.get((service, ip)) != where:
                self._changed(service, ip, where, extra or {}, started=True)
        for (service, ip), where in sorted(self._announced.items()):
            if (service, ip) not in now:
                self._changed(service, ip, where, extra or {}, started=False)
        self._announced = now
        wanted: dict[str, set[str]] = {}
        for (service, _ip), where in now.items():
            wanted.setdefault(service, set()).update(where)
        self._wanted = {service: sorted(where) for service, where in wanted.items()}
        self._want()

    def set_conditions(self, conditions: Mapping[str, Sequence[Condition]]) -> None:
        """Show these conditions in the status objects of the Services announced from this node.

        ``{service key: conditions}``; a Service not named has none. Kept across announcements.
        """
        self._conditions = {service: tuple(found) for service, found in conditions.items() if found}
        self._want()

    def _want(self) -> None:
        notes = {service: found for service, found in self._conditions.items() if service in self._wanted}
        self._statuses.want(self._wanted, notes)

    def _changed(
        self, service: str, ip: str, where: tuple[str, ...], extra: Mapping[str, Any], started: bool
    ) -> None:
        verb = "announcing" if started else "stopped announcing"
        log.info(
            "%s %s of %s from %s on %s",
            verb,
            ip,
            service,
            self._node,
            ",".join(where),
            extra={
                **extra,
                "service": service,
                "ip": ip,
                "node": self._node,
                "protocol": self._protocol,
                self._where: list(where),
            },
        )
        self._metrics.set_announced(self._node, self._protocol, service, ip, started)
        obj = self._service(service)
        if obj is None:  # deleted: nobody to tell
            return
        source = f'node "{self._node}" with protocol "{self._protocol}"'
        if started:
            message = f"announcing from {source} (ip {ip}, {self._where} {','.join(where)})"
            self._events.record({**obj, "apiVersion": "v1", "kind": "Service"}, NORMAL, ASSIGNED, message)
        else:
            message = f"stopped announcing from {source} (ip {ip})"
            self._events.record({**obj, "apiVersion": "v1", "kind": "Service"}, NORMAL, UNASSIGNED, message)
