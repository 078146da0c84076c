"""The timing-critical half of layer 2: membership heartbeats, ownership, ARP/NDP answers.

Runs as a child process of the Kubernetes half (``python -m …daemons.speaker.layer2.engine``,
started by :mod:`..engine_process`), fed JSON lines on stdin (:mod:`.engine_messages`). It
decides ownership itself from the plan it was last given and the live set its own membership
reports, so a failover never waits for the Kubernetes half: a 10 s API stall or a resync of
10 000 Services delays neither a heartbeat, nor an answer, nor a takeover. It imports nothing
from Kubernetes.

It joins the membership only once it has a plan (a restarting node that joined earlier would
take IPs back before it could answer for them) and decides only once it has heard every peer
or waited the dead-after threshold. On SIGTERM, on the end of its stdin and when its parent
dies, it stops answering and sends LEAVE, so peers take over at once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any, BinaryIO

from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import IPClaim, by_interface, owned

from ..engine_child import Reports, serve
from ..membership.service import Membership
from .engine_messages import StartOrder, claims_from_json, peers_from_json
from .responder import Responder

_COUNTERS_EVERY = 1.0

# Named after the module even when run as __main__, so log lines say where they come from.
log = logging.getLogger(__spec__.name if __spec__ else __name__)


class Engine:
    """Membership, decisions and the responder; one decider thread owns all state."""

    def __init__(self, order: StartOrder, out: BinaryIO) -> None:
        self._order = order
        self._inbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._claims: list[IPClaim] | None = None
        self._members: frozenset[str] = frozenset()
        self._reported_members: frozenset[str] | None = None
        self._announced: dict[str, dict[str, list[str]]] | None = None
        self._last_counters: dict[str, dict[str, int]] = {}
        self._responder = Responder()
        self._membership: Membership | None = None
        self._stopping = threading.Event()
        self._reports = Reports(out, self._stopping.set)
        self._peers = dict(order.peers)

    def submit(self, kind: str, value: Any) -> None:
        """Hand the decider a message (``plan``, ``peers``, ``members``, ``stop``); thread-safe."""
        self._inbox.put((kind, value))

    def run(self) -> None:
        """Serve until told to stop; then stop answering and leave the membership."""
        responder = threading.Thread(target=self._responder.run, name="responder", daemon=True)
        responder.start()
        self._reports.emit({"ready": True})
        next_counters = time.monotonic() + _COUNTERS_EVERY
        try:
            while not self._stopping.is_set():
                timeout = 0.05 if self._membership and not self._settled() else _COUNTERS_EVERY
                try:
                    kind, value = self._inbox.get(timeout=timeout)
                except queue.Empty:
                    kind, value = "tick", None
                self._handle(kind, value)
                if time.monotonic() >= next_counters:
                    self._report_counters()
                    next_counters = time.monotonic() + _COUNTERS_EVERY
        finally:
            self._shutdown(responder)

    def _handle(self, kind: str, value: Any) -> None:
        if kind == "stop":
            self._stopping.set()
            return
        if kind == "plan":
            self._claims = claims_from_json(value)
            self._ensure_membership()
        elif kind == "peers":
            self._peers = peers_from_json(value)
            if self._membership is not None:
                self._membership.set_peers(self._peers)
        elif kind == "members":
            self._members = value
        self._decide()

    def _ensure_membership(self) -> None:
        if self._membership is not None:
            return
        order = self._order
        self._membership = Membership(
            order.node,
            order.key,
            order.bind,
            self._peers,
            interval=order.interval,
            dead_after=order.dead_after,
            watch_links=order.watch_links,
            on_change=lambda members: self.submit("members", members),
        )
        self._membership.start()
        log.info("membership joined as %s on %s:%d", order.node, *order.bind)

    def _settled(self) -> bool:
        membership = self._membership
        if membership is None:
            return False
        everyone = set(self._peers) | {self._order.node}
        return bool(membership.settled or everyone <= membership.members())

    def _decide(self) -> None:
        if self._claims is None or not self._settled():
            return
        mine = owned(self._claims, self._members, self._order.node)
        self._responder.update(by_interface(mine)).result(timeout=5)
        announced = {
            str(ip): {
                "interfaces": sorted({i for c in claims for i in c.interfaces}),
                "services": sorted({c.service for c in claims}),
            }
            for ip, claims in mine.items()
        }
        before = self._announced or {}
        for ip in mine:
            if str(ip) not in before:
                self._responder.announce(ip)
        if announced != self._announced or self._members != self._reported_members:
            self._announced, self._reported_members = announced, self._members
            self._reports.emit({"announcing": announced, "members": sorted(self._members), "t": time.time()})

    def _report_counters(self) -> None:
        counters = self._responder.counters
        snapshot = {
            "requests_received": dict(counters.requests_received),
            "responses_sent": dict(counters.responses_sent),
            "gratuitous_sent": dict(counters.gratuitous_sent),
        }
        if snapshot != self._last_counters:
            self._last_counters = snapshot
            self._reports.emit({"counters": snapshot})

    def _shutdown(self, responder: threading.Thread) -> None:
        self._responder.stop()  # stop answering first: the peers take over on our LEAVE
        responder.join(2)
        if self._membership is not None:
            self._membership.stop()
        self._reports.emit({"stopped": True})


def main() -> int:
    """Read the start order, then serve until SIGTERM, SIGINT or the end of stdin."""
    return serve(lambda order, out: Engine(StartOrder.from_json(order), out))


if __name__ == "__main__":
    raise SystemExit(main())
