"""The BGP handler's pure decisions: router IDs, routes on the wire, and the engine's orders."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.bfd.settings import BFDSettings
from ansible_collections.baremetal.lb.daemons.speaker.bgp.handler import (
    PeerRefused,
    check_peer,
    router_id,
    wire_route,
)
from ansible_collections.baremetal.lb.daemons.speaker.bgp.model import DynamicASN, PeerSettings, Route
from ansible_collections.baremetal.lb.daemons.speaker.bgp.orders import (
    PeerOrder,
    routes_from_json,
    routes_to_json,
)
from ansible_collections.baremetal.lb.plugins.module_utils import bgp_plan
from ansible_collections.baremetal.lb.plugins.module_utils.communities import parse_community
from ansible_collections.baremetal.lb.plugins.module_utils.config_model import BFDProfile, BGPPeer, Config


@pytest.mark.parametrize(
    ("configured", "node_ipv4", "expected"),
    [
        ("198.51.100.9", "192.0.2.11", "198.51.100.9"),  # the BGPPeer's routerID wins
        (None, "192.0.2.11", "192.0.2.11"),  # else the node's IPv4 InternalIP
    ],
)
def test_router_id_prefers_the_peers_then_the_nodes_address(configured, node_ipv4, expected):
    peer = BGPPeer("p", 64500, 64512, router_id=ipaddress.ip_address(configured) if configured else None)
    assert router_id(peer, node_ipv4, "node1") == expected


def test_an_ipv6_only_node_gets_a_stable_router_id_of_its_own():
    peer = BGPPeer("p", 64500, 64512)
    first, again, other = (router_id(peer, None, n) for n in ("node1", "node1", "node2"))
    assert first == again != other
    assert ipaddress.ip_address(first).version == 4


def test_a_planned_route_goes_on_the_wire_with_classic_and_large_communities_apart():
    planned = bgp_plan.Route(
        ipaddress.ip_network("203.0.113.5/32"),
        100,
        (parse_community("64500:100"), parse_community("large:64500:1:2")),
    )
    assert wire_route(planned) == Route(
        ipaddress.ip_network("203.0.113.5/32"), None, 100, (64500 << 16 | 100,), ((64500, 1, 2),)
    )


@pytest.mark.parametrize("bfd", [None, BFDSettings(receive_interval_ms=100, transmit_interval_ms=100)])
def test_peer_orders_survive_the_pipe(bfd):
    settings = PeerSettings(
        "bird", 64500, None, "192.0.2.201", "192.0.2.11", dynamic_asn=DynamicASN.EXTERNAL, password="s3cret"
    )
    order = PeerOrder(settings, bfd)
    assert PeerOrder.from_json(order.to_json()) == order


def test_routes_survive_the_pipe_in_a_stable_order():
    routes = {
        "frr": [
            Route(ipaddress.ip_network("2001:db8:2::5/128"), None, None, (1,), ((1, 2, 3),)),
            Route(ipaddress.ip_network("203.0.113.5/32"), ipaddress.ip_address("192.0.2.11"), 100),
        ]
    }
    data = routes_to_json(routes)
    assert routes_to_json(routes_from_json(data)) == data
    assert sorted(routes_from_json(data)["frr"], key=str) == sorted(routes["frr"], key=str)


ROUTER = ipaddress.ip_address("192.0.2.201")
WITH_PROFILE = Config(bfd_profiles={"fast": BFDProfile("fast")})


@pytest.mark.parametrize(
    ("fields", "refusal"),
    [
        ({"vrf": "red"}, "vrf 'red'"),
        ({"address": None, "interface": "eth0"}, "interface: unnumbered BGP"),
        ({"bfd_profile": "missing"}, "bfdProfile 'missing' names no BFDProfile"),
        ({"bfd_profile": "fast", "ebgp_multihop": True}, "multi-hop BFD"),
        ({"password_secret": ("pw", "default")}, "passwordSecret default/pw"),
    ],
)
def test_a_peer_the_speaker_cannot_run_is_refused_naming_the_field(fields, refusal):
    peer = BGPPeer("p", 64500, 64512, **{"address": ROUTER, **fields})
    with pytest.raises(PeerRefused, match=refusal):
        check_peer(peer, WITH_PROFILE, "metallb-system")


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"bfd_profile": "fast"},
        {"password_secret": ("pw", "metallb-system")},
        {"password_secret": ("pw", "")},  # no namespace: the speaker's own
        {"password": "inline", "password_secret": ("pw", "default")},  # the inline password wins
    ],
)
def test_a_peer_the_speaker_can_run_passes(fields):
    check_peer(BGPPeer("p", 64500, 64512, address=ROUTER, **fields), WITH_PROFILE, "metallb-system")
