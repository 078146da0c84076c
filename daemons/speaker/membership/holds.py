"""What each live peer holds against the rank (non-revertive failback), as last heard. Pure.

A holder repeats its HOLDS with every heartbeat, to every member of the domain (not only its
ring neighbours: any node may be the one that returns and must let it keep the IPs). Its IPs
count until it says otherwise (an empty HOLDS), starts again (a JOIN, or a version 1 datagram of
a new incarnation), leaves, dies, or repeats nothing for ``fresh_for`` seconds.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPAddress

from .wire import LEGACY_VERSION, Kind, Message

Holds = Mapping[str, frozenset[IPAddress]]


class PeerHolds:
    """The IPs each peer holds against the rank, from admitted messages and the passage of time."""

    def __init__(self, fresh_for: float) -> None:
        self.fresh_for = fresh_for
        self._holds: dict[str, tuple[float, int, frozenset[IPAddress]]] = {}  # name -> (heard, life, IPs)
        self.version = 0
        """Raised each time what some peer holds changes (a HOLDS repeating the same IPs does not)."""

    def receive(self, message: Message, now: float) -> None:
        """Account for an admitted message of any kind from ``message.sender``."""
        name = message.sender
        known = self._holds.get(name)
        restarted = message.kind is Kind.JOIN or (
            message.version == LEGACY_VERSION and known is not None and message.incarnation > known[1]
        )
        if message.kind is not Kind.HOLDS and message.kind is not Kind.LEAVE and not restarted:
            return  # a heartbeat (most datagrams) or another word of the same life: holds unchanged
        if message.kind is Kind.LEAVE or restarted:
            self._holds.pop(name, None)  # a restarted peer holds nothing until it says so
        if message.kind is Kind.HOLDS:
            if message.holds:
                self._holds[name] = (now, message.incarnation, message.holds)
            else:
                self._holds.pop(name, None)
        after = self._holds.get(name)
        if (known[2] if known else None) != (after[2] if after else None):
            self.version += 1

    def expire(self, now: float, live: frozenset[str]) -> None:
        """Forget the holds of peers no longer live or not repeated for ``fresh_for``."""
        if not self._holds:  # the membership loop calls this on every turn: nothing to do without holds
            return
        kept = {
            name: entry
            for name, entry in self._holds.items()
            if name in live and now - entry[0] <= self.fresh_for
        }
        if len(kept) != len(self._holds):
            self._holds = kept
            self.version += 1

    def holds(self) -> Holds:
        """What each peer holds against the rank, by name."""
        return {name: ips for name, (_heard, _life, ips) in self._holds.items()}
