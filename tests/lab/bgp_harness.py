"""The BGP side of the lab tests: BGPPeers to the lab's routers, a served Service, RIB readings.

Each lab router accepts every node as a dynamic neighbour (lab/routers.py); a test declares
BGPPeers (:class:`BGPConfig`), a pool from the lab's BGP range and a BGPAdvertisement, and reads
what each router really holds (lab/rib.py). Used by tests/lab/test_speaker_bgp*.py; its fixtures
are registered in tests/lab/conftest.py.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import (
    BFD_PROFILE,
    BGP_ADVERTISEMENT,
    BGP_PEER,
    SERVICE_BGP_STATUS,
)
from lab import rib, topology
from tests.lab.controller_harness import metallb_manifest, service_manifest, unique, wait_for
from tests.lab.speaker_harness import NAMESPACE

COMMUNITY = "64512:100"
LARGE = "large:64512:1:2"
PEERS = f"{BGP_PEER.api_path}/namespaces/{NAMESPACE}/{BGP_PEER.plural}"
ADS = f"{BGP_ADVERTISEMENT.api_path}/namespaces/{NAMESPACE}/{BGP_ADVERTISEMENT.plural}"
PROFILES = f"{BFD_PROFILE.api_path}/namespaces/{NAMESPACE}/{BFD_PROFILE.plural}"
STATUSES = f"{SERVICE_BGP_STATUS.api_path}/namespaces/{NAMESPACE}/{SERVICE_BGP_STATUS.plural}"
# Two pools from the lab's BGP range: pools may not overlap.
POOL = "203.0.113.0/27"
BIRD_ONLY_POOL = "203.0.113.32/27"
ROUTE_WAIT = 20
BFD_ROUTERS = ("bird", "frr")  # GoBGP has no BFD
GR_ROUTERS = ("bird", "frr")  # GoBGP keeps stale paths only with its graceful-restart helper configured
BFD_MS, BFD_MULTIPLIER = (
    100,
    3,
)  # seconds for a route to reach or leave every router (sessions connect within 5 s)


class BGPConfig:
    """The BGPPeers and BGPAdvertisements a test declares; removed afterwards."""

    def __init__(self, api: Any, lab: Any) -> None:
        self.api = api
        self.lab = lab
        self.created: list[str] = []

    def bfd_profile(self, **spec: Any) -> str:
        """A BFDProfile."""
        name = unique("bfd")
        self._create(PROFILES, BFD_PROFILE, name, spec)
        return name

    def peer_every_router(self, bfd_profile: str = "", **spec: Any) -> dict[str, str]:
        """One BGPPeer per lab router, with ``bfd_profile`` where the router runs BFD (not GoBGP);
        returns BGPPeer name by router name."""
        return {
            router: self.peer(
                router,
                **({"bfdProfile": bfd_profile} if bfd_profile and router in BFD_ROUTERS else {}),
                **spec,
            )
            for router in self.lab.routers
        }

    def peer(self, router: str, **spec: Any) -> str:
        """A BGPPeer from every node to the lab router ``router`` (short timers); a ``None`` in
        ``spec`` removes that field (e.g. ``peerASN=None`` with ``dynamicASN``). Returns its name."""
        facts = self.lab.routers[router]
        name = unique(f"bgp-{router}")
        body = {
            "myASN": topology.NODE_ASN,
            "peerASN": facts["asn"],
            "peerAddress": facts["ipv4"],
            "holdTime": "9s",
            "connectTime": "1s",
            **spec,
        }
        self._create(PEERS, BGP_PEER, name, {k: v for k, v in body.items() if v is not None})
        return name

    def advertise(self, pool: str, **spec: Any) -> str:
        """A BGPAdvertisement of ``pool``."""
        name = unique("bgp-ad")
        self._create(ADS, BGP_ADVERTISEMENT, name, {"ipAddressPools": [pool], **spec})
        return name

    def _create(self, collection: str, kind: Any, name: str, spec: dict[str, Any]) -> None:
        self.api.request("POST", collection, body=metallb_manifest(kind, name, spec))
        self.created.append(f"{collection}/{name}")

    def cleanup(self) -> None:
        """Delete what this helper created."""
        for path in self.created:
            try:
                self.api.request("DELETE", path)
            except Exception:  # already gone
                continue


@pytest.fixture()
def bgp(cluster: Any, lab: Any) -> Iterator[BGPConfig]:
    """BGPPeers and advertisements, removed afterwards."""
    helper = BGPConfig(cluster.api, lab)
    try:
        yield helper
    finally:
        helper.cleanup()


def next_hops(lab: Any, ip: str) -> dict[str, frozenset[str]]:
    """Per router, the next hops of every path it holds for the IP's host route (an IPv6 path's
    link-local next hop left out: it names the same node as its global one)."""
    return {
        router: frozenset(
            hop for path in paths for hop in path.next_hops if not ipaddress.ip_address(hop).is_link_local
        )
        for router, paths in rib.lab_paths(lab, ip).items()
    }


def node_ips(lab: Any, nodes: Any, version: int = 4) -> frozenset[str]:
    """The LAN addresses (IPv4, or IPv6 with ``version=6``) of ``nodes``."""
    return frozenset(lab.hosts[node][f"ipv{version}"] for node in nodes)


def every_router_via(lab: Any, ip: str, via: frozenset[str]) -> bool:
    """True when every router holds paths to ``ip`` via exactly the addresses ``via``."""
    return all(hops == via for hops in next_hops(lab, ip).values())


@pytest.fixture()
def serve_web(
    lab: Any,
    cluster: Any,
    l2: Any,
    bgp: BGPConfig,
    start_controller: Callable[[], Any],
    speakers: Any,
    namespace: str,
) -> Callable[..., tuple[str, dict[str, str]]]:
    """Call with BGPPeer fields (and ``communities``): Service ``web`` (one pod, Cluster policy,
    unless ``replicas`` and ``service`` fields say otherwise) from a BGP pool, peered with every
    router and advertised with ``advertisement`` fields.

    Returns (its first IP, BGPPeer name by router) once every router holds a path via every node
    (or via the ``announcing`` nodes).
    """

    def serve(
        communities: tuple[str, ...] = (),
        bfd_profile: str = "",
        *,
        pools: tuple[str, ...] = (POOL,),
        advertisement: dict[str, Any] | None = None,
        service: dict[str, Any] | None = None,
        replicas: int = 1,
        announcing: list[str] | None = None,
        **peer: Any,
    ) -> tuple[str, dict[str, str]]:
        pool = cluster.create_pool(unique("bgp"), list(pools))
        peers = bgp.peer_every_router(bfd_profile, **peer)
        bgp.advertise(pool, communities=list(communities), **(advertisement or {}))
        start_controller()
        speakers.start()
        l2.deploy(namespace, "web", replicas=replicas, one_per_node=replicas > 1)
        cluster.create_service(namespace, service_manifest("web", **(service or {})))
        ips = cluster.wait_ips(namespace, "web", count=len((service or {}).get("ipFamilies", "1")))
        nodes = announcing if announcing is not None else lab.nodes
        for ip in ips:
            via = node_ips(lab, nodes, ipaddress.ip_address(ip).version)
            try:
                wait_for(
                    f"every router to hold a path to {ip} via {sorted(via)}",
                    functools.partial(every_router_via, lab, ip, via),
                    timeout=ROUTE_WAIT,
                )
            except AssertionError as late:
                raise AssertionError(f"{late}; the routers held {rib.lab_paths(lab, ip)}") from None
        return ips[0], peers

    return serve


def hops_at(lab: Any, ip: str, routers: tuple[str, ...]) -> list[frozenset[str]]:
    """The next hops of ``routers`` for the IP, in that order."""
    hops = next_hops(lab, ip)
    return [hops[router] for router in routers]


def sessions_up(speaker: Any, lab: Any, routers: tuple[str, ...], protocol: str = "bgp") -> bool:
    """True when ``speaker``'s metrics show its BGP (or BFD) sessions to ``routers`` up."""
    metrics = speaker.metrics()
    return all(
        f'metallb_{protocol}_session_up{{peer="{lab.routers[r]["ipv4"]}"}} 1.0' in metrics for r in routers
    )


def assert_a_path_per_node(lab: Any, ip: str, communities: set[str], large: set[str]) -> None:
    """Every router holds one path to ``ip`` per node, each with these (large) communities and
    the nodes' AS as its origin."""
    for router, paths in rib.lab_paths(lab, ip).items():
        assert len(paths) == len(lab.nodes), f"{router}: {paths}"
        for path in paths:
            assert path.communities == communities, f"{router}: {path}"
            assert path.large_communities == large, f"{router}: {path}"
            assert path.origin_as == topology.NODE_ASN, f"{router}: {path}"
