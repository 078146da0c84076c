"""The membership loop: heart-beat the ring neighbours, receive and check datagrams, report changes.

Runs in its own thread (:meth:`Membership.start`) or in the caller's (:meth:`Membership.run`)
and does nothing else, so an event-loop stall elsewhere never makes a peer look dead. The
protocol's decisions are :class:`~.view.View`'s; this module only moves datagrams and time.
Several members can share one thread (:class:`Driver`): the bench runs hundreds that way.

A node is a member of its own view only while every watched link is up: when the link it
announces on goes down it sends LEAVE, stops heart-beating (peers take its IPs over at once)
and drops itself (so its own ownership computation gives everything up). It joins again, with
a higher incarnation, when the link comes back, and counts as settled (:attr:`Membership.settled`)
only once it has had time to hear its peers.

A node holding IPs against the rank (non-revertive failback, :meth:`Membership.set_holds`)
sends them to every peer in a HOLDS datagram just before each heartbeat, so a peer that hears
the heartbeat has heard the holds; ``on_holds`` reports what the live peers hold.

Peers still speaking version 1 (all-to-all heartbeats, :mod:`.legacy`) are heart-beaten the old
way until they speak version 2, so a rolling upgrade keeps failover; each is named in the log.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import random
import selectors
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPAddress

from ..layer2.link import link_is_up
from .health import LocalHealth
from .holds import Holds, PeerHolds
from .legacy import LegacyPeers
from .replay import ReplayGuard
from .view import LEAVE_COPIES, Outgoing, View
from .wire import LEGACY_VERSION, Kind, Message, WireError, decode, encode, encode_holds

_LOG = logging.getLogger(__name__)

Address = tuple[str, int]


@dataclass(frozen=True)
class Timing:
    """A detection profile: heartbeat interval, dead-after time, the engine's real-time priority.

    Seconds between heartbeats to each ring neighbour, seconds of silence after which a watcher
    suspects a neighbour, and the layer-2 engine's SCHED_FIFO priority (0: normal), without
    which a busy CPU delays heartbeats beyond a short dead-after time.
    """

    interval: float
    dead_after: float
    realtime_priority: int = 0


PROFILES = {
    # failover ~0.25 s median; 40 datagrams a second per node, sent and received, whatever N;
    # the engine under SCHED_FIFO too, so ARP/NDP answers stay under 1 ms with the CPUs busy
    "default": Timing(interval=0.1, dead_after=0.3, realtime_priority=10),
    # failover < 0.1 s median; 160 datagrams a second per node
    "fast": Timing(interval=0.025, dead_after=0.075, realtime_priority=10),
}
DEFAULT_PROFILE = "default"
INTERVAL = PROFILES[DEFAULT_PROFILE].interval  # the speaker's default
DEAD_AFTER = PROFILES[DEFAULT_PROFILE].dead_after  # the speaker's default
REALTIME_PRIORITY = PROFILES[DEFAULT_PROFILE].realtime_priority  # the speaker's default
SUSPICION_FACTOR = 3  # an unconfirmed, unrefuted suspicion is final after this many dead_after
WATCHERS_PER_SIDE = 1  # ring neighbours watched on each side: 4 datagrams per interval per node
DIGEST_EVERY = 2.0  # seconds between full-membership digests to one random peer (heals splits)
LATENESS_HALF_LIFE = 0.5  # seconds for this node's own lateness to fade by half
MISTAKE_HALF_LIFE = 5.0  # seconds for the penalty of a wrong accusation (or a refutation) to fade by half
MISTAKE_PENALTY = 0.5  # slack per mistake, in dead_after
MAX_SLACK_FACTOR = 2.0  # the slack is at most this many dead_after
# How this node's log line about its own stall begins (the soak bench and the tests look for it).
OWN_STALL_LOG = "membership: this node sent no heartbeat for "
_RECV_BATCH = 256
_RECV_SIZE = 65535
_MAX_HOLDS_BODY = 60_000  # bytes: one UDP datagram (about 12,000 IPv4 or 3,500 IPv6 addresses)


class Membership:
    """The ring membership of one node in its layer-2 domain and the live set it yields."""

    def __init__(
        self,
        name: str,
        key: bytes,
        bind: Address,
        peers: Mapping[str, Address],
        *,
        interval: float = INTERVAL,
        dead_after: float = DEAD_AFTER,
        suspicion_timeout: float | None = None,
        watchers_per_side: int = WATCHERS_PER_SIDE,
        digest_every: float = DIGEST_EVERY,
        max_clock_skew: float = 30.0,
        watch_links: Sequence[str] = (),
        on_change: Callable[[frozenset[str]], None] | None = None,
        on_holds: Callable[[Holds], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare (not start) membership of ``name``; ``peers`` maps node names to UDP addresses.

        A neighbour silent for ``dead_after`` is suspected; a suspicion no second watcher
        confirms and the accused does not refute is final after ``suspicion_timeout`` (default
        three times ``dead_after``: a real death is confirmed long before, by its second
        watcher). ``on_change`` is called from the membership thread with the new live set (this
        node included while healthy), ``on_holds`` with what the live peers hold, before the live
        set that follows from the same datagrams; keep them quick, e.g. ``queue.put``.
        """
        if not key:
            raise ValueError("an empty key authenticates nothing")
        if dead_after <= interval:
            raise ValueError("dead_after must exceed the heartbeat interval")
        timeout = SUSPICION_FACTOR * dead_after if suspicion_timeout is None else suspicion_timeout
        self.name = name
        self.send_errors = 0
        self.forged = 0
        self.packets_sent = 0
        self.packets_received = 0
        self._key = key
        self._interval = interval
        self._digest_every = digest_every
        self._dead_after = dead_after
        self._watch_links = tuple(watch_links)
        self._on_change = on_change
        self._on_holds = on_holds
        self._clock = clock
        self._guard = ReplayGuard(max_clock_skew)
        self._view = View(
            name, time.time_ns(), dead_after=dead_after, suspicion_timeout=timeout, per_side=watchers_per_side
        )
        self._legacy = LegacyPeers(dead_after)
        self._peer_holds = PeerHolds(fresh_for=timeout)
        self._random = random.Random()
        self._health = LocalHealth(
            LATENESS_HALF_LIFE, max_slack=MAX_SLACK_FACTOR * dead_after, penalty_half_life=MISTAKE_HALF_LIFE
        )
        self._mistakes = 0  # wrong accusations and refutations accounted for in _health
        self._seq = 0
        self._healthy = False
        self._members: frozenset[str] = frozenset()
        self._published: tuple[int, bool, frozenset[str]] | None = None  # what _members came from
        self._holds_body = b""  # what this node holds, as sent
        self._holds_clears = 0  # empty HOLDS still to send after it stopped holding
        self._holding: frozenset[IPAddress] = frozenset()  # the IPs of _holds_body
        self._holds_published: Holds = {}
        self._holds_version = 0  # the PeerHolds.version of _holds_published
        self._started_at: float | None = None
        self._next_beat = self._next_digest = self._wake_at = 0.0
        self._heartbeat_sent: float | None = None  # when the last heartbeat went out
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
        return self._guard.rejected

    @property
    def incarnation(self) -> int:
        """The current incarnation of this node (raised by each join, rejoin and refutation)."""
        return self._view.incarnation

    def events(self) -> dict[str, int]:
        """What the protocol did so far: accused, refuted, and deaths by how decided (``View.events``)."""
        with self._lock:
            return dict(self._view.events)

    def refused(self) -> dict[str, int]:
        """Datagrams refused so far, by reason: ``forged`` (malformed or bad HMAC) and :attr:`rejected`'s."""
        with self._lock:
            return {"forged": self.forged, **self._guard.rejected}

    def declared_dead(self) -> dict[str, int]:
        """Times each peer was declared dead (however decided, but not when it left), by name."""
        with self._lock:
            counts = self._view.deaths + self._legacy.declared_dead
            return dict(counts)

    def set_peers(self, peers: Mapping[str, Address]) -> None:
        """Replace the peer list (speakers come and go); this node's own entry is ignored."""
        for host, _unused in peers.values():
            if _family(host) != self._family:
                raise ValueError(f"peer {host} is not of the bind address's family")
        with self._lock:
            self._peers = {n: a for n, a in peers.items() if n != self.name}
            self._guard.set_peers(self._peers)
            self._legacy.set_peers(frozenset(self._peers))
            self._view.set_peers(self._peers.keys() - self._legacy.names)

    def members(self) -> frozenset[str]:
        """The live nodes as this node sees them now (itself only while its links are up)."""
        with self._lock:
            return self._members

    def set_holds(self, ips: frozenset[IPAddress]) -> None:
        """Tell the peers, from the next heartbeat on, which IPs this node holds against the rank."""
        body = encode_holds(ips)
        if len(body) > _MAX_HOLDS_BODY:
            _LOG.warning(
                "holding %d IPs against the rank: only those fitting one datagram are kept on return of "
                "their first node, the others fail back",
                len(ips),
            )
            ips = frozenset(sorted(ips, key=lambda ip: ip.packed)[: _MAX_HOLDS_BODY // 17])
            body = encode_holds(ips)
        with self._lock:
            if body == self._holds_body:
                return
            self._holds_clears = 0 if body else LEAVE_COPIES
            self._holds_body = body
            self._holding = ips

    def holds(self) -> Holds:
        """What each live peer holds against the rank, by name."""
        with self._lock:
            return self._holds_published

    @property
    def settled(self) -> bool:
        """True once a live peer has had time to be heard since this node (re)joined; decide only then."""
        started = self._started_at
        return started is not None and self._clock() - started >= self._dead_after

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
        """Heart-beat, watch and gossip until :meth:`stop`; then send LEAVE and close."""
        driver = Driver()
        driver.add(self)
        try:
            driver.run(lambda: not driver.members)
        finally:
            driver.close()

    # -- one turn of the loop (the Driver calls these) -------------------------------------------

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stopping.is_set()

    def begin(self) -> None:
        """Start taking part: the first turn is due now."""
        self._started_at = self._next_beat = self._wake_at = self._clock()
        self._next_digest = self._next_beat + self._digest_every * self._random.random()

    def turn(self) -> float:
        """Read what arrived, do what is due (heartbeat, digest, suspicions, reports); when next due.

        Datagrams are read before silences are judged, and silences are judged as of the moment
        before the read: a heartbeat that waited in the socket while this loop ran late is not
        silence, nor is one that arrived while this thread stood still after the read (a stolen
        vCPU, another thread holding the GIL through a long decode) and waits for the next turn,
        which finds itself late by that stall. Nothing is reported until ``dead_after`` after
        this node (re)joined: a joiner learns the members at once (a neighbour's digest), but a
        holder's HOLDS, repeated every interval, only within that time, and an engine that saw
        every member would decide without them (a failback where none is due).
        """
        now = self._clock()
        self._health.observe(self._wake_at, now)  # late only when woken after _wake_at
        self._receive()
        if now >= self._next_beat:
            self._beat(now)
            self._next_beat = max(self._next_beat + self._interval, now)
        if now >= self._next_digest:
            self._send_digest()
            self._next_digest = now + self._digest_every
        with self._lock:
            mistakes = self._view.mistakes
            for _unused in range(mistakes - self._mistakes):
                self._health.penalize(MISTAKE_PENALTY * self._dead_after, now)
            self._mistakes = mistakes
            self._view.slack = self._health.slack(now)
            outgoing = self._view.tick(now)
            accused = self._accused_silences(outgoing, now)
            deadline = self._view.next_deadline()
            self._legacy.expire(now)
            expiry = self._legacy.next_expiry()
        for name, silence in accused:
            self._log_accusation(name, silence, now)
        self._say(outgoing)
        settle_at = (self._started_at or now) + self._dead_after
        if now >= settle_at:
            self._publish(now)
        due = (self._next_beat, self._next_digest, deadline, expiry, settle_at if now < settle_at else None)
        self._wake_at = min(t for t in due if t is not None)
        return self._wake_at

    def _accused_silences(self, outgoing: list[Outgoing], now: float) -> list[tuple[str, float]]:
        """The members this tick accused (a SUSPECT to everyone), each with how long it was silent."""
        silences = []
        for statement in outgoing:
            record = self._view.record(statement.subject) if statement.kind is Kind.SUSPECT else None
            if record is not None and not statement.to:
                silences.append((statement.subject, now - record.heard_at))
        return silences

    def _log_accusation(self, name: str, silence: float, now: float) -> None:
        """Say whom this node suspects and what it judged by: the silence against its limit and slack."""
        _LOG.warning(
            "membership: suspecting %s: not heard for %.0f ms, more than %.0f ms (dead after) + %.0f ms slack"
            " (%.0f ms for this node's late wake-ups, %.0f ms for its recent mistakes)",
            name,
            silence * 1000,
            self._dead_after * 1000,
            self._view.slack * 1000,
            self._health.lateness(now) * 1000,
            self._health.penalty(now) * 1000,
        )

    def _note_heartbeat(self, sent: float | None) -> None:
        """A heartbeat went out at ``sent`` (None: none could, the node gave itself up).

        Two heartbeats further apart than ``dead_after`` mean this process did not run meanwhile,
        wherever it stopped (in its sleep or in the middle of a turn): its peers may have declared
        it dead, and its log says why.
        """
        previous, self._heartbeat_sent = self._heartbeat_sent, sent
        if sent is not None and previous is not None and sent - previous > self._dead_after:
            _LOG.warning(
                "%s%.0f ms, more than %.0f ms (dead after): its"
                " peers may have declared it dead meanwhile; this process did not run (CPU starvation,"
                " a paused VM or a stolen vCPU, a stopped process)",
                OWN_STALL_LOG,
                (sent - previous) * 1000,
                self._dead_after * 1000,
            )

    def close(self, *, leave: bool = True) -> None:
        """Send LEAVE (unless ``leave`` is False: a crash, for benches) and close the sockets."""
        try:
            if leave:
                with self._lock:
                    outgoing = self._view.leave()
                self._say(outgoing)
                self._say_legacy(Kind.LEAVE, copies=LEAVE_COPIES)
        finally:
            self._sock.close()
            self._wake_r.close()
            self._wake_w.close()

    # -- the protocol's traffic ------------------------------------------------------------------

    def _beat(self, now: float) -> None:
        healthy = all(link_is_up(link) for link in self._watch_links)
        send_holds = False
        with self._lock:
            if healthy and not self._healthy:
                if self._started_at is not None:
                    self._started_at = now  # rejoined: hear the peers (and their holds) first
                outgoing = self._view.join(now)
            elif self._healthy and not healthy:
                _LOG.warning("a watched link of %s is down: leaving", self.name)
                outgoing = self._view.leave()
            else:
                outgoing = []
            if healthy:
                send_holds = bool(self._holds_body or self._holds_clears)
                if send_holds and not self._holds_body:
                    self._holds_clears -= 1
                if send_holds:
                    outgoing.append(Outgoing(Kind.HOLDS))
                outgoing.append(Outgoing(Kind.HEARTBEAT, self._view.watched() + self._view.probed()))
        was_healthy, self._healthy = self._healthy, healthy
        self._say(outgoing)
        if send_holds:
            self._say_legacy(Kind.HOLDS)
        if healthy:
            self._say_legacy(Kind.HEARTBEAT)
        elif was_healthy:
            self._say_legacy(Kind.LEAVE, copies=LEAVE_COPIES)
        self._note_heartbeat(self._clock() if healthy else None)

    def _send_digest(self) -> None:
        """Everything we know, to one random version 2 peer (dead ones too: that heals a split)."""
        with self._lock:
            names = sorted(self._peers.keys() - self._legacy.names)
        if names and self._healthy:
            self._say([Outgoing(Kind.DIGEST, (self._random.choice(names),))])

    def _say(self, outgoing: list[Outgoing]) -> None:
        for statement in outgoing:
            with self._lock:
                peers = self._peers
                legacy = self._legacy.names
                names = statement.to or [n for n in peers if n not in legacy]
                targets = [peers[n] for n in names if n in peers]
                entries = self._view.digest(statement.alive_only) if statement.kind is Kind.DIGEST else ()
                holds = self._holding if statement.kind is Kind.HOLDS else frozenset()
                incarnation = self._view.incarnation
            for _unused in range(statement.copies):
                self._seq += 1
                message = Message(
                    statement.kind,
                    self.name,
                    incarnation,
                    self._seq,
                    time.time_ns(),
                    statement.subject,
                    statement.subject_incarnation,
                    entries,
                    holds,
                )
                self._send(encode(self._key, message), targets)

    def _say_legacy(self, kind: Kind, copies: int = 1) -> None:
        """Tell the version 1 peers in their own words: HEARTBEAT, HOLDS or LEAVE."""
        with self._lock:
            if not self._legacy.names:
                return
            targets = [self._peers[n] for n in self._legacy.names if n in self._peers]
            holds = self._holding if kind is Kind.HOLDS else frozenset()
            incarnation = self._view.incarnation
        for _unused in range(copies):
            self._seq += 1
            message = Message(
                kind, self.name, incarnation, self._seq, time.time_ns(), holds=holds, version=LEGACY_VERSION
            )
            self._send(encode(self._key, message), targets)

    def _send(self, datagram: bytes, targets: list[Address]) -> None:
        for address in targets:
            try:
                self._sock.sendto(datagram, address)
                self.packets_sent += 1
            except OSError as err:  # ENETUNREACH on a downed link, EPERM from a firewall
                self.send_errors += 1
                _LOG.debug("membership datagram to %s: %s", address, err)

    def _receive(self) -> None:
        for _unused in range(_RECV_BATCH):
            try:
                data = self._sock.recv(_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:  # ICMP errors surface here (ECONNREFUSED)
                _LOG.debug("membership receive: %s", err)
                continue
            self.packets_received += 1
            try:
                message = decode(self._key, data)
            except WireError:
                self.forged += 1
                continue
            with self._lock:
                if not self._guard.admit(message, time.time_ns()):
                    continue
                now = self._clock()
                self._peer_holds.receive(message, now)
                if self._legacy.receive(message, now):
                    self._version_changed(message)
                if message.version == LEGACY_VERSION:
                    continue
                outgoing = self._view.receive(message, now)
            self._say(outgoing)

    def _version_changed(self, message: Message) -> None:
        """A peer speaks another membership version than before: ring member or version 1 peer."""
        if message.version == LEGACY_VERSION:
            _LOG.warning(
                "membership peer %s speaks version 1 (not upgraded yet): heart-beating it the old way",
                message.sender,
            )
        else:
            _LOG.info("membership peer %s speaks version 2 now: it joins the ring", message.sender)
        self._view.set_peers(self._peers.keys() - self._legacy.names)

    def _publish(self, now: float) -> None:
        """Report the live set and the holds; only once settled (see :meth:`turn`)."""
        lost: dict[str, str] = {}
        came: frozenset[str] = frozenset()
        with self._lock:
            legacy = self._legacy.live()
            source = (self._view.version, self._healthy, legacy)
            if source != self._published:
                self._published = source
                members = self._view.live() | legacy | ({self.name} if self._healthy else set())
            else:
                members = self._members
            changed = members != self._members
            if changed:
                lost = {name: self._view.buried_because(name) for name in self._members - members}
                came = members - self._members
            self._members = members
            self._peer_holds.expire(now, members)
            holds_changed = self._peer_holds.version != self._holds_version
            if holds_changed:  # a HOLDS with new IPs, or holds ended: the engine must decide with them
                self._holds_version = self._peer_holds.version
                holds = self._holds_published = self._peer_holds.holds()
        if holds_changed and self._on_holds is not None:
            self._on_holds(holds)
        if changed:
            _log_change(self.name, members, lost, came)
        if changed and self._on_change is not None:
            self._on_change(members)

    def _drain_wakeups(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._wake_r.recv(4096):
                pass


_GONE_BECAUSE = {  # View's reasons for a member's end, as the log says them
    "left": "it left (graceful stop)",
    "timed out": "declared dead: suspected, and not refuted in time",
    "confirmed": "declared dead: silent, and a second watcher confirmed it",
    "unopposed": "declared dead: silent, and its other watchers are suspect themselves",
    "gossiped": "declared dead by another member",
    "": "no longer heard (version 1 heartbeats) or configured",
}
_NAMED_UP_TO = 16  # a larger live set is logged by its size


def _log_change(me: str, members: frozenset[str], lost: Mapping[str, str], came: frozenset[str]) -> None:
    """Say which peers stopped being members and why, and which started."""
    now = ",".join(sorted(members)) if len(members) <= _NAMED_UP_TO else f"{len(members)} nodes"
    for name in sorted(lost):
        if name == me:
            _LOG.warning("membership: this node gave itself up (link down); members now %s", now or "none")
        else:
            log = _LOG.info if lost[name] == "left" else _LOG.warning
            log(
                "membership: %s is no longer a member, %s; members now %s",
                name,
                _GONE_BECAUSE[lost[name]],
                now,
            )
    if came:
        names = ",".join("this node" if name == me else name for name in sorted(came))
        _LOG.info("membership: %s joined; members now %s", names, now)


class Driver:
    """Runs the loops of several members in one thread, each with its own socket and timers.

    The speaker runs one member per process; the bench runs many per process, so that the
    interpreter's own cost does not drown the protocol's at hundreds of members on two cores.
    """

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self.members: dict[Membership, float] = {}  # member -> when its next turn is due
        self._extra: dict[int, Callable[[], None]] = {}

    def add(self, member: Membership) -> None:
        """Start ``member``: its first turn is now."""
        member.begin()
        self._selector.register(member._sock, selectors.EVENT_READ, member)
        self._selector.register(member._wake_r, selectors.EVENT_READ, member)
        self.members[member] = member.turn()

    def remove(self, member: Membership, *, leave: bool = True) -> None:
        """Stop ``member``: LEAVE sent (unless ``leave`` is False, a crash) and its sockets closed."""
        del self.members[member]
        self._selector.unregister(member._sock)
        self._selector.unregister(member._wake_r)
        member.close(leave=leave)

    def watch(self, fileobj: socket.socket | int, on_ready: Callable[[], None]) -> None:
        """Call ``on_ready`` from the loop whenever ``fileobj`` is readable (e.g. a command pipe)."""
        self._selector.register(fileobj, selectors.EVENT_READ, on_ready)

    def run(self, done: Callable[[], bool]) -> None:
        """Turn the members as they become due or readable until ``done()``; stopped ones leave."""
        while not done():
            now = time.monotonic()
            timeout = max(0.0, min(self.members.values(), default=now + 1.0) - now)
            ready: set[Membership] = set()
            for key, _unused in self._selector.select(timeout):
                thing = key.data
                if not isinstance(thing, Membership):
                    thing()  # may add or remove members
                elif thing not in self.members:
                    continue  # removed by an earlier callback of this turn
                elif key.fileobj is thing._wake_r:
                    thing._drain_wakeups()
                    if thing.stopping:
                        self.remove(thing)
                else:
                    ready.add(thing)
            now = time.monotonic()
            for member, due in list(self.members.items()):
                if member in ready or due <= now:
                    self.members[member] = member.turn()

    def close(self) -> None:
        """Remove every member (LEAVE sent) and close the selector."""
        try:
            for member in list(self.members):
                self.remove(member)
        finally:
            self._selector.close()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
