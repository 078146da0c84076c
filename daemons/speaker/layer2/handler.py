"""The layer-2 protocol handler: plan with ``l2_plan``, feed the engine process, report.

The engine (:mod:`.engine`, a child process) owns the membership and decides ownership itself
from the candidates of the plan and the members it sees alive, so a failover never waits for
the Kubernetes half; this handler only sends it plans and peer lists and turns its
``announcing`` reports into Events, ServiceL2Status objects and metrics, and its ``conflict``
reports into :mod:`.conflict_notices`.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import IPClaim, plan_service
from ansible_collections.baremetal.lb.plugins.module_utils.status_objects import L2_STATUS_KIND

from .. import facts
from ..engine_process import EngineProcess
from ..handler import Situation, SpeakerContext
from ..outputs import status_and_reporter
from .conflict_notices import ConflictNotices
from .conflicts import ConflictReport
from .engine_messages import StartOrder, peers_to_json
from .interfaces import interface_of, suitable_interfaces
from .metrics import Layer2Metrics
from .planning import Layer2Planning

ENGINE = f"{__package__}.engine"  # run with ``python -m`` under the speaker's own import root

log = logging.getLogger(__name__)


def plan(situation: Situation, interfaces: Mapping[int, Sequence[str]]) -> list[IPClaim]:
    """The claims of every IP of every Service in ``situation``, as seen from its node ``me``.

    ``interfaces`` maps an IP version to this node's interfaces fit for ARP or NDP. Pure: the
    engine turns these claims and its live members into announcements with ``l2_plan.owned``.
    """
    claims: list[IPClaim] = []
    for service in situation.services:
        claims += plan_service(
            service,
            config=situation.config,
            nodes=situation.nodes,
            me=situation.me,
            suitable_interfaces=interfaces,
            ignore_exclude_label=situation.ignore_exclude_label,
            drain_aware=situation.drain_aware,
        )
    return claims


class Layer2Handler:
    """Layer 2 (ARP/NDP) behind the speaker's :class:`~..handler.ProtocolHandler` seam."""

    name = "layer2"

    def __init__(self, context: SpeakerContext) -> None:
        self._context = context
        self._statuses, self._reporter = status_and_reporter(context, self.name, "interfaces", L2_STATUS_KIND)
        self._metrics = Layer2Metrics(context.metrics.registry)
        self._conflicts = ConflictNotices(
            context.options.node_name,
            service=context.service,
            events=context.events,
            reporter=self._reporter,
            registry=context.metrics.registry,
        )
        self._planning = Layer2Planning()
        self._suitable: dict[int, list[str]] | None = None
        self._engine = EngineProcess(
            ENGINE, self._report, lambda status: context.failed("the layer-2 engine", status)
        )

    def start(self) -> str | None:
        """Read the membership key, start the engine and the ServiceL2Status writer."""
        key = self._context.retry("reading the membership key", self._membership_key)
        if self._context.stop.is_set():
            return None
        order = self._start_order(key)
        # From the main thread: the engine dies with it.
        self._engine.start(order.to_json(), remembered={"peers": peers_to_json(order.peers)})
        self._statuses.start(self._context.stop)
        host, port = order.bind
        options = self._context.options
        return (
            f"membership on {host}:{port} (profile {options.ml_profile}: heartbeat every"
            f" {order.interval * 1000:.0f} ms, dead after {order.dead_after * 1000:.0f} ms),"
            f" watching {','.join(order.watch_links) or 'no link'}"
        )

    def apply(self, situation: Situation) -> None:
        """Re-plan the Services a change touched; send the engine the plan and the peers when they changed."""
        suitable = suitable_interfaces()
        if suitable != self._suitable:  # links and addresses come and go: say what is fit now
            self._suitable = suitable
            log.info(
                "interfaces fit for layer 2: IPv4 %s, IPv6 %s",
                ",".join(suitable[4]) or "none",
                ",".join(suitable[6]) or "none",
                extra={"ipv4": suitable[4], "ipv6": suitable[6]},
            )
        replanned, order = self._planning.plan(situation, suitable)
        self._engine.send_if_changed("peers", peers_to_json(self._peers()))
        if order is not None:
            self._engine.send_line(order)
            log.debug(
                "new plan: %d Services, %s re-planned, %d bytes sent",
                len(self._planning.claims),
                "all" if replanned.everything else len(replanned.services),
                len(order),
            )

    def shutdown(self) -> None:
        """Hand over (the engine sends LEAVE), then withdraw this node's ServiceL2Status objects."""
        self._engine.stop()
        self._statuses.delete_all()

    def _report(self, message: Mapping[str, Any]) -> None:
        if "counters" in message:
            self._metrics.set_totals(message["counters"])
        if "announcing" in message:
            members = list(message.get("members") or ())
            self._metrics.set_members(len(members))
            announced = {
                (service, ip): entry["interfaces"]
                for ip, entry in message["announcing"].items()
                for service in entry["services"]
            }
            self._reporter.announcing(announced, {"members": members})
        if "conflict" in message:
            conflict = ConflictReport.from_json(message["conflict"])
            self._conflicts.report(conflict, self._services_claiming(conflict.ip))

    def _services_claiming(self, ip: str) -> tuple[str, ...]:
        """The Services of the latest plan with a claim on ``ip`` (its text form), sorted.

        Called from the engine's reader thread while the main thread may re-plan: the keys are
        copied in one step and a Service gone meanwhile has no claims.
        """
        claims = self._planning.claims
        found = {
            claim.service for key in list(claims) for claim in claims.get(key, ()) if str(claim.ip) == ip
        }
        return tuple(sorted(found))

    def _peers(self) -> dict[str, tuple[str, int]]:
        version = 6 if ":" in self._bind_host() else 4
        return facts.peers(self._context.nodes(), version, self._context.options.ml_bind_port)

    def _bind_host(self) -> str:
        options = self._context.options
        if options.ml_bind_addr:
            return options.ml_bind_addr
        node = facts.node_named(self._context.nodes(), options.node_name)
        address = facts.internal_ip(node, 4) or facts.internal_ip(node, 6)
        if not address:
            raise RuntimeError(f"node {options.node_name} has no InternalIP; set --ml-bind-addr")
        return address

    def _start_order(self, key: bytes) -> StartOrder:
        options = self._context.options
        host = self._bind_host()
        link = interface_of(host)
        return StartOrder(
            node=options.node_name,
            key=key,
            bind=(host, options.ml_bind_port),
            peers=self._peers(),
            interval=options.ml_interval,
            dead_after=options.ml_dead_after,
            handover_overlap=options.handover_overlap,
            watch_links=(link,) if link else (),
            log_level=options.log_level,
            realtime_priority=options.ml_realtime_priority,
        )

    def _membership_key(self) -> bytes:
        options = self._context.options
        if options.ml_secret_key_path:
            return Path(options.ml_secret_key_path).read_bytes().strip()
        path = f"/api/v1/namespaces/{options.namespace}/secrets/{options.ml_secret_name}"
        data: Mapping[str, Any] = self._context.api.request("GET", path).get("data") or {}
        if not data.get("secretkey"):
            raise RuntimeError(f"Secret {options.ml_secret_name} has no key secretkey")
        return base64.b64decode(data["secretkey"])
