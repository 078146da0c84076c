"""The BGP plan: sessions per node, routes per peer, who announces a Service; MetalLB's rules as a table.

Configurations are written in the modules' vocabulary and read by the daemons' own parser, so
pools, pool selectors and Community aliases are resolved exactly as the speaker resolves them.
"""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import parse_address
from ansible_collections.baremetal.lb.plugins.module_utils.announcement import unannounced
from ansible_collections.baremetal.lb.plugins.module_utils.bgp_plan import (
    DEFAULT_LOCAL_PREF,
    Route,
    ServiceBGPStatus,
    is_ibgp,
    merged_routes,
    peers_of_node,
    plan_node,
    plan_service,
    session_families,
)
from ansible_collections.baremetal.lb.plugins.module_utils.communities import parse_community
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_config import declared_objects
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import cluster_resources
from ansible_collections.baremetal.lb.plugins.module_utils.ownership import (
    EXCLUDE_LB_LABEL,
    Endpoint,
    NodeFacts,
    ServiceFacts,
)
from ansible_collections.baremetal.lb.plugins.module_utils.validation import parse_config

ZONE = "topology.kubernetes.io/zone"
NODES = {
    "a": NodeFacts(labels={ZONE: "east", "rack": "1"}),
    "b": NodeFacts(labels={ZONE: "east", "rack": "2"}),
    "c": NodeFacts(labels={ZONE: "west", "rack": "3"}),
}
POOLS = [
    {"name": "v4", "addresses": ["198.51.100.0/24"], "labels": {"family": "4"}},
    {"name": "v6", "addresses": ["2001:db8:1::/64"], "labels": {"family": "6"}},
]
EBGP = {"name": "ebgp", "my_asn": 64512, "peer_asn": 64513, "peer_address": "192.0.2.1"}
IBGP = {"name": "ibgp", "my_asn": 64512, "peer_asn": 64512, "peer_address": "192.0.2.2"}
V6 = {"name": "v6peer", "my_asn": 64512, "peer_asn": 64514, "peer_address": "2001:db8::1"}
EVERYWHERE = (Endpoint("a", True), Endpoint("b", True), Endpoint("c", True))
WEST = [{"match_labels": {ZONE: "west"}}]
EAST = [{"match_labels": {ZONE: "east"}}]


def config(**lists):
    objects = declared_objects({"pools": POOLS, **lists}, "metallb-system")
    return parse_config(cluster_resources(objects))


def service(*ips: str, key: str = "shop/web", **kwargs) -> ServiceFacts:
    facts = {"endpoints": EVERYWHERE, "labels": {"app": "web"}}
    return ServiceFacts(key=key, ips=tuple(parse_address(ip) for ip in ips), **{**facts, **kwargs})


def net(text: str):
    return ipaddress.ip_network(text)


def communities(*texts: str):
    return tuple(parse_community(text) for text in texts)


# -- sessions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer_selectors", "node", "runs"),
    [
        (None, "a", True),  # no nodeSelectors: every node
        (WEST, "c", True),
        (WEST, "a", False),
        ([*WEST, {"match_labels": {"rack": "1"}}], "a", True),  # selectors are ORed
        ([{"match_expressions": [{"key": "rack", "operator": "In", "values": ["2", "3"]}]}], "b", True),
    ],
)
def test_a_node_runs_sessions_with_the_peers_whose_node_selectors_select_it(peer_selectors, node, runs):
    peer = {**EBGP, "node_selectors": peer_selectors} if peer_selectors else EBGP
    found = peers_of_node(config(bgp_peers=[peer]), NODES[node])
    assert [p.name for p in found] == (["ebgp"] if runs else [])


@pytest.mark.parametrize(
    "node",
    [
        NodeFacts(labels={ZONE: "east", EXCLUDE_LB_LABEL: ""}),
        NodeFacts(labels={ZONE: "east"}, network_unavailable=True),
    ],
    ids=["exclude-label", "network-unavailable"],
)
def test_an_excluded_node_keeps_its_sessions_and_announces_nothing(node):
    cfg = config(bgp_peers=[EBGP], bgp_advertisements=[{"name": "all"}])
    nodes = {**NODES, "a": node}
    plan = plan_node(cfg, me="a", nodes=nodes, services=[service("198.51.100.7")])
    assert [p.name for p in plan.sessions] == ["ebgp"]
    assert plan.routes == {"ebgp": ()} and plan.announcements == () and plan.statuses() == ()
    ignoring = plan_node(
        cfg, me="a", nodes=nodes, services=[service("198.51.100.7")], ignore_exclude_label=True
    )
    assert bool(ignoring.announcements) is (not node.network_unavailable)


@pytest.mark.parametrize(
    ("peer", "ibgp"),
    [
        (EBGP, False),
        (IBGP, True),
        ({**EBGP, "local_asn": 64513}, True),  # the session presents localASN
        ({**IBGP, "local_asn": 64999}, False),
        ({**EBGP, "peer_asn": None, "dynamic_asn": "internal"}, True),
        ({**EBGP, "peer_asn": None, "dynamic_asn": "external"}, False),
    ],
)
def test_ibgp_is_the_peer_as_equal_to_the_as_the_session_presents(peer, ibgp):
    assert is_ibgp(config(bgp_peers=[peer]).bgp_peers[0]) is ibgp


@pytest.mark.parametrize(
    ("peer", "families"),
    [
        (EBGP, {4}),
        (V6, {6}),
        ({**EBGP, "dual_stack_address_family": True}, {4, 6}),
        ({**EBGP, "peer_address": None, "interface": "eth1"}, {4, 6}),  # unnumbered
    ],
)
def test_a_session_carries_its_peer_family_unless_dual_stack_or_unnumbered(peer, families):
    assert session_families(config(bgp_peers=[peer]).bgp_peers[0]) == families


# -- routes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("advertisement", "ips", "prefixes"),
    [
        ({}, ["198.51.100.7"], ["198.51.100.7/32"]),
        ({"aggregation_length": 24}, ["198.51.100.7"], ["198.51.100.0/24"]),
        ({"aggregation_length": 24}, ["198.51.100.7", "198.51.100.200"], ["198.51.100.0/24"]),  # once
        (
            {"aggregation_length": 25},
            ["198.51.100.7", "198.51.100.200"],
            ["198.51.100.0/25", "198.51.100.128/25"],
        ),
        ({}, ["2001:db8:1::7"], ["2001:db8:1::7/128"]),
        ({"aggregation_length_v6": 64}, ["2001:db8:1::7", "2001:db8:1::ff:1"], ["2001:db8:1::/64"]),
        (
            {"aggregation_length_v6": 120},
            ["2001:db8:1::7", "2001:db8:1::1ff"],
            ["2001:db8:1::/120", "2001:db8:1::100/120"],
        ),
        (
            {"aggregation_length": 24},
            ["198.51.100.7", "2001:db8:1::7"],
            ["198.51.100.0/24", "2001:db8:1::7/128"],
        ),
    ],
)
def test_prefixes_are_the_addresses_masked_to_the_aggregation_length_once_each(advertisement, ips, prefixes):
    dual = {**EBGP, "dual_stack_address_family": True}
    cfg = config(bgp_peers=[dual], bgp_advertisements=[{"name": "ad", **advertisement}])
    plan = plan_node(cfg, me="a", nodes=NODES, services=[service(*ips)])
    assert [route.prefix for route in plan.routes["ebgp"]] == [net(p) for p in prefixes]


def test_aggregated_addresses_of_several_services_make_one_route():
    cfg = config(bgp_peers=[EBGP], bgp_advertisements=[{"name": "ad", "aggregation_length": 24}])
    services = [service("198.51.100.7", key="shop/web"), service("198.51.100.9", key="shop/api")]
    plan = plan_node(cfg, me="a", nodes=NODES, services=services)
    assert plan.routes == {"ebgp": (Route(net("198.51.100.0/24"), None),)}
    assert plan.statuses() == (
        ServiceBGPStatus("shop/api", "a", ("ebgp",)),
        ServiceBGPStatus("shop/web", "a", ("ebgp",)),
    )


def test_a_peer_gets_only_its_family_unless_dual_stack():
    cfg = config(bgp_peers=[EBGP, V6], bgp_advertisements=[{"name": "ad"}])
    plan = plan_node(cfg, me="a", nodes=NODES, services=[service("198.51.100.7", "2001:db8:1::7")])
    assert {peer: [r.prefix for r in routes] for peer, routes in plan.routes.items()} == {
        "ebgp": [net("198.51.100.7/32")],
        "v6peer": [net("2001:db8:1::7/128")],
    }


@pytest.mark.parametrize(
    ("peer", "local_pref", "sent"),
    [
        (IBGP, 250, 250),
        (IBGP, None, DEFAULT_LOCAL_PREF),  # unset: FRR's default, never 0
        (EBGP, 250, None),  # LOCAL_PREF is not sent on eBGP
    ],
)
def test_local_pref_goes_on_ibgp_sessions_only(peer, local_pref, sent):
    ad = {"name": "ad", "local_pref": local_pref} if local_pref else {"name": "ad"}
    cfg = config(bgp_peers=[peer], bgp_advertisements=[ad])
    plan = plan_node(cfg, me="a", nodes=NODES, services=[service("198.51.100.7")])
    assert [route.local_pref for route in plan.routes[peer["name"]]] == [sent]


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        (["64512:100"], ["64512:100"]),
        (["large:64512:1:2"], ["large:64512:1:2"]),
        (["no-advertise"], ["65535:65282"]),  # a Community alias
        (["large-alias", "64512:100"], ["64512:100", "large:64512:7:8"]),  # standard before large
        (["no-advertise", "65535:65282"], ["65535:65282"]),  # an alias and its value: once
    ],
)
def test_communities_are_literal_or_resolved_aliases(written, sent):
    aliases = [
        {
            "name": "aliases",
            "communities": [
                {"name": "no-advertise", "value": "65535:65282"},
                {"name": "large-alias", "value": "large:64512:7:8"},
            ],
        }
    ]
    cfg = config(
        communities=aliases, bgp_peers=[EBGP], bgp_advertisements=[{"name": "ad", "communities": written}]
    )
    plan = plan_node(cfg, me="a", nodes=NODES, services=[service("198.51.100.7")])
    assert [route.communities for route in plan.routes["ebgp"]] == [communities(*sent)]


def test_two_advertisements_of_one_prefix_make_one_route_with_the_union_of_their_communities():
    cfg = config(
        bgp_peers=[IBGP],
        bgp_advertisements=[
            {"name": "first", "communities": ["64512:1"], "local_pref": 200},
            {"name": "second", "communities": ["64512:2", "64512:1"], "local_pref": 200},
        ],
    )
    plan = plan_node(cfg, me="a", nodes=NODES, services=[service("198.51.100.7")])
    assert [a.advertisement for a in plan.announcements] == ["first", "second"]
    assert plan.routes == {"ibgp": (Route(net("198.51.100.7/32"), 200, communities("64512:1", "64512:2")),)}


def test_advertisements_with_different_aggregation_make_one_route_each():
    cfg = config(
        bgp_peers=[EBGP],
        bgp_advertisements=[
            {"name": "host"},
            {"name": "block", "aggregation_length": 24, "communities": ["64512:24"]},
        ],
    )
    plan = plan_node(cfg, me="a", nodes=NODES, services=[service("198.51.100.7")])
    assert plan.routes == {
        "ebgp": (
            Route(net("198.51.100.0/24"), None, communities("64512:24")),
            Route(net("198.51.100.7/32"), None),
        )
    }


def test_merging_conflicting_local_prefs_keeps_the_highest():
    # Validation refuses this configuration; merged_routes still decides, for lb_info's reports.
    cfg = config(bgp_peers=[IBGP], bgp_advertisements=[{"name": "ad"}])
    announcement = plan_node(cfg, me="a", nodes=NODES, services=[service("198.51.100.7")]).announcements[0]
    low = announcement
    high = type(announcement)(**{**announcement.__dict__, "route": Route(announcement.route.prefix, 300)})
    assert merged_routes([low, high]) == {("a", "ibgp"): (Route(net("198.51.100.7/32"), 300),)}


# -- which advertisements, peers and nodes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("advertisement", "ip", "peers"),
    [
        ({"name": "ad"}, "198.51.100.7", ["ebgp", "ibgp"]),  # no peers filter: every peer
        ({"name": "ad", "peers": ["ibgp"]}, "198.51.100.7", ["ibgp"]),
        ({"name": "ad", "peers": ["missing"]}, "198.51.100.7", []),
        ({"name": "ad", "ip_address_pools": ["v6"]}, "198.51.100.7", []),  # another pool
        (
            {"name": "ad", "ip_address_pool_selectors": [{"match_labels": {"family": "4"}}]},
            "198.51.100.7",
            ["ebgp", "ibgp"],
        ),
        (
            {"name": "ad", "ip_address_pool_selectors": [{"match_labels": {"family": "6"}}]},
            "198.51.100.7",
            [],
        ),
        (
            {"name": "ad", "service_selectors": [{"match_labels": {"app": "web"}}]},
            "198.51.100.7",
            ["ebgp", "ibgp"],
        ),
        ({"name": "ad", "service_selectors": [{"match_labels": {"app": "db"}}]}, "198.51.100.7", []),
    ],
)
def test_advertisements_select_pools_services_and_peers(advertisement, ip, peers):
    cfg = config(bgp_peers=[EBGP, IBGP], bgp_advertisements=[advertisement])
    plan = plan_node(cfg, me="a", nodes=NODES, services=[service(ip)])
    assert sorted(peer for peer, routes in plan.routes.items() if routes) == peers
    assert plan.statuses() == ((ServiceBGPStatus("shop/web", "a", tuple(peers)),) if peers else ())


@pytest.mark.parametrize(
    ("peer_selectors", "ad_selectors", "announcing"),
    [
        (None, None, ["a", "b", "c"]),
        (WEST, None, ["c"]),  # sessions only where the peer selects the node
        (None, EAST, ["a", "b"]),  # routes only from the nodes the advertisement selects
        (WEST, EAST, []),  # no node has both
        (EAST, [{"match_labels": {"rack": "2"}}], ["b"]),
    ],
)
def test_peer_node_selectors_choose_sessions_advertisement_node_selectors_choose_announcers(
    peer_selectors, ad_selectors, announcing
):
    peer = {**EBGP, "node_selectors": peer_selectors} if peer_selectors else EBGP
    ad = {"name": "ad", "node_selectors": ad_selectors} if ad_selectors else {"name": "ad"}
    cfg = config(bgp_peers=[peer], bgp_advertisements=[ad])
    found = plan_service(cfg, service("198.51.100.7"), nodes=NODES)
    assert sorted({a.node for a in found}) == announcing
    for node in NODES:  # the speaker's own plan agrees with the cluster-wide one
        mine = plan_node(cfg, me=node, nodes=NODES, services=[service("198.51.100.7")])
        assert bool(any(mine.routes.values())) is (node in announcing)


# -- traffic policy --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "endpoints", "announcing"),
    [
        (False, EVERYWHERE, ["a", "b", "c"]),
        (False, (Endpoint("c", True),), ["a", "b", "c"]),  # Cluster: every eligible node
        (True, (Endpoint("c", True),), ["c"]),  # Local: nodes with a serving endpoint
        (True, (Endpoint("a", True), Endpoint("b", False)), ["a"]),  # not ready: not serving
        (True, (Endpoint("b", False, serving=True),), ["b"]),  # terminating but still serving
        (True, (Endpoint("a", None),), ["a"]),  # readiness unknown reads as ready
        (False, (Endpoint("a", False),), []),  # nothing serves anywhere: nobody
        (True, (), []),
        (False, (), []),
    ],
)
def test_traffic_policy_decides_which_nodes_announce(local, endpoints, announcing):
    cfg = config(bgp_peers=[EBGP], bgp_advertisements=[{"name": "ad"}])
    svc = service("198.51.100.7", local_traffic_policy=local, endpoints=endpoints)
    assert sorted({a.node for a in plan_service(cfg, svc, nodes=NODES)}) == announcing


def test_local_policy_with_an_excluded_node_hosting_the_only_endpoint_announces_nowhere():
    cfg = config(bgp_peers=[EBGP], bgp_advertisements=[{"name": "ad"}])
    nodes = {**NODES, "c": NodeFacts(labels={ZONE: "west", EXCLUDE_LB_LABEL: "true"})}
    svc = service("198.51.100.7", local_traffic_policy=True, endpoints=(Endpoint("c", True),))
    assert plan_service(cfg, svc, nodes=nodes) == ()


def test_a_service_is_reported_per_node_peer_and_advertisement():
    cfg = config(
        bgp_peers=[EBGP, V6],
        bgp_advertisements=[{"name": "ad", "aggregation_length": 24, "communities": ["64512:7"]}],
    )
    svc = service(
        "198.51.100.7", "2001:db8:1::7", local_traffic_policy=True, endpoints=(Endpoint("b", True),)
    )
    found = plan_service(cfg, svc, nodes=NODES)
    assert [(str(a.ip), a.node, a.peer, str(a.route.prefix), a.route.communities) for a in found] == [
        ("198.51.100.7", "b", "ebgp", "198.51.100.0/24", communities("64512:7")),
        ("2001:db8:1::7", "b", "v6peer", "2001:db8:1::7/128", communities("64512:7")),
    ]


def test_service_bgp_status_has_metallbs_shape():
    status = ServiceBGPStatus("shop/web", "b", ("ebgp", "ibgp"))
    assert status.status() == {
        "node": "b",
        "serviceName": "web",
        "serviceNamespace": "shop",
        "peers": ["ebgp", "ibgp"],
    }
    assert status.labels() == {
        "metallb.io/node": "b",
        "metallb.io/service-name": "web",
        "metallb.io/service-namespace": "shop",
    }


# -- one fact, one place: the unannounced warning agrees with the planner ---------------------------


@pytest.mark.parametrize(
    "lists",
    [
        {"bgp_advertisements": [{"name": "ad"}]},  # no peer
        {"bgp_advertisements": [{"name": "ad", "peers": ["missing"]}], "bgp_peers": [EBGP]},
        {
            "bgp_advertisements": [{"name": "ad", "service_selectors": [{"match_labels": {"app": "db"}}]}],
            "bgp_peers": [EBGP],
        },
        {"bgp_advertisements": [{"name": "ad", "ip_address_pools": ["v6"]}], "bgp_peers": [EBGP]},
        {"bgp_advertisements": [{"name": "ad"}], "bgp_peers": [EBGP]},
    ],
)
def test_unannounced_warning_holds_exactly_when_the_planner_finds_no_announcement(lists):
    cfg = config(**lists)
    svc = service("198.51.100.7")
    assert (unannounced(cfg, "v4", svc.labels) is None) is bool(plan_service(cfg, svc, nodes=NODES))
