"""Typed MetalLB configuration, as the controller and the speakers use it.

Built from the Kubernetes objects by :func:`.validation.parse_config`, which also checks them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .addresses import IPAddress
from .communities import Community
from .label_selectors import LabelSelector
from .pools import AddressPool

Manifest = Mapping[str, Any]


@dataclass(frozen=True)
class ClusterResources:
    """The configuration objects of a cluster, each a plain dict shaped like the Kubernetes object.

    :func:`.metallb_kinds.cluster_resources` sorts a mixed list of objects into one.

    ``nodes`` and ``namespaces`` are optional; with ``nodes`` the localPref check knows which
    advertisements really share nodes.
    """

    pools: Sequence[Manifest] = ()
    l2_advertisements: Sequence[Manifest] = ()
    bgp_advertisements: Sequence[Manifest] = ()
    bgp_peers: Sequence[Manifest] = ()
    communities: Sequence[Manifest] = ()
    bfd_profiles: Sequence[Manifest] = ()
    nodes: Sequence[Manifest] | None = None


@dataclass(frozen=True)
class NodePreference:
    """One ``preferredNodeSelectors`` entry: the nodes ``preference`` selects gain ``weight`` (1-100)."""

    weight: int
    preference: LabelSelector = field(default_factory=LabelSelector)


@dataclass(frozen=True)
class L2Advertisement:
    """An L2Advertisement: which pools are announced by ARP/NDP, from which nodes and interfaces.

    ``preferred_node_selectors`` order the nodes ``node_selectors`` allow (a soft preference,
    :func:`.l2_plan.preference_scores`); they never make a node eligible. ``failback`` is the
    policy of its ``baremetal.lb/failback`` annotation (:mod:`.failback`).
    """

    name: str
    pools: frozenset[str]
    node_selectors: tuple[LabelSelector, ...] = ()
    interfaces: tuple[str, ...] = ()
    service_selectors: tuple[LabelSelector, ...] = ()
    preferred_node_selectors: tuple[NodePreference, ...] = ()
    failback: str | None = None  # the annotation's policy (:mod:`.failback`), None when not set


@dataclass(frozen=True)
class BGPAdvertisement:
    """A BGPAdvertisement: how the addresses of some pools are announced over BGP."""

    name: str
    pools: frozenset[str]
    aggregation_length: int = 32
    aggregation_length_v6: int = 128
    local_pref: int = 0
    communities: tuple[Community, ...] = ()
    node_selectors: tuple[LabelSelector, ...] = ()
    peers: tuple[str, ...] = ()
    service_selectors: tuple[LabelSelector, ...] = ()


@dataclass(frozen=True)
class BFDProfile:
    """A BFDProfile; intervals in milliseconds, defaults as in MetalLB (FRR's)."""

    name: str
    receive_interval: int = 300
    transmit_interval: int = 300
    detect_multiplier: int = 3
    echo_interval: int = 50
    echo_mode: bool = False
    passive_mode: bool = False
    minimum_ttl: int = 254


@dataclass(frozen=True)
class BGPPeer:
    """A BGPPeer; times in seconds (None: not set, the speaker's defaults apply).

    ``local_asn`` (``localASN``), when set, is the AS number this session presents to the peer
    instead of ``my_asn`` (FRR's ``local-as ASN no-prepend replace-as``); the node's BGP instance
    keeps ``my_asn``.
    """

    name: str
    my_asn: int
    peer_asn: int | None = None
    local_asn: int | None = None
    dynamic_asn: str | None = None
    address: IPAddress | None = None
    interface: str = ""
    source_address: IPAddress | None = None
    port: int = 179
    hold_time: float | None = None
    keepalive_time: float | None = None
    connect_time: float | None = None
    router_id: IPAddress | None = None
    node_selectors: tuple[LabelSelector, ...] = ()
    password: str = ""
    password_secret: tuple[str, str] | None = None
    bfd_profile: str = ""
    ebgp_multihop: bool = False
    graceful_restart: bool = False
    vrf: str = ""
    disable_mp: bool = False
    dual_stack_address_family: bool = False


@dataclass(frozen=True)
class Config:
    """A whole, checked configuration."""

    pools: tuple[AddressPool, ...] = ()
    l2_advertisements: tuple[L2Advertisement, ...] = ()
    bgp_advertisements: tuple[BGPAdvertisement, ...] = ()
    bgp_peers: tuple[BGPPeer, ...] = ()
    bfd_profiles: Mapping[str, BFDProfile] = field(default_factory=dict)
    communities: Mapping[str, Community] = field(default_factory=dict)
