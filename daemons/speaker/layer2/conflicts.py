"""Address conflict detection for layer 2 (RFC 5227 in spirit): the decisions, no sockets.

Two moments, two rules:

* **Before a first claim** the engine probes: for :data:`PROBE_WINDOW` seconds it sends
  :data:`PROBE_COUNT` ARP probes (sender IP 0.0.0.0) or duplicate-address-detection
  solicitations (source ``::``) and answers nothing for the IP; any answer from a foreign MAC
  is a conflict. A first claim is an IP no other speaker of ours can have been answering for
  (:func:`first_claims`): one new to the plan, or one whose other candidates were all dead.
  A hand-over from a peer (failover, failback) is never delayed by a probe: failover must stay
  far below its bound, and the ongoing watch covers those IPs from their first moment.
* **While it owns an IP** the responder watches for any ARP packet sent *from* the IP and any
  neighbour advertisement *of* it by another MAC (RFC 5227 §2.4).

A foreign MAC is one that belongs neither to this node nor to a peer speaker (peers are known
from the kernel's neighbour table: the engine heart-beats them). What happens then is decided
here and never a fight: the owner keeps answering (the elected owner stays the owner, so
failover keeps its meaning) and sends nothing extra; it *reports*, through :class:`ConflictLog`:
once when a conflict starts, again at most every :data:`REPEAT_EVERY` seconds while packets keep
coming, and once when no packet was seen for :data:`CLEAR_AFTER` seconds or the IP is no longer
ours.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPAddress
from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import IPClaim

PROBE_WINDOW = 0.2  # seconds a first claim waits for an answer to its probes
PROBE_COUNT = 2  # probes per window, evenly spread, so one lost frame does not blind it
REPEAT_EVERY = 60.0  # a conflict that persists is reported again at most this often
CLEAR_AFTER = 300.0  # a conflict with no packet for this long is over

DETECTED = "detected"
PERSISTS = "persists"
OVER = "over"


def first_claims(
    mine: Mapping[IPAddress, Sequence[IPClaim]],
    me: str,
    live: Collection[str],
    previous_live: Collection[str],
    previous_ips: Collection[IPAddress] | None,
) -> set[IPAddress]:
    """The IPs of ``mine`` no other speaker of ours can have been answering for: probe them first.

    ``previous_ips`` are the IPs of the plan at the previous decision (None before the first
    one), ``previous_live`` the members then. An IP new to the plan is a first claim; otherwise
    it is a first claim only when none of its other candidates was alive then or is now.
    """
    first = set()
    alive = set(live) | set(previous_live)
    for ip, claims in mine.items():
        if previous_ips is not None and ip not in previous_ips:
            first.add(ip)
            continue
        others = set().union(*(claim.candidates for claim in claims)) - {me}
        if not others & alive:
            first.add(ip)
    return first


@dataclass(frozen=True)
class Probe:
    """One probe window: when it started and how many probes went out."""

    started: float
    sent: int = 0

    def probe_due(self, now: float) -> bool:
        """True when the next of the window's probes should go out now."""
        return self.sent < PROBE_COUNT and now >= self.started + self.sent * PROBE_WINDOW / PROBE_COUNT

    def over(self, now: float) -> bool:
        """True once the window has passed: the IP may be claimed."""
        return now >= self.started + PROBE_WINDOW

    def after_sending(self) -> Probe:
        """The same window with one more probe sent."""
        return replace(self, sent=self.sent + 1)


@dataclass(frozen=True)
class ConflictReport:
    """What the engine tells the Kubernetes half about one (IP, foreign MAC) conflict."""

    ip: str
    mac: str
    interface: str
    state: str  # DETECTED, PERSISTS or OVER
    phase: str  # "probe" (answered our probe) or "owning" (seen while we answered for the IP)
    packets: int  # conflicting packets seen from this MAC for this IP so far

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON object."""
        return {
            "ip": self.ip,
            "mac": self.mac,
            "interface": self.interface,
            "state": self.state,
            "phase": self.phase,
            "packets": self.packets,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConflictReport:
        """A report read back from JSON."""
        return cls(
            str(data["ip"]),
            str(data["mac"]),
            str(data["interface"]),
            str(data["state"]),
            str(data["phase"]),
            int(data["packets"]),
        )


@dataclass
class _Conflict:
    interface: str
    phase: str
    last_seen: float
    last_reported: float
    packets: int


class ConflictLog:
    """The conflicts in progress and when each is worth reporting (pure; the caller gives the time)."""

    def __init__(self, repeat_every: float = REPEAT_EVERY, clear_after: float = CLEAR_AFTER) -> None:
        self._repeat_every = repeat_every
        self._clear_after = clear_after
        self._open: dict[tuple[str, str], _Conflict] = {}
        self.packets: Counter[str] = Counter()  # conflicting packets per IP, for the metric

    def seen(
        self, ip: str, mac: str, interface: str, phase: str, now: float, *, packets: int = 1
    ) -> ConflictReport | None:
        """Account for ``packets`` from foreign ``mac`` about ``ip``; a report when it is news."""
        self.packets[ip] += packets
        key = (ip, mac)
        conflict = self._open.get(key)
        if conflict is None:
            self._open[key] = _Conflict(interface, phase, now, now, packets)
            return ConflictReport(ip, mac, interface, DETECTED, phase, packets)
        conflict.packets += packets
        conflict.last_seen = now
        if now - conflict.last_reported < self._repeat_every:
            return None
        conflict.last_reported = now
        return ConflictReport(ip, mac, interface, PERSISTS, phase, conflict.packets)

    def settle(self, now: float, ours: Iterable[str]) -> list[ConflictReport]:
        """End the conflicts gone quiet for ``clear_after`` seconds or about IPs no longer ``ours``."""
        keep = set(ours)
        ended = []
        for (ip, mac), conflict in sorted(self._open.items()):
            if ip not in keep or now - conflict.last_seen >= self._clear_after:
                del self._open[(ip, mac)]
                ended.append(
                    ConflictReport(ip, mac, conflict.interface, OVER, conflict.phase, conflict.packets)
                )
        return ended

    def open(self) -> bool:
        """True while any conflict is in progress."""
        return bool(self._open)
