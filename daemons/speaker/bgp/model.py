"""What the speaker is asked to do: peer settings, routes, and what it reports back."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


class DynamicASN(enum.StrEnum):
    """How the peer's AS is learnt when no peer ASN is fixed."""

    NONE = ""
    INTERNAL = "internal"  # the peer's AS must equal ours (iBGP)
    EXTERNAL = "external"  # the peer's AS must differ from ours (eBGP)


@dataclass(frozen=True)
class PeerSettings:
    """One BGP neighbour, as a BGPPeer describes it (times in seconds)."""

    name: str
    my_asn: int
    peer_asn: int | None
    peer_address: str
    router_id: str
    dynamic_asn: DynamicASN = DynamicASN.NONE
    peer_port: int = 179
    source_address: str | None = None
    hold_time: int = 90
    keepalive_time: int | None = None
    connect_time: float = 10.0
    ebgp_multihop: bool = False
    password: str = field(default="", repr=False)
    graceful_restart: bool = False
    restart_time: int = 120

    def __post_init__(self) -> None:
        if self.hold_time != 0 and self.hold_time < 3:
            raise ValueError(f"peer {self.name}: hold time must be 0 or at least 3 s, not {self.hold_time}")
        if self.peer_asn is None and self.dynamic_asn == DynamicASN.NONE:
            raise ValueError(f"peer {self.name}: needs a peer ASN or dynamic ASN")


@dataclass(frozen=True)
class Route:
    """One prefix to announce to a peer; ``next_hop`` None means the session's own address."""

    prefix: Network
    next_hop: Address | None = None
    local_pref: int | None = None
    communities: tuple[int, ...] = ()
    large_communities: tuple[tuple[int, int, int], ...] = ()


class State(enum.StrEnum):
    """RFC 4271 §8 session states."""

    IDLE = "Idle"
    CONNECT = "Connect"
    ACTIVE = "Active"
    OPEN_SENT = "OpenSent"
    OPEN_CONFIRM = "OpenConfirm"
    ESTABLISHED = "Established"


@dataclass(frozen=True)
class SessionStatus:
    """A session's state and counters, as :meth:`BGPSpeaker.sessions` reports them."""

    peer: str
    state: State
    reason: str
    peer_asn: int | None
    hold_time: int | None
    updates_sent: int
    prefixes_announced: int
    notifications_sent: int
    notifications_received: int
    established_transitions: int
