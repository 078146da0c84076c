"""Which authenticated datagrams count: known senders, fresh stamps, sane clocks. Pure bookkeeping.

A message counts only if its sender is a known peer, its ``(incarnation, seq)`` is greater than
anything accepted from that sender before (so a replayed datagram is worthless even after the
sender died), and its timestamp is within ``max_clock_skew`` of our wall clock (so a datagram
captured long ago is worthless to a receiver that just restarted and remembers nothing).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from .wire import Message


class ReplayGuard:
    """Admission of the messages of the configured peers; counts what it refuses, by reason."""

    def __init__(self, max_clock_skew: float) -> None:
        self.max_clock_skew_ns = int(max_clock_skew * 1e9)
        self.rejected: Counter[str] = Counter()
        self._peers: frozenset[str] = frozenset()
        self._latest: dict[str, tuple[int, int]] = {}

    def set_peers(self, names: Iterable[str]) -> None:
        """Admit exactly ``names`` from now on (stamps already seen are remembered)."""
        self._peers = frozenset(names)

    def admit(self, message: Message, wall_ns: int) -> bool:
        """True when ``message`` is new and fresh from a known peer; its stamp is then remembered."""
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
        self._latest[name] = stamp
        return True
