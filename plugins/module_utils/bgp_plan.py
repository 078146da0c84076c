"""What each node announces over BGP, to which peers, with which attributes: pure decisions, no I/O.

The speaker (for its sessions, routes and ServiceBGPStatus objects), ``lb_info`` (who announces
a Service) and the tests share these rules, which follow MetalLB's speaker:

* **Sessions.** A node runs a session with every BGPPeer whose ``nodeSelectors`` select it
  (none: every node) -- :func:`peers_of_node`. Excluded nodes (NetworkUnavailable, or the label
  ``node.kubernetes.io/exclude-from-external-load-balancers`` unless ignored) keep their sessions
  and announce nothing, as MetalLB's do: the routes leave the routers by an UPDATE at once,
  whereas closing a session with graceful restart would leave them there as stale routes.
* **Which advertisements.** The BGPAdvertisements that select the address's pool and the
  Service (:func:`.advertised.selecting`), and among them those whose ``nodeSelectors`` select
  the node; each sends to the peers its ``peers`` list names (empty: every peer of the node).
* **Traffic policy** (:func:`.ownership.eligible_nodes`): no endpoint able to serve anywhere,
  nobody announces; ``Cluster``: every eligible node announces; ``Local``: only eligible nodes
  with such an endpoint (the router spreads over them by ECMP).
* **Route.** Prefix: the address masked to the advertisement's ``aggregationLength`` (IPv4) or
  ``aggregationLengthV6`` (IPv6). LOCAL_PREF only on iBGP sessions (:func:`is_ibgp`: the peer's
  AS equals the AS the session presents, or ``dynamicASN: internal``), ``localPref`` or, when
  it is 0 (unset), 100 -- what MetalLB's default FRR mode sends (its native mode would send 0,
  the least preferred value). Communities: ``AA:NN`` and ``large:G:L1:L2`` values and
  Community aliases, resolved by :mod:`.validation` (MetalLB knows no well-known names such as
  ``no-export`` of its own: users define them as Community aliases, e.g. ``65535:65281``).
* **Families.** A session carries the prefixes of its peer address's family only, unless the
  peer sets ``dualStackAddressFamily`` or is unnumbered (``interface``): then both (IPv6 routes
  in MP_REACH_NLRI over an IPv4 session), as MetalLB configures FRR.
* **One route per prefix and peer.** MetalLB makes one advertisement per IP and
  BGPAdvertisement and its sessions keep one route per prefix: when several advertisements (or
  several addresses aggregated into one prefix) yield the same prefix for a peer, the route
  carries the union of their communities; differing localPrefs are refused by validation
  (:mod:`.validation`) and by MetalLB's speaker (``conflictingAdvertisements``), and where an
  unvalidated configuration still has them (``lb_info`` reports those too) the highest wins,
  where MetalLB's native session would keep whichever came first.

:class:`Announcement` is one advertisement's route for one IP of one Service, from one node to
one peer; :func:`merged_routes` folds announcements into the routes sent. :func:`plan_node` is
the speaker's whole plan for its node; :func:`plan_service` is the announcements of one Service,
from every node (``lb_info``) or from some.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from .addresses import IPAddress
from .advertised import pool_of_address, selected, selecting
from .communities import Community
from .config_model import BGPAdvertisement, BGPPeer, Config
from .ownership import NodeFacts, ServiceFacts, eligible_nodes
from .status_objects import BGP_STATUS_KIND, status_labels

# Union, not `|`: ansible-test's pylint misreads `|` between classes outside annotations.
Prefix = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]  # noqa: UP007

DEFAULT_LOCAL_PREF = 100  # sent on iBGP when localPref is unset, as FRR does
DYNAMIC_INTERNAL = "internal"


@dataclass(frozen=True)
class Route:
    """One route as a session sends it: prefix and path attributes."""

    prefix: Prefix
    local_pref: int | None  # None: not sent (eBGP)
    communities: tuple[Community, ...] = ()  # sorted, each once: standard before large


@dataclass(frozen=True)
class Announcement:
    """One BGPAdvertisement's route for one IP of one Service, from one node to one peer."""

    service: str  # namespace/name
    ip: IPAddress
    node: str
    peer: str  # BGPPeer name
    advertisement: str  # BGPAdvertisement name
    route: Route


@dataclass(frozen=True)
class ServiceBGPStatus:
    """What a speaker writes for one Service it announces: MetalLB's ServiceBGPStatus.

    One object per Service and node, named ``bgp-`` + a generated suffix, with the labels of
    :meth:`labels`, ``status`` as :meth:`status` says, and none for a Service the node announces
    to no peer. ``peers`` are the peers the Service is configured to be announced to, whatever
    their sessions' state (MetalLB: "the service being actually advertised to a given peer
    depends on the session state and is not indicated here").
    """

    service: str  # namespace/name
    node: str
    peers: tuple[str, ...]  # sorted BGPPeer names

    def labels(self) -> dict[str, str]:
        """The labels MetalLB puts on the object (the same as on ServiceL2Status objects)."""
        return status_labels(self.service, self.node)

    def status(self) -> dict[str, Any]:
        """The object's ``status``, field for field as MetalLB writes it."""
        return BGP_STATUS_KIND.status(self.service, self.node, self.peers)


@dataclass(frozen=True)
class NodePlan:
    """Everything one node's speaker does over BGP."""

    node: str
    sessions: tuple[BGPPeer, ...]  # the peers this node runs a session with, in config order
    announcements: tuple[Announcement, ...]
    # BGPPeer name -> the routes to send it, sorted; every session has an entry, maybe empty
    routes: Mapping[str, tuple[Route, ...]] = field(default_factory=dict)

    def statuses(self) -> tuple[ServiceBGPStatus, ...]:
        """The ServiceBGPStatus objects this node keeps, by Service key."""
        peers: dict[str, set[str]] = {}
        for item in self.announcements:
            peers.setdefault(item.service, set()).add(item.peer)
        return tuple(ServiceBGPStatus(key, self.node, tuple(sorted(peers[key]))) for key in sorted(peers))


def peers_of_node(config: Config, node: NodeFacts) -> tuple[BGPPeer, ...]:
    """The BGPPeers whose ``nodeSelectors`` select ``node`` (none: every node), in config order.

    Exclusion (NetworkUnavailable, the exclude label) does not end sessions: an excluded node
    keeps them and announces nothing (see the module's docstring).
    """
    return tuple(peer for peer in config.bgp_peers if selected(peer.node_selectors, node.labels))


def is_ibgp(peer: BGPPeer) -> bool:
    """Return True when the session with ``peer`` is internal (the one that carries LOCAL_PREF).

    The AS the session presents is ``localASN`` when set, else ``myASN``; with ``dynamicASN``
    the peer's AS is learned from its OPEN, but ``internal`` / ``external`` already says which.
    """
    if peer.dynamic_asn:
        return peer.dynamic_asn == DYNAMIC_INTERNAL
    return peer.peer_asn == (peer.local_asn or peer.my_asn)


def session_families(peer: BGPPeer) -> frozenset[int]:
    """The IP versions whose prefixes the session with ``peer`` carries."""
    if peer.address is None or peer.interface or peer.dual_stack_address_family:
        return frozenset({4, 6})
    return frozenset({peer.address.version})


def prefix_of(ip: IPAddress, advertisement: BGPAdvertisement) -> Prefix:
    """``ip`` masked to the advertisement's aggregation length for its family."""
    length = advertisement.aggregation_length if ip.version == 4 else advertisement.aggregation_length_v6
    return ipaddress.ip_network(f"{ip}/{length}", strict=False)


def route_for(ip: IPAddress, advertisement: BGPAdvertisement, peer: BGPPeer) -> Route:
    """The route ``advertisement`` makes for ``ip`` on the session with ``peer``."""
    local_pref = (advertisement.local_pref or DEFAULT_LOCAL_PREF) if is_ibgp(peer) else None
    return Route(prefix_of(ip, advertisement), local_pref, _sorted_communities(advertisement.communities))


def sends_to(advertisement: BGPAdvertisement, peer: BGPPeer) -> bool:
    """Return True when ``advertisement``'s ``peers`` list names ``peer``, or is empty."""
    return not advertisement.peers or peer.name in advertisement.peers


def advertised_peers(config: Config, advertisement: BGPAdvertisement) -> tuple[BGPPeer, ...]:
    """The BGPPeers ``advertisement`` sends to (:func:`sends_to`), in config order."""
    return tuple(peer for peer in config.bgp_peers if sends_to(advertisement, peer))


def merged_routes(items: Iterable[Announcement]) -> dict[tuple[str, str], tuple[Route, ...]]:
    """(node, peer) -> the routes sent: one per prefix, communities united, the highest localPref."""
    merged: dict[tuple[str, str], dict[Prefix, Route]] = {}
    for item in items:
        routes = merged.setdefault((item.node, item.peer), {})
        known = routes.get(item.route.prefix)
        routes[item.route.prefix] = item.route if known is None else _merge(known, item.route)
    return {
        key: tuple(routes[prefix] for prefix in _sorted_prefixes(routes)) for key, routes in merged.items()
    }


def plan_node(
    config: Config,
    me: str,
    nodes: Mapping[str, NodeFacts],
    services: Sequence[ServiceFacts],
    ignore_exclude_label: bool = False,
) -> NodePlan:
    """The sessions, routes and announcements of node ``me``.

    ``nodes`` holds every Node's facts by name, ``services`` the served Services' facts.
    """
    sessions = peers_of_node(config, nodes.get(me, NodeFacts()))
    # Without a session or a BGPAdvertisement ``me`` announces nothing: a layer-2-only speaker
    # skips the walk over every Service.
    found = tuple(
        item
        for service in (services if sessions and config.bgp_advertisements else ())
        for item in plan_service(
            config, service, nodes=nodes, announcers=(me,), ignore_exclude_label=ignore_exclude_label
        )
    )
    merged = merged_routes(found)
    routes = {peer.name: merged.get((me, peer.name), ()) for peer in sessions}
    return NodePlan(me, sessions, found, routes)


def plan_service(
    config: Config,
    service: ServiceFacts,
    *,
    nodes: Mapping[str, NodeFacts],
    announcers: Iterable[str] | None = None,
    ignore_exclude_label: bool = False,
) -> tuple[Announcement, ...]:
    """Every announcement of ``service`` from the nodes among ``announcers`` (nodes with a speaker).

    ``nodes`` holds the facts (labels, conditions) of every Node (a name missing from it has
    none); ``announcers`` defaults to all of them. Ordered by IP (as in the Service's status),
    node, advertisement (config order), then peer (config order).
    """
    speakers = sorted(nodes if announcers is None else announcers)
    return tuple(
        Announcement(service.key, ip, node, peer.name, ad.name, route_for(ip, ad, peer))
        for ip, ads in _advertisements_by_ip(config, service)
        for node in sorted(
            eligible_nodes(
                speakers=speakers,
                nodes=nodes,
                advertised_to=speakers,  # each advertisement's nodeSelectors are applied below
                endpoints=service.endpoints,
                local_traffic_policy=service.local_traffic_policy,
                ignore_exclude_label=ignore_exclude_label,
            )
        )
        for ad in ads
        if selected(ad.node_selectors, nodes.get(node, NodeFacts()).labels)
        for peer in peers_of_node(config, nodes.get(node, NodeFacts()))
        if sends_to(ad, peer) and ip.version in session_families(peer)
    )


def _advertisements_by_ip(
    config: Config, service: ServiceFacts
) -> Iterator[tuple[IPAddress, list[BGPAdvertisement]]]:
    for ip in service.ips:
        ads = selecting(config.bgp_advertisements, pool_of_address(config, service, ip), service.labels)
        if ads:
            yield ip, ads


def _merge(first: Route, second: Route) -> Route:
    prefs = [pref for pref in (first.local_pref, second.local_pref) if pref is not None]
    return Route(
        first.prefix,
        max(prefs) if prefs else None,
        _sorted_communities((*first.communities, *second.communities)),
    )


def _sorted_communities(communities: Iterable[Community]) -> tuple[Community, ...]:
    return tuple(sorted(set(communities), key=lambda community: (community.is_large, community.parts)))


def _sorted_prefixes(prefixes: Iterable[Prefix]) -> list[Prefix]:
    # the address as an integer: the same order as the address objects', compared in C
    return sorted(
        prefixes, key=lambda prefix: (prefix.version, int(prefix.network_address), prefix.prefixlen)
    )
