"""Who is alive, from authenticated messages and the passage of time. Pure bookkeeping.

A message counts only if its sender is a known peer, its ``(incarnation, seq)`` is greater
than anything accepted from that sender before (so a replayed datagram is worthless even
after the sender died), and its timestamp is within ``max_clock_skew`` of our wall clock (so
a datagram captured long ago is worthless to a receiver that just restarted and remembers
nothing).

It also keeps what each live peer last said it holds (HOLDS, non-revertive failback): a HOLDS
is a sign of life like a heartbeat; its IPs count until the peer says otherwise, restarts, leaves,
dies, or sends no HOLDS for ``dead_after`` (a holder repeats them with every heartbeat).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPAddress

from .wire import Kind, Message, WireError, decode_holds


class Tracker:
    """Liveness of the peers of one node; the node itself is not tracked here."""

    def __init__(self, dead_after: float, max_clock_skew: float) -> None:
        self.dead_after = dead_after
        self.max_clock_skew_ns = int(max_clock_skew * 1e9)
        self.rejected: Counter[str] = Counter()
        self.declared_dead: Counter[str] = Counter()
        """Times each peer was dropped for silence (a LEAVE or a removal from the peers is not)."""
        self._peers: frozenset[str] = frozenset()
        self._last_seen: dict[str, float] = {}
        self._latest: dict[str, tuple[int, int]] = {}
        self._holds: dict[str, tuple[float, frozenset[IPAddress]]] = {}  # name -> (heard at, IPs)

    def set_peers(self, names: Iterable[str]) -> bool:
        """Track exactly ``names`` from now on; True when a live peer was dropped."""
        self._peers = frozenset(names)
        gone = self._last_seen.keys() - self._peers
        for name in gone:
            del self._last_seen[name]
            self._holds.pop(name, None)
        return bool(gone)

    def receive(self, message: Message, now: float, wall_ns: int) -> bool:
        """Account for an authenticated message; True when the live set changed."""
        name = message.sender
        if name not in self._peers:
            self.rejected["unknown"] += 1
            return False
        stamp = (message.incarnation, message.seq)
        if stamp <= self._latest.get(name, (-1, -1)):
            self.rejected["replayed"] += 1
            return False
        if abs(wall_ns - message.sent_at_ns) > self.max_clock_skew_ns:
            self.rejected["stale"] += 1
            return False
        if stamp[0] != self._latest.get(name, stamp)[0]:
            self._holds.pop(name, None)  # a restarted peer holds nothing until it says so
        if message.kind is Kind.HOLDS and not self._hold(message, now):
            return False
        self._latest[name] = stamp
        was_live = name in self._last_seen
        if message.kind is Kind.LEAVE:
            self._last_seen.pop(name, None)
            self._holds.pop(name, None)
            return was_live
        self._last_seen[name] = now
        return not was_live

    def _hold(self, message: Message, now: float) -> bool:
        """Account for a HOLDS message; False (and counted) when its payload is malformed."""
        try:
            ips = decode_holds(message.payload)
        except WireError:
            self.rejected["malformed"] += 1
            return False
        if ips:
            self._holds[message.sender] = (now, ips)
        else:
            self._holds.pop(message.sender, None)
        return True

    def expire(self, now: float) -> bool:
        """Drop peers not heard from for ``dead_after`` seconds; True when any was dropped."""
        dead = [n for n, seen in self._last_seen.items() if now - seen > self.dead_after]
        for name in dead:
            del self._last_seen[name]
            self.declared_dead[name] += 1
        if self._holds:  # the membership loop calls this on every turn: nothing to do without holds
            self._holds = {
                name: (heard, ips)
                for name, (heard, ips) in self._holds.items()
                if name in self._last_seen and now - heard <= self.dead_after
            }
        return bool(dead)

    def live(self) -> frozenset[str]:
        """The peers currently alive."""
        return frozenset(self._last_seen)

    def holds(self) -> Mapping[str, frozenset[IPAddress]]:
        """What each live peer holds against the rank (non-revertive failback), by name."""
        return {name: ips for name, (_heard, ips) in self._holds.items()}

    def next_expiry(self) -> float | None:
        """When the next peer will be declared dead if it stays silent, or None."""
        return min(self._last_seen.values()) + self.dead_after if self._last_seen else None
