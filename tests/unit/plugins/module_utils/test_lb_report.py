import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.lb_report import build_report
from ansible_collections.baremetal.lb.plugins.module_utils.session_states import SessionState, session_object


def obj(kind, name, spec, labels=None):
    return {"kind": kind, "metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def service(namespace, name, *ips, pool=None, kind="LoadBalancer", **spec):
    annotations = {"metallb.io/ip-allocated-from-pool": pool} if pool else {}
    return {
        "metadata": {"namespace": namespace, "name": name, "annotations": annotations},
        "spec": {"type": kind, **spec},
        "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}},
    }


def l2_status(namespace, name, node, *interfaces):
    return {
        "metadata": {"name": f"l2-{node}-{name}", "labels": {"metallb.io/node": node}},
        "status": {
            "node": node,
            "serviceName": name,
            "serviceNamespace": namespace,
            "interfaces": [{"name": i} for i in interfaces],
        },
    }


CONFIG = [
    obj("IPAddressPool", "lan", {"addresses": ["192.0.2.0/24", "2001:db8:1::/64"], "avoidBuggyIPs": True}),
    obj(
        "IPAddressPool",
        "edge",
        {"addresses": ["198.51.100.10-198.51.100.19"], "autoAssign": False},
        {"bgp": "y"},
    ),
    obj("IPAddressPool", "idle", {"addresses": ["203.0.113.0/30"]}),
    obj("L2Advertisement", "l2", {"ipAddressPools": ["lan"]}),
    obj("BGPAdvertisement", "all-bgp", {"ipAddressPoolSelectors": [{"matchLabels": {"bgp": "y"}}]}),
]


def test_pool_usage_counts_distinct_held_addresses_per_family_without_listing_the_pool():
    services = [
        service("shop", "web", "192.0.2.10", "2001:db8:1::10", pool="lan"),
        service("shop", "dns-tcp", "192.0.2.11", pool="lan"),
        service("shop", "dns-udp", "192.0.2.11", pool="lan"),  # shares the address: counted once
        service("ops", "api", "198.51.100.12", pool="edge"),
        service("ops", "pending", pool=None),
        service("ops", "cluster-ip", "192.0.2.99", kind="ClusterIP"),  # not a LoadBalancer
    ]
    report = build_report(CONFIG, services)
    pools = {pool["name"]: pool for pool in report["pools"]}
    # avoidBuggyIPs leaves .0 and .255 out of the IPv4 total, IPv6 is a /64
    assert pools["lan"]["ipv4"] == {"total": 254, "in_use": 2, "free": 252}
    assert pools["lan"]["ipv6"] == {"total": 2**64, "in_use": 1, "free": 2**64 - 1}
    assert pools["lan"]["protocols"] == ["layer2"]
    assert pools["edge"] == {
        "name": "edge",
        "addresses": ["198.51.100.10-198.51.100.19"],
        "auto_assign": False,
        "avoid_buggy_ips": False,
        "protocols": ["bgp"],
        "ipv4": {"total": 10, "in_use": 1, "free": 9},
        "ipv6": {"total": 0, "in_use": 0, "free": 0},
    }
    assert pools["idle"]["protocols"] == []
    assert report["config_errors"] == []


def test_services_with_ips_pool_and_layer2_announcer():
    services = [
        service("shop", "web", "192.0.2.10", "2001:db8:1::10", pool="lan", externalTrafficPolicy="Local"),
        service("ops", "api", "198.51.100.12"),  # no annotation: the pool comes from the address
        service("ops", "pending"),
    ]
    statuses = [l2_status("shop", "web", "node2", "eth1", "eth0"), l2_status("ops", "other", "node1")]
    report = build_report(CONFIG, services, statuses)
    by_name = {svc["name"]: svc for svc in report["services"]}
    web = by_name["web"]
    assert web["ips"] == ["192.0.2.10", "2001:db8:1::10"]
    assert web["pool"] == "lan" and not web["pending"] and web["external_traffic_policy"] == "Local"
    assert web["announcements"] == [
        {
            "ip": "192.0.2.10",
            "family": "IPv4",
            "pool": "lan",
            "layer2": [{"node": "node2", "interfaces": ["eth0", "eth1"], "conflict": None}],
            "failback": "revertive",
            "bgp": None,
        },
        {
            "ip": "2001:db8:1::10",
            "family": "IPv6",
            "pool": "lan",
            "layer2": [{"node": "node2", "interfaces": ["eth0", "eth1"], "conflict": None}],
            "failback": "revertive",
            "bgp": None,
        },
    ]
    assert by_name["api"]["pool"] == "edge"
    assert by_name["api"]["announcements"][0]["layer2"] == []
    assert by_name["pending"] == {
        "namespace": "ops",
        "name": "pending",
        "ips": [],
        "pool": None,
        "load_balancer_class": None,
        "external_traffic_policy": "Cluster",
        "requested_pool": None,
        "pending": True,
        "pending_reason": None,
        "announcements": [],
        "unannounced": None,
    }
    assert [(svc["namespace"], svc["name"]) for svc in report["services"]] == [
        ("ops", "api"),
        ("ops", "pending"),
        ("shop", "web"),
    ]


def test_an_address_nobody_announces_is_reported_with_the_reason():
    # edge is announced over BGP only and there is no BGPPeer (what the legacy converter makes
    # of a BGP pool without peers); lan has an L2Advertisement
    services = [service("ops", "api", "198.51.100.12", pool="edge"), service("shop", "web", "192.0.2.10")]
    report = build_report(CONFIG, services)
    by_name = {svc["name"]: svc for svc in report["services"]}
    reason = "pool 'edge' is announced over BGP only (BGPAdvertisement 'all-bgp') and there is no BGPPeer"
    assert by_name["api"]["unannounced"] == reason
    assert by_name["web"]["unannounced"] is None
    assert report["unannounced"] == [
        f"Service ops/api: 198.51.100.12 from pool 'edge' is announced by no node: {reason}"
    ]


def test_a_pending_service_shows_the_pool_it_asked_for_and_the_controllers_reason():
    asked = service("ops", "t3")
    asked["metadata"]["annotations"]["metallb.io/address-pool"] = "tiny"
    why = 'Failed to allocate IP for "ops/t3": pool "tiny" has no free IPv4 address (...)'
    (reported,) = build_report(CONFIG, [asked], pending_reasons={"ops/t3": why})["services"]
    assert (reported["pending"], reported["requested_pool"], reported["pending_reason"]) == (
        True,
        "tiny",
        why,
    )


def test_service_namespace_filters_the_list_not_the_usage():
    services = [
        service("shop", "web", "192.0.2.10", pool="lan"),
        service("ops", "api", "192.0.2.20", pool="lan"),
    ]
    report = build_report(CONFIG, services, service_namespace="shop")
    assert [svc["name"] for svc in report["services"]] == ["web"]
    assert report["pools"][0]["ipv4"]["in_use"] == 2


def test_addresses_outside_every_pool_and_hostnames():
    svc = service("ops", "odd", "203.0.113.200")
    svc["status"]["loadBalancer"]["ingress"].append({"hostname": "lb.example.com"})
    report = build_report(CONFIG, [svc])
    assert report["services"][0]["ips"] == ["203.0.113.200"]
    assert report["services"][0]["announcements"][0]["pool"] is None
    assert all(pool["ipv4"]["in_use"] == 0 for pool in report["pools"])


def test_pools_are_read_as_the_daemons_read_them():
    config = [
        obj("IPAddressPool", "lan", {"addresses": ["192.0.2.0/28"], "autoAssign": False}, {"zone": "a"}),
        obj("L2Advertisement", "by-label", {"ipAddressPoolSelectors": [{"matchLabels": {"zone": "a"}}]}),
        obj("BGPAdvertisement", "every-pool", {}),
    ]
    (pool,) = build_report(config, [])["pools"]
    assert pool["auto_assign"] is False
    assert pool["protocols"] == ["bgp", "layer2"]


@pytest.mark.parametrize(
    ("config", "pools", "errors"),
    [
        pytest.param(
            [
                obj("IPAddressPool", "lan", {"addresses": ["192.0.2.0/28"]}),
                obj("IPAddressPool", "copy", {"addresses": ["192.0.2.8/29"]}),
            ],
            {"lan": 16, "copy": 8},
            ["IPAddressPool 'copy', spec.addresses[0]: overlaps IPAddressPool 'lan'"],
            id="overlapping pools are both shown",
        ),
        pytest.param(
            [
                obj("IPAddressPool", "lan", {"addresses": ["192.0.2.0/28"]}),
                obj("BGPPeer", "router", {"myASN": 64500, "peerAddress": "192.0.2.254"}),
            ],
            {"lan": 16},
            ["BGPPeer 'router', spec.peerASN: exactly one of peerASN and dynamicASN must be set"],
            id="a broken peer hides no pool",
        ),
        pytest.param(
            [obj("IPAddressPool", "lan", {"addresses": []})],
            {"lan": 0},
            ["IPAddressPool 'lan', spec.addresses: is missing or empty; list at least one CIDR or range"],
            id="a pool without addresses is shown empty",
        ),
    ],
)
def test_an_invalid_configuration_is_reported_as_far_as_it_parses(config, pools, errors):
    report = build_report(config, [])
    assert {pool["name"]: pool["ipv4"]["total"] for pool in report["pools"]} == pools
    assert len(report["config_errors"]) == len(errors)
    for line, start in zip(report["config_errors"], errors, strict=True):
        assert line.startswith(start)


def test_a_broken_configuration_is_reported_and_good_entries_still_counted():
    config = [
        obj("IPAddressPool", "lan", {"addresses": ["192.0.2.0/28", "not-an-address"]}),
        obj("L2Advertisement", "l2", {"ipAddressPools": ["missing"]}),
    ]
    report = build_report(config, [service("a", "b", "192.0.2.1")])
    assert report["pools"][0]["ipv4"] == {"total": 16, "in_use": 1, "free": 15}
    assert report["pools"][0]["addresses"] == ["192.0.2.0/28"]
    assert report["pools"][0]["protocols"] == []  # the advertisement names no pool that exists
    first, second = report["config_errors"]
    assert first.startswith("IPAddressPool 'lan', spec.addresses[1]: ")
    assert first.endswith("; fix or remove the entry")
    assert second == (
        "L2Advertisement 'l2', spec.ipAddressPools[0]: IPAddressPool 'missing' does not exist; "
        "create that pool or fix the name"
    )


def node(name, **labels):
    return {"metadata": {"name": name, "labels": labels}, "status": {"conditions": []}}


def endpoint_slice(namespace, name, *endpoints):
    return {
        "metadata": {"namespace": namespace, "labels": {"kubernetes.io/service-name": name}},
        "endpoints": [{"nodeName": host, "conditions": {"ready": ready}} for host, ready in endpoints],
    }


BGP_CONFIG = [
    *CONFIG,
    obj("Community", "aliases", {"communities": [{"name": "edge", "value": "64512:100"}]}),
    obj("BGPPeer", "tor-a", {"myASN": 64512, "peerASN": 64513, "peerAddress": "192.0.2.1"}),
    obj(
        "BGPPeer",
        "tor-b",
        {
            "myASN": 64512,
            "peerASN": 64512,
            "peerAddress": "192.0.2.2",
            "nodeSelectors": [{"matchLabels": {"rack": "b"}}],
        },
    ),
    obj(
        "BGPAdvertisement", "routed", {"ipAddressPools": ["edge"], "communities": ["edge"], "localPref": 150}
    ),
]
NODES = [node("node1", rack="a"), node("node2", rack="b"), node("node3", rack="b")]


def test_bgp_announcements_say_which_nodes_send_which_prefix_to_which_peer():
    svc = service("ops", "api", "198.51.100.12", pool="edge", externalTrafficPolicy="Local")
    slices = [endpoint_slice("ops", "api", ("node1", True), ("node2", True), ("node3", False))]
    report = build_report(BGP_CONFIG, [svc], nodes=NODES, endpoint_slices=slices)
    (announcement,) = report["services"][0]["announcements"]
    route = {"prefix": "198.51.100.12/32", "communities": ["64512:100"]}
    route = {**route, "session": None}  # no BGPSessionState read: the sessions are not known
    assert announcement["bgp"] == [
        {"node": "node1", "peer": "tor-a", "local_pref": None, **route},  # eBGP: no LOCAL_PREF
        {"node": "node2", "peer": "tor-a", "local_pref": None, **route},
        {"node": "node2", "peer": "tor-b", "local_pref": 150, **route},  # iBGP, rack b only
    ]  # node3's only endpoint is not ready: with policy Local it announces nothing
    assert report["sessions"] is None and report["unestablished"] == []
    assert report["services"][0]["unannounced"] is None


@pytest.mark.parametrize(
    ("nodes", "slices", "bgp"),
    [
        (None, None, None),  # not read: not known
        (NODES, None, None),
        (NODES, [], []),  # no endpoint anywhere: nobody announces
    ],
)
def test_bgp_announcements_are_unknown_without_nodes_and_endpoints(nodes, slices, bgp):
    svc = service("ops", "api", "198.51.100.12", pool="edge")
    report = build_report(BGP_CONFIG, [svc], nodes=nodes, endpoint_slices=slices)
    assert report["services"][0]["announcements"][0]["bgp"] == bgp


# -- BGP sessions, from the speakers' BGPSessionState objects ------------------------------------


def session_state(node, peer, bgp, bfd="N/A"):
    address = {"tor-a": "192.0.2.1", "tor-b": "192.0.2.2"}[peer]
    return session_object(SessionState(node, peer, address, bgp, bfd), "metallb-system")


LOCAL_API = service("ops", "api", "198.51.100.12", pool="edge", externalTrafficPolicy="Local")
ENDPOINTS = [endpoint_slice("ops", "api", ("node1", True), ("node2", True))]
# Routes of 198.51.100.12: node1 -> tor-a, node2 -> tor-a, node2 -> tor-b (rack b only).
WHY = "Service ops/api: 198.51.100.12 is announced over BGP on no Established session"


@pytest.mark.parametrize(
    ("states", "sessions", "unestablished"),
    [
        (  # one Established session carrying the address is enough
            [session_state("node1", "tor-a", "Established", "Up"), session_state("node2", "tor-a", "Active")],
            {("node1", "tor-a"): "Established", ("node2", "tor-a"): "Active", ("node2", "tor-b"): None},
            [],
        ),
        (  # none Established: a warning naming each session's state
            [session_state("node1", "tor-a", "Active"), session_state("node2", "tor-a", "Connect")],
            {("node1", "tor-a"): "Active", ("node2", "tor-a"): "Connect", ("node2", "tor-b"): None},
            [f"{WHY} (node1/tor-a: Active, node2/tor-a: Connect, node2/tor-b: no BGPSessionState)"],
        ),
        (  # an Established session to a peer the address does not go to does not count
            [session_state("node3", "tor-b", "Established")],
            {("node1", "tor-a"): None, ("node2", "tor-a"): None, ("node2", "tor-b"): None},
            [
                f"{WHY} (node1/tor-a: no BGPSessionState, node2/tor-a: no BGPSessionState, "
                "node2/tor-b: no BGPSessionState)"
            ],
        ),
    ],
    ids=["one-established", "none-established", "established-elsewhere"],
)
def test_each_route_says_its_session_and_an_address_on_no_established_session_is_warned(
    states, sessions, unestablished
):
    report = build_report(
        BGP_CONFIG, [LOCAL_API], nodes=NODES, endpoint_slices=ENDPOINTS, session_states=states
    )
    (announcement,) = report["services"][0]["announcements"]
    assert {(r["node"], r["peer"]): r["session"] for r in announcement["bgp"]} == sessions
    assert report["unestablished"] == unestablished


def test_sessions_are_listed_per_node_and_peer_with_bgp_and_bfd_state():
    states = [
        session_state("node2", "tor-b", "OpenSent"),
        session_state("node1", "tor-a", "Established", "Up"),
    ]
    report = build_report(BGP_CONFIG, [], nodes=NODES, endpoint_slices=[], session_states=states)
    assert report["sessions"] == [
        {"node": "node1", "peer": "tor-a", "address": "192.0.2.1", "bgp": "Established", "bfd": "Up"},
        {"node": "node2", "peer": "tor-b", "address": "192.0.2.2", "bgp": "OpenSent", "bfd": "N/A"},
    ]


def test_an_address_nobody_announces_over_bgp_is_not_also_warned_about_sessions():
    report = build_report(BGP_CONFIG, [LOCAL_API], nodes=NODES, endpoint_slices=[], session_states=[])
    assert report["services"][0]["announcements"][0]["bgp"] == []
    assert report["unestablished"] == [] and report["sessions"] == []
