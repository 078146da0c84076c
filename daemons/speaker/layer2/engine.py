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
dies, it sends LEAVE, so peers take over at once, and stops answering only once it heard each
new owner announce (or after the hand-over overlap): make before break (:mod:`.handoff`). An IP
it gives up while it stays (a cordon, a failback) is handed over the same way.

It also detects address conflicts (:mod:`.conflicts`): an IP it claims first is probed for
:data:`.conflicts.PROBE_WINDOW` before it answers for it (a hand-over from a peer is not), and
every IP it owns is watched; a foreign MAC speaking for one becomes a ``conflict`` report.
"""

from __future__ import annotations

import ipaddress
import logging
import queue
import threading
import time
from collections import Counter
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, BinaryIO

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPAddress
from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import (
    IPClaim,
    by_interface,
    held,
    owned,
    successors,
)
from ansible_collections.baremetal.lb.plugins.module_utils.ownership import Ranks

from ..engine_child import Reports, serve
from ..heap import freeze_long_lived
from ..membership.holds import Holds
from ..membership.service import Membership
from .conflicts import ConflictLog, Probe, first_claims
from .engine_messages import PLAN, PLAN_CHANGES, PlannedClaims, StartOrder, peers_from_json
from .ethernet import mac_to_str
from .handoff import Releases
from .neighbours import neighbour_macs
from .responder import Responder

_COUNTERS_EVERY = 1.0
_TICK = 0.05  # the decider's wake-up while settling or probing
_APPLY_PATIENCE = 5.0  # seconds between "still waiting" warnings while the responder applies a plan
_PEER_MACS_FRESH = 5.0  # seconds a reading of the peers' MACs is trusted for a first sighting

# Named after the module even when run as __main__, so log lines say where they come from.
log = logging.getLogger(__spec__.name if __spec__ else __name__)


def wait_applied(
    applied: Future[None], responder: threading.Thread, patience: float = _APPLY_PATIENCE
) -> None:
    """Wait until the responder applied a change; a starved machine delays it, never ends it.

    Gratuitous announcements must follow the change, so the decider waits. A responder that is
    merely slow (both cores busy) gets a warning every ``patience`` seconds; only a responder
    thread that has ended is an error (the engine exits and the speaker starts it again).
    """
    started = time.monotonic()
    while True:
        try:
            applied.result(timeout=patience)
            return
        except FutureTimeout:
            if not responder.is_alive():
                raise RuntimeError("the responder thread has ended; answers cannot be changed") from None
            log.warning(
                "the responder has not applied the new answers after %.1fs (overloaded?); waiting on",
                time.monotonic() - started,
            )


class Engine:
    """Membership, decisions and the responder; one decider thread owns all state."""

    def __init__(self, order: StartOrder, out: BinaryIO) -> None:
        self._order = order
        self._inbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._planned: PlannedClaims | None = None  # None until the first plan
        self._members: frozenset[str] = frozenset()
        self._peer_holds: Holds = {}  # what live peers hold against the rank (non-revertive failback)
        self._holding: frozenset[IPAddress] = frozenset()  # what this node holds, as last told
        self._reported_members: frozenset[str] | None = None
        self._announced: dict[str, dict[str, list[str]]] | None = None
        self._last_counters: dict[str, dict[str, int]] = {}
        self._responder = Responder(on_foreign=self._foreign)
        self._responder_thread = threading.Thread(target=self._responder.run, name="responder", daemon=True)
        self._previous: tuple[frozenset[str], frozenset[IPAddress]] | None = None  # members, plan IPs
        self._probes: dict[IPAddress, Probe] = {}
        self._claimed: frozenset[IPAddress] = frozenset()
        self._answered: dict[IPAddress, list[IPClaim]] = {}  # owned or released, as last applied
        self._ranks = Ranks()  # each claim's candidate order, hashed once per plan, not per decision
        self._releases = Releases(order.handover_overlap)
        self._conflicts = ConflictLog()
        self._peer_claims: Counter[str] = Counter()  # a peer speaking for our IP: a hand-over, no conflict
        # (ip, mac) -> (interface, probing, packets): coalesced until the decider's next turn
        self._sightings: dict[tuple[IPAddress, str], tuple[str, bool, int]] = {}
        self._sightings_lock = threading.Lock()
        self._peer_macs: tuple[float, dict[str, str]] = (float("-inf"), {})  # (read at, MAC -> node)
        self._membership: Membership | None = None
        self._stopping = threading.Event()
        self._reports = Reports(out, self._stopping.set)
        self._peers = dict(order.peers)

    def submit(self, kind: str, value: Any) -> None:
        """Hand the decider a message (``plan``, ``plan_changes``, ``peers``, ``members``, ``holds``, ...).

        Thread-safe.
        """
        self._inbox.put((kind, value))

    def run(self) -> None:
        """Serve until told to stop; then stop answering and leave the membership."""
        responder = self._responder_thread
        responder.start()
        self._reports.emit({"ready": True})
        next_counters = time.monotonic() + _COUNTERS_EVERY
        try:
            while not self._stopping.is_set():
                timeout = self._wake_in()
                try:
                    kind, value = self._inbox.get(timeout=timeout)
                except queue.Empty:
                    kind, value = "tick", None
                self._handle(kind, value)
                if not responder.is_alive() and not self._stopping.is_set():
                    raise RuntimeError("the responder thread has ended; nobody answers ARP/NDP")
                if time.monotonic() >= next_counters:
                    self._report_counters()
                    next_counters = time.monotonic() + _COUNTERS_EVERY
        finally:
            self._shutdown(responder)

    def _wake_in(self) -> float:
        """Seconds until the decider has something to do unless a message comes first."""
        busy = self._probes or (self._membership and not self._settled())
        timeout = _TICK if busy else _COUNTERS_EVERY
        deadline = self._releases.next_deadline()
        if deadline is not None:
            timeout = min(timeout, max(0.0, deadline - time.monotonic()))
        return timeout

    def _handle(self, kind: str, value: Any) -> None:
        if kind == "stop":
            self._stopping.set()
            return
        if kind == "foreign" and not self._account_sightings():
            return  # no hand-over ended: nothing to re-apply
        if kind in (PLAN, PLAN_CHANGES):
            first = self._planned is None
            self._planned = planned = self._planned or PlannedClaims()
            planned.take(kind, value)
            if first:
                freeze_long_lived()  # the first plan's claims: no collection walks them again
            self._ranks.renew()  # ranks the new plan does not ask for again are forgotten at the next
            self._ensure_membership()
        elif kind == "peers":
            self._peers = peers_from_json(value)
            if self._membership is not None:
                self._membership.set_peers(self._peers)
        elif kind == "members":
            self._members = value
        elif kind == "holds":
            self._peer_holds = value
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
            on_holds=lambda holds: self.submit("holds", holds),
        )
        self._membership.start()
        log.info("membership joined as %s on %s:%d", order.node, *order.bind)

    def _settled(self) -> bool:
        membership = self._membership
        if membership is None:
            return False
        everyone = set(self._peers) | {self._order.node}
        # the members as this thread last heard of them, not as the membership thread sees them
        # now: a decision must not run ahead of the messages (holds, members) still queued for it
        return bool(membership.settled or everyone <= self._members)

    def _decide(self) -> None:
        if self._planned is None or not self._settled():
            return
        mine = owned(self._planned.claims, self._members, self._order.node, self._holders(), self._ranks)
        self._hold(mine)
        ready = self._probe_first_claims(mine)
        probing = {ip: mine[ip] for ip in self._probes}
        answered = {**self._released(ready), **ready}
        change = self._responder.update(by_interface(answered), by_interface(probing))
        wait_applied(change, self._responder_thread)
        self._answered = answered
        for ip, probe in list(self._probes.items()):
            if probe.probe_due(time.monotonic()):
                self._responder.probe(ip)
                self._probes[ip] = probe.after_sending()
        self._claimed = frozenset(ready)
        self._previous = (self._members, self._planned.ips)
        for report in self._conflicts.settle(time.monotonic(), {str(ip) for ip in mine}):
            self._reports.emit({"conflict": report.to_json()})
        announced = {
            str(ip): {
                "interfaces": sorted({i for c in claims for i in c.interfaces}),
                "services": sorted({c.service for c in claims}),
            }
            for ip, claims in ready.items()
        }
        before = self._announced or {}
        for ip in ready:
            if str(ip) not in before:
                self._responder.announce(ip)
        if announced != self._announced or self._members != self._reported_members:
            self._announced, self._reported_members = announced, self._members
            self._reports.emit({"announcing": announced, "members": sorted(self._members), "t": time.time()})

    def _holders(self, *, leaving: bool = False) -> dict[IPAddress, set[str]]:
        """For each IP, the nodes holding it against the rank: live peers as heard, and this node."""
        holders: dict[IPAddress, set[str]] = {}
        for node, ips in self._peer_holds.items():
            for ip in ips:
                holders.setdefault(ip, set()).add(node)
        if not leaving:
            for ip in self._holding:
                holders.setdefault(ip, set()).add(self._order.node)
        return holders

    def _hold(self, mine: dict[IPAddress, list[IPClaim]]) -> None:
        """Tell the peers which of ``mine`` this node holds against the rank (non-revertive failback)."""
        holding = held(mine, self._order.node)
        if holding != self._holding and self._membership is not None:
            gained, lost = holding - self._holding, self._holding - holding
            log.info(
                "holding %d IPs against the rank (non-revertive failback)%s%s",
                len(holding),
                f"; now also {_listed(gained)}" if gained else "",
                f"; no longer {_listed(lost)}" if lost else "",
            )
            self._membership.set_holds(holding)
        self._holding = holding

    def _released(self, ready: dict[IPAddress, list[IPClaim]]) -> dict[IPAddress, list[IPClaim]]:
        """The IPs given up to a live peer that this node still answers for, with their old claims.

        Only a node that stays a member hands over this way: one whose link is down has no
        wire to answer on.
        """
        assert self._planned is not None
        now = time.monotonic()
        me = self._order.node
        planned = self._planned.ips
        self._releases.reclaim(ip for ip in self._answered if ip in ready or ip not in planned)
        lost = self._claimed - ready.keys()
        if me in self._members:
            taken = successors(
                (c for c in self._planned.claims if c.ip in lost),
                self._members,
                me,
                self._holders(),
                self._ranks,
            )
            given = sorted((ip for ip in lost if ip in taken), key=str)
            for ip in given:
                self._responder.quiet(ip)  # a repeat of our announcement would undo the new owner's
            self._releases.release({ip: taken[ip] for ip in given}, now)
            if given:
                log.info(
                    "handing over %s to %s: answering until they announce, at most %.0f ms",
                    ",".join(map(str, given)),
                    ",".join(sorted({taken[ip] for ip in given})),
                    self._releases.overlap * 1000,
                )
        else:
            self._releases.reclaim(self._answered)
        return {ip: self._answered[ip] for ip in self._releases.answering(now) if ip in self._answered}

    def _probe_first_claims(self, mine: dict[IPAddress, list[IPClaim]]) -> dict[IPAddress, list[IPClaim]]:
        """The IPs of ``mine`` to answer for now; first claims wait out their probe window."""
        now = time.monotonic()
        members, plan_ips = self._previous if self._previous else (frozenset(), None)
        waiting = self._claimed | self._probes.keys()
        new = {ip: claims for ip, claims in mine.items() if ip not in waiting}
        for ip in first_claims(new, self._order.node, self._members, members, plan_ips):
            self._probes[ip] = Probe(now)
        self._probes = {ip: probe for ip, probe in self._probes.items() if ip in mine and not probe.over(now)}
        return {ip: claims for ip, claims in mine.items() if ip not in self._probes}

    def _foreign(self, ip: IPAddress, mac: str, interface: str, probing: bool) -> None:
        """From the responder's thread: note the sighting; the decider accounts for it."""
        with self._sightings_lock:
            first = not self._sightings
            packets = self._sightings.get((ip, mac), ("", False, 0))[2] + 1
            self._sightings[(ip, mac)] = (interface, probing, packets)
        if first:
            self.submit("foreign", None)

    def _account_sightings(self) -> bool:
        """Account for the sightings since the last turn; True when one ended a hand-over."""
        with self._sightings_lock:
            sightings, self._sightings = self._sightings, {}
        now = time.monotonic()
        ended = False
        for (ip, mac), (interface, probing, packets) in sorted(sightings.items(), key=str):
            peer = self._peer_node(mac, now)
            if peer is not None:
                self._peer_claims[str(ip)] += packets
                ended = self._releases.peer_spoke(ip, peer, now) or ended
                continue
            phase = "probe" if probing else "owning"
            report = self._conflicts.seen(str(ip), mac, interface, phase, now, packets=packets)
            if report is not None:  # the Kubernetes half logs it, naming the Services
                self._reports.emit({"conflict": report.to_json()})
        return ended

    def _peer_node(self, mac: str, now: float) -> str | None:
        """The peer speaker whose MAC ``mac`` is, or None; read from the neighbour table, again when stale."""
        read_at, nodes = self._peer_macs
        if mac in nodes and now - read_at < _PEER_MACS_FRESH:
            return nodes[mac]
        if now - read_at >= 1.0:  # a peer that just came may be missing: read again, at most once a second
            table = neighbour_macs()
            hosts = {node: str(ipaddress.ip_address(host)) for node, (host, _port) in self._peers.items()}
            nodes = {mac_to_str(table[host]): node for node, host in hosts.items() if host in table}
            self._peer_macs = (now, nodes)
        return nodes.get(mac)

    def _report_counters(self) -> None:
        counters = self._responder.counters
        snapshot = {
            "requests_received": dict(counters.requests_received),
            "responses_sent": dict(counters.responses_sent),
            "gratuitous_sent": dict(counters.gratuitous_sent),
            "conflicts_received": dict(self._conflicts.packets),
            "peer_claims_received": dict(self._peer_claims),
        }
        membership = self._membership
        if membership is not None:  # refused heartbeats, by reason: what a forged or replayed one did
            snapshot["membership_rejected"] = membership.refused()
            snapshot["peers_declared_dead"] = membership.declared_dead()
        if self._planned is not None:  # how often an order's redefined terms re-termed unlisted Services
            snapshot["redefined_terms_given"] = {"": self._planned.redefined_given}
        if snapshot != self._last_counters:
            self._last_counters = snapshot
            self._reports.emit({"counters": snapshot})

    def _shutdown(self, responder: threading.Thread) -> None:
        if self._membership is not None and self._releases.overlap > 0:
            self._hand_over_and_leave(self._membership)
        self._responder.stop()  # with no overlap: before LEAVE, break before make as it was
        responder.join(2)
        if self._membership is not None:
            self._membership.stop()  # already stopped after a hand-over: nothing more is sent
        self._reports.emit({"stopped": True})

    def _hand_over_and_leave(self, membership: Membership) -> None:
        """Send LEAVE while still answering; stop once every new owner was heard or the overlap ended."""
        me = self._order.node
        leaving: dict[IPAddress, str] = {}
        if self._planned is not None and me in self._members:
            taken = successors(
                self._planned.claims, self._members - {me}, me, self._holders(leaving=True), self._ranks
            )
            leaving = {ip: taken[ip] for ip in self._claimed if ip in taken}
        for ip in leaving:
            self._responder.quiet(ip)
        now = time.monotonic()
        self._releases.release(leaving, now)  # releases under way keep their own deadlines
        membership.stop()  # LEAVE: the peers take over at once
        waiting = self._releases.answering(time.monotonic())
        while waiting:
            deadline = self._releases.next_deadline()
            assert deadline is not None
            try:
                kind, _value = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                kind = "tick"
            if kind == "foreign":
                self._account_sightings()
            waiting = self._releases.answering(time.monotonic())
        if leaving:
            log.info("handed over %d IPs in %.0f ms", len(leaving), (time.monotonic() - now) * 1000)


def _listed(ips: frozenset[IPAddress], most: int = 20) -> str:
    """``ips`` for a log line: the first ``most`` of them, then how many more."""
    shown = sorted(map(str, ips))
    more = f" and {len(shown) - most} more" if len(shown) > most else ""
    return ",".join(shown[:most]) + more


def main() -> int:
    """Read the start order, then serve until SIGTERM, SIGINT or the end of stdin."""
    return serve(lambda order, out: Engine(StartOrder.from_json(order), out))


if __name__ == "__main__":
    raise SystemExit(main())
