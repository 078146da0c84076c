"""Make-before-break hand-overs: which IPs a node keeps answering for after giving them up.

When a node gives an IP to another live speaker (it leaves on SIGTERM, it is cordoned, a
failed node ranks first again), stopping at once opens a gap: the new owner answers only once
it has learnt of the change, a few to tens of milliseconds later. So the old owner keeps
answering for the IP (a *release*) until it sees the new owner speak for it on the wire (its
gratuitous ARP or unsolicited NA, from that peer speaker's MAC; another peer speaking for the IP,
say a stale announcement of a former owner, does not count) or until ``overlap`` seconds have
passed, whichever comes first. Clients see both answer for a moment, never neither. A new owner
that is already heard speaking for the IP when the release begins (it learnt of the change
first) ends the release at once.

Pure bookkeeping; the caller supplies the time and the sightings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPAddress

HANDOVER_OVERLAP = 1.0  # seconds a release lasts at most (Kubernetes watches reach speakers apart)


class Releases:
    """The IPs handed over but still answered for, each until its new owner is heard or its deadline."""

    def __init__(self, overlap: float = HANDOVER_OVERLAP) -> None:
        self.overlap = overlap
        self._until: dict[IPAddress, float] = {}
        self._to: dict[IPAddress, str] = {}  # the new owner each release waits for
        self._heard: dict[IPAddress, dict[str, float]] = {}  # when each peer last spoke for the IP

    def release(self, successors: Mapping[IPAddress, str], now: float) -> None:
        """Keep answering for each IP of ``successors`` until its new owner speaks (or the overlap ends)."""
        if self.overlap <= 0:
            return
        for ip, node in successors.items():
            heard = self._heard.get(ip, {}).get(node)
            if ip not in self._until and (heard is None or now - heard > self.overlap):
                self._until[ip] = now + self.overlap
                self._to[ip] = node

    def reclaim(self, ips: Iterable[IPAddress]) -> None:
        """``ips`` are this node's again (or gone from the plan): no release of them continues."""
        for ip in ips:
            self._until.pop(ip, None)
            self._to.pop(ip, None)

    def peer_spoke(self, ip: IPAddress, node: str, now: float) -> bool:
        """The peer speaker of ``node`` spoke for ``ip``; True when that ended a release."""
        self._heard.setdefault(ip, {})[node] = now
        if ip not in self._until or self._to.get(ip) != node:
            return False
        del self._until[ip], self._to[ip]
        return True

    def answering(self, now: float) -> frozenset[IPAddress]:
        """The IPs still released (answered for) at ``now``; expired ones are dropped."""
        self._until = {ip: until for ip, until in self._until.items() if until > now}
        self._to = {ip: node for ip, node in self._to.items() if ip in self._until}
        horizon = now - self.overlap
        heard = (
            (ip, {node: at for node, at in by.items() if at >= horizon}) for ip, by in self._heard.items()
        )
        self._heard = {ip: by for ip, by in heard if by}
        return frozenset(self._until)

    def next_deadline(self) -> float | None:
        """When the earliest release ends unless a peer is heard first, or None."""
        return min(self._until.values(), default=None)
