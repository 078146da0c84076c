"""Peers still speaking membership version 1 (all-to-all heartbeats), during a rolling upgrade. Pure.

A version 1 speaker heart-beats every peer and declares one dead after ``dead_after`` of
silence; it does not understand the ring. So a version 2 node treats a peer it hears speaking
version 1 the old way: it heart-beats it in version 1 every interval, keeps it out of the ring,
and counts it alive while heard within ``dead_after``. The peer is one of the ring again as soon
as it speaks version 2 (it was upgraded: its JOIN has a higher incarnation).
"""

from __future__ import annotations

from collections import Counter

from .wire import LEGACY_VERSION, Kind, Message


class LegacyPeers:
    """The version 1 peers of one node and their liveness."""

    def __init__(self, dead_after: float) -> None:
        self.dead_after = dead_after
        self.declared_dead: Counter[str] = Counter()
        """Times each version 1 peer was dropped for silence (a LEAVE or an upgrade is not)."""
        self._names: set[str] = set()
        self._last_seen: dict[str, float] = {}

    @property
    def names(self) -> frozenset[str]:
        """The peers last heard speaking version 1, live or not."""
        return frozenset(self._names)

    def receive(self, message: Message, now: float) -> bool:
        """Account for an admitted message; True when its sender's version changed (1 to 2 or back)."""
        name = message.sender
        if message.version != LEGACY_VERSION:
            if name not in self._names:
                return False
            self._names.discard(name)
            self._last_seen.pop(name, None)
            return True
        changed = name not in self._names
        self._names.add(name)
        if message.kind is Kind.LEAVE:
            self._last_seen.pop(name, None)
        else:
            self._last_seen[name] = now
        return changed

    def set_peers(self, names: frozenset[str]) -> None:
        """Forget peers no longer configured."""
        self._names &= names
        self._last_seen = {n: seen for n, seen in self._last_seen.items() if n in names}

    def expire(self, now: float) -> None:
        """Drop the version 1 peers not heard from for ``dead_after`` seconds."""
        for name in [n for n, seen in self._last_seen.items() if now - seen > self.dead_after]:
            del self._last_seen[name]
            self.declared_dead[name] += 1

    def live(self) -> frozenset[str]:
        """The version 1 peers currently alive."""
        return frozenset(self._last_seen)

    def next_expiry(self) -> float | None:
        """When the next version 1 peer will be declared dead if it stays silent, or None."""
        return min(self._last_seen.values()) + self.dead_after if self._last_seen else None
