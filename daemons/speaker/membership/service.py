"""The membership loop: send heartbeats, receive and check them, report changes.

Runs in its own thread (:meth:`Membership.start`) or in the caller's (:meth:`Membership.run`)
and does nothing else, so an event-loop stall elsewhere never makes a peer look dead.

A node is a member of its own view only while every watched link is up: when the link it
announces on goes down it sends LEAVE, stops heart-beating (peers take its IPs over at once)
and drops itself (so its own ownership computation gives everything up). Heart-beating
resumes when the link comes back, and the node counts as settled again (:attr:`Membership.settled`)
only once it has had time to hear its peers.

A node holding IPs against the rank (non-revertive failback, :meth:`Membership.set_holds`)
sends them in a HOLDS datagram just before each heartbeat, so a peer that hears the heartbeat
has heard the holds; ``on_holds`` reports what the live peers hold.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPAddress

from ..layer2.link import link_is_up
from .tracker import Tracker
from .wire import Kind, Message, WireError, decode, encode, encode_holds

_LOG = logging.getLogger(__name__)

Address = tuple[str, int]


@dataclass(frozen=True)
class Timing:
    """A detection profile: heartbeat interval, dead-after time, the engine's real-time priority.

    Seconds between heartbeats, seconds of silence after which a peer is dead, and the layer-2
    engine's SCHED_FIFO priority (0: normal), without which a busy CPU delays heartbeats beyond a
    short dead-after time.
    """

    interval: float
    dead_after: float
    realtime_priority: int = 0


PROFILES = {
    # failover ~0.27 s median; 10 heartbeats a second to each peer
    "default": Timing(interval=0.1, dead_after=0.3),
    # failover < 0.1 s median; 40 heartbeats a second to each peer, engine under SCHED_FIFO
    "fast": Timing(interval=0.025, dead_after=0.075, realtime_priority=10),
}
DEFAULT_PROFILE = "default"
INTERVAL = PROFILES[DEFAULT_PROFILE].interval  # the speaker's default
DEAD_AFTER = PROFILES[DEFAULT_PROFILE].dead_after  # the speaker's default
_RECV_BATCH = 256
_LEAVE_COPIES = 2  # one loss must not turn a planned hand-over into a dead-after outage
_MAX_HOLDS_PAYLOAD = 60_000  # bytes: one UDP datagram (about 12,000 IPv4 or 3,500 IPv6 addresses)

Holds = Mapping[str, frozenset[IPAddress]]


class Membership:
    """Heartbeats among the speakers of one layer-2 domain and the live set they yield."""

    def __init__(
        self,
        name: str,
        key: bytes,
        bind: Address,
        peers: Mapping[str, Address],
        *,
        interval: float = INTERVAL,
        dead_after: float = DEAD_AFTER,
        max_clock_skew: float = 30.0,
        watch_links: Sequence[str] = (),
        on_change: Callable[[frozenset[str]], None] | None = None,
        on_holds: Callable[[Holds], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare (not start) membership of ``name``; ``peers`` maps node names to UDP addresses.

        ``on_change`` is called from the membership thread with the new live set (this node
        included while healthy), ``on_holds`` with what the live peers hold, before the live set
        that follows from the same datagrams; keep them quick, e.g. ``queue.put``.
        """
        if not key:
            raise ValueError("an empty key authenticates nothing")
        if dead_after <= interval:
            raise ValueError("dead_after must exceed the heartbeat interval")
        self.name = name
        self.send_errors = 0
        self.forged = 0
        self._key = key
        self._interval = interval
        self._watch_links = tuple(watch_links)
        self._on_change = on_change
        self._on_holds = on_holds
        self._clock = clock
        self._tracker = Tracker(dead_after, max_clock_skew)
        self._incarnation = time.time_ns()
        self._seq = 0
        self._healthy = False
        self._members: frozenset[str] = frozenset()
        self._holds_payload = b""  # what this node holds, as sent
        self._holds_clears = 0  # empty HOLDS still to send after it stopped holding
        self._peer_holds: Holds = {}
        self._started_at: float | None = None
        self._lock = threading.Lock()
        self._family = _family(bind[0])
        self._peers: dict[str, Address] = {}
        self.set_peers(peers)
        self._sock = socket.socket(self._family, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._sock.bind(bind)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def rejected(self) -> Mapping[str, int]:
        """Authenticated messages refused, by reason: replayed, stale, unknown."""
        return self._tracker.rejected

    def refused(self) -> dict[str, int]:
        """Datagrams refused so far, by reason: ``forged`` (malformed or bad HMAC) and :attr:`rejected`'s."""
        with self._lock:
            return {"forged": self.forged, **self._tracker.rejected}

    def declared_dead(self) -> dict[str, int]:
        """Times each peer was declared dead after ``dead_after`` seconds of silence, by name."""
        with self._lock:
            return dict(self._tracker.declared_dead)

    def set_peers(self, peers: Mapping[str, Address]) -> None:
        """Replace the peer list (speakers come and go); this node's own entry is ignored."""
        for host, _unused in peers.values():
            if _family(host) != self._family:
                raise ValueError(f"peer {host} is not of the bind address's family")
        with self._lock:
            self._peers = {n: a for n, a in peers.items() if n != self.name}
            self._tracker.set_peers(self._peers)

    def members(self) -> frozenset[str]:
        """The live nodes as this node sees them now (itself only while its links are up)."""
        with self._lock:
            return self._members

    def set_holds(self, ips: frozenset[IPAddress]) -> None:
        """Tell the peers, from the next heartbeat on, which IPs this node holds against the rank."""
        payload = encode_holds(ips)
        if len(payload) > _MAX_HOLDS_PAYLOAD:
            _LOG.warning(
                "holding %d IPs against the rank: only those fitting one datagram are kept on return of "
                "their first node, the others fail back",
                len(ips),
            )
            payload = encode_holds(sorted(ips, key=lambda ip: ip.packed)[: _MAX_HOLDS_PAYLOAD // 17])
        with self._lock:
            if payload == self._holds_payload:
                return
            self._holds_clears = 0 if payload else _LEAVE_COPIES
            self._holds_payload = payload

    def holds(self) -> Holds:
        """What each live peer holds against the rank, by name."""
        with self._lock:
            return self._peer_holds

    @property
    def settled(self) -> bool:
        """True once a live peer has had time to be heard since this node (re)joined; decide only then."""
        started = self._started_at
        return started is not None and self._clock() - started >= self._tracker.dead_after

    def start(self) -> None:
        """Run the loop in a daemon thread of its own."""
        self._thread = threading.Thread(target=self.run, name=f"membership-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Leave the domain (LEAVE sent) and end the loop; safe from signal handlers and threads."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\x00")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def run(self) -> None:
        """Heart-beat and track peers until :meth:`stop`; then send LEAVE and close."""
        selector = selectors.DefaultSelector()
        selector.register(self._sock, selectors.EVENT_READ)
        selector.register(self._wake_r, selectors.EVENT_READ)
        self._started_at = next_beat = self._clock()
        try:
            while not self._stopping.is_set():
                now = self._clock()
                if now >= next_beat:
                    self._beat()
                    next_beat = max(next_beat + self._interval, now)
                with self._lock:
                    self._tracker.expire(now)
                    expiry = self._tracker.next_expiry()
                self._publish()
                wake_at = next_beat if expiry is None else min(next_beat, expiry)
                for key, _unused in selector.select(max(0.0, wake_at - now)):
                    if key.fileobj is self._sock:
                        self._receive()
                    else:
                        self._drain_wakeups()
        finally:
            if self._healthy:
                self._send_all(Kind.LEAVE, copies=_LEAVE_COPIES)
            selector.close()
            self._sock.close()
            self._wake_r.close()
            self._wake_w.close()

    def _beat(self) -> None:
        healthy = all(link_is_up(link) for link in self._watch_links)
        if healthy:
            if not self._healthy and self._started_at is not None:
                self._started_at = self._clock()  # rejoined: hear the peers (and their holds) first
            self._send_holds()
            self._send_all(Kind.HEARTBEAT)
        elif self._healthy:
            _LOG.warning("a watched link of %s is down: leaving", self.name)
            self._send_all(Kind.LEAVE, copies=_LEAVE_COPIES)
        self._healthy = healthy

    def _send_holds(self) -> None:
        with self._lock:
            payload = self._holds_payload
            if not payload and not self._holds_clears:
                return
            if not payload:
                self._holds_clears -= 1
        self._send_all(Kind.HOLDS, payload=payload)

    def _send_all(self, kind: Kind, copies: int = 1, payload: bytes = b"") -> None:
        with self._lock:
            targets = list(self._peers.values())
        for _unused in range(copies):
            self._seq += 1
            datagram = encode(
                self._key,
                Message(kind, self.name, self._incarnation, self._seq, time.time_ns(), payload),
            )
            for address in targets:
                try:
                    self._sock.sendto(datagram, address)
                except OSError as err:  # ENETUNREACH on a downed link, EPERM from a firewall
                    self.send_errors += 1
                    _LOG.debug("heartbeat to %s: %s", address, err)

    def _receive(self) -> None:
        for _unused in range(_RECV_BATCH):
            try:
                data = self._sock.recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:  # ICMP errors surface here (ECONNREFUSED)
                _LOG.debug("membership receive: %s", err)
                continue
            try:
                message = decode(self._key, data)
            except WireError:
                self.forged += 1
                continue
            with self._lock:
                self._tracker.receive(message, self._clock(), time.time_ns())

    def _publish(self) -> None:
        with self._lock:
            members = self._tracker.live() | ({self.name} if self._healthy else set())
            changed = members != self._members
            self._members = members
            holds = self._tracker.holds()
            holds_changed = holds != self._peer_holds
            self._peer_holds = holds
        if holds_changed and self._on_holds is not None:
            self._on_holds(holds)
        if changed and self._on_change is not None:
            self._on_change(members)

    def _drain_wakeups(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._wake_r.recv(4096):
                pass


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
