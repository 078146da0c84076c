"""Make layer-2 address conflicts visible: a log line, an Event, a metric and a status condition.

The engine decides what a conflict is and when it is news (:mod:`.conflicts`); this turns each
``conflict`` report into, for every Service with that IP:

* a log line naming the Service, the IP, the foreign MAC, the interface and this node
  (warning while it lasts, info when it is over);
* an Event on the Service: ``Warning AddressConflict`` when it starts and while it persists
  (at most once a minute), ``Normal AddressConflictResolved`` when it is over;
* the gauge ``metallb_speaker_address_conflict{ip,mac,node,service}``, 1 while it lasts;
* the condition ``AddressConflict`` (status ``True``) in the Service's ServiceL2Status object
  of this node, removed when it is over (``kubectl get servicel2statuses`` shows it in a column).

The speaker keeps announcing the IP throughout: it never yields to, nor fights, the other host.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence

from prometheus_client import CollectorRegistry, Gauge

from ansible_collections.baremetal.lb.plugins.module_utils.status_objects import ADDRESS_CONFLICT

from ...kube.events import NORMAL, WARNING, EventRecorder
from ...kube.kubeapi import JSON
from ..reporter import Reporter
from ..service_status import Condition
from .conflicts import OVER, ConflictReport

CONFLICT = ADDRESS_CONFLICT  # Event reason and condition type
RESOLVED = "AddressConflictResolved"
_MAX_MESSAGE = 32768  # the CRD's bound on a condition message

log = logging.getLogger(__name__)


class ConflictNotices:
    """The visible side of the conflicts in progress on this node."""

    def __init__(
        self,
        node: str,
        *,
        service: Callable[[str], JSON | None],
        events: EventRecorder,
        reporter: Reporter,
        registry: CollectorRegistry,
    ) -> None:
        self._node = node
        self._service = service
        self._events = events
        self._reporter = reporter
        self._open: dict[tuple[str, str], tuple[ConflictReport, tuple[str, ...]]] = {}
        self._gauge = Gauge(
            "metallb_speaker_address_conflict",
            "Another host (mac) answers ARP/NDP for an IP this node announces or is about to",
            ["ip", "mac", "node", "service"],
            registry=registry,
        )

    def report(self, conflict: ConflictReport, services: Sequence[str]) -> None:
        """Publish one engine report about ``conflict``, which concerns ``services``."""
        key = (conflict.ip, conflict.mac)
        over = conflict.state == OVER
        if over:
            _unused, services = self._open.pop(key, (conflict, tuple(services)))
        else:
            self._open[key] = (conflict, tuple(services))
        for service in sorted(services):
            self._log(conflict, service)
            labels = (conflict.ip, conflict.mac, self._node, service)
            if over:
                with contextlib.suppress(KeyError):
                    self._gauge.remove(*labels)
            else:
                self._gauge.labels(*labels).set(1)
            self._event(conflict, service)
        self._reporter.set_conditions(self._conditions())

    def _log(self, conflict: ConflictReport, service: str) -> None:
        over = conflict.state == OVER
        log.log(
            logging.INFO if over else logging.WARNING,
            "%s: %s (%s) %s %s of %s on %s of node %s, %d packets",
            "address conflict over" if over else "address conflict",
            conflict.mac,
            "answered our probe" if conflict.phase == "probe" else "answers while we own it",
            "no longer claims" if over else "claims",
            conflict.ip,
            service,
            conflict.interface,
            self._node,
            conflict.packets,
            extra={
                "service": service,
                "ip": conflict.ip,
                "mac": conflict.mac,
                "interface": conflict.interface,
                "node": self._node,
                "state": conflict.state,
                "phase": conflict.phase,
            },
        )

    def _event(self, conflict: ConflictReport, service: str) -> None:
        obj = self._service(service)
        if obj is None:
            return
        target = {**obj, "apiVersion": "v1", "kind": "Service"}
        if conflict.state == OVER:
            message = f"no packet from {conflict.mac} claiming {conflict.ip} lately (node {self._node})"
            self._events.record(target, NORMAL, RESOLVED, message)
        else:
            self._events.record(target, WARNING, CONFLICT, _message(conflict, self._node))

    def _conditions(self) -> Mapping[str, list[Condition]]:
        """One ``AddressConflict`` condition per Service (conditions are keyed by type)."""
        messages: dict[str, list[str]] = {}
        for conflict, services in sorted(self._open.values(), key=lambda entry: entry[0].ip + entry[0].mac):
            for service in services:
                messages.setdefault(service, []).append(_message(conflict, self._node))
        return {
            service: [Condition(CONFLICT, "True", "ForeignMACAnswers", "; ".join(found)[:_MAX_MESSAGE])]
            for service, found in messages.items()
        }


def _message(conflict: ConflictReport, node: str) -> str:
    how = "answered the probe for" if conflict.phase == "probe" else "also answers for"
    return (
        f"another host ({conflict.mac}) {how} {conflict.ip} on {conflict.interface} of node {node}; "
        "this node keeps announcing it"
    )
