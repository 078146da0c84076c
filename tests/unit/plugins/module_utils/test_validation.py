import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.communities import parse_community
from ansible_collections.baremetal.lb.plugins.module_utils.config_errors import InvalidConfigError
from ansible_collections.baremetal.lb.plugins.module_utils.config_model import ClusterResources
from ansible_collections.baremetal.lb.plugins.module_utils.durations import parse_duration
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import cluster_resources
from ansible_collections.baremetal.lb.plugins.module_utils.validation import parse_config, validate_resources


def obj(kind, name, spec, labels=None):
    return {"kind": kind, "metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def pool(name, *addresses, **spec):
    return obj("IPAddressPool", name, {"addresses": list(addresses), **spec})


def peer(name, **spec):
    return obj("BGPPeer", name, {"myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.254", **spec})


def bgp_ad(name, **spec):
    return obj("BGPAdvertisement", name, spec)


GOOD = [
    pool("web", "192.0.2.0/26", "2001:db8::/64", serviceAllocation={"priority": 5, "namespaces": ["shop"]}),
    pool("ops", "198.51.100.10 - 198.51.100.20", autoAssign=False, avoidBuggyIPs=True),
    obj("L2Advertisement", "l2", {"ipAddressPools": ["web"], "interfaces": ["eth0"]}),
    bgp_ad("agg", ipAddressPools=["web"], aggregationLength=26, aggregationLengthV6=64, communities=["edge"]),
    bgp_ad("plain", ipAddressPoolSelectors=[{"matchLabels": {"tier": "ops"}}], localPref=100),
    obj("Community", "aliases", {"communities": [{"name": "edge", "value": "large:64500:1:2"}]}),
    obj("BFDProfile", "fast", {"receiveInterval": 100, "detectMultiplier": 3}),
    peer("r1", bfdProfile="fast", holdTime="9s", nodeSelectors=[{"matchLabels": {"rack": "a"}}]),
    peer("r2", peerASN=None, dynamicASN="external", keepaliveTime="10s"),
]
GOOD[1]["metadata"]["labels"] = {"tier": "ops"}


def test_good_configuration_parses_into_typed_objects():
    resources = cluster_resources(GOOD)
    assert validate_resources(resources) == []
    config = parse_config(resources)
    assert [p.name for p in config.pools] == ["web", "ops"]
    assert config.pools[0].service_allocation.priority == 5
    assert config.pools[1].avoid_buggy_ips and not config.pools[1].auto_assign
    agg, plain = config.bgp_advertisements
    assert agg.pools == {"web"} and str(agg.communities[0]) == "large:64500:1:2"
    assert plain.pools == {"ops"} and plain.local_pref == 100
    assert config.l2_advertisements[0].interfaces == ("eth0",)
    r1, r2 = config.bgp_peers
    assert (r1.hold_time, r1.keepalive_time, r1.bfd_profile) == (9.0, None, "fast")
    assert (r2.dynamic_asn, r2.peer_asn) == ("external", None)
    assert config.bfd_profiles["fast"].receive_interval == 100


def errors_of(*objects, strict=False, nodes=None):
    resources = cluster_resources(list(objects))
    if nodes is not None:
        resources = ClusterResources(**{**resources.__dict__, "nodes": nodes})
    return [(e.kind, e.name, e.path) for e in validate_resources(resources, strict=strict)]


@pytest.mark.parametrize(
    ("objects", "expected"),
    [
        ([pool("a")], [("IPAddressPool", "a", "spec.addresses")]),
        (
            [pool("a", "192.0.2.9-192.0.2.1", "banana")],
            [("IPAddressPool", "a", "spec.addresses[0]"), ("IPAddressPool", "a", "spec.addresses[1]")],
        ),
        (
            [pool("a", "192.0.2.0/24"), pool("b", "10.0.0.0/8", "192.0.2.128/25")],
            [("IPAddressPool", "b", "spec.addresses[1]")],
        ),
        ([pool("a", "192.0.2.0/24", "192.0.2.7-192.0.2.9")], [("IPAddressPool", "a", "spec.addresses[1]")]),
        ([pool("a", "192.0.2.0/24"), pool("a", "10.0.0.0/24")], [("IPAddressPool", "a", "metadata.name")]),
        ([pool("a", "10.0.0.0/24", autoAssign="yes")], [("IPAddressPool", "a", "spec.autoAssign")]),
        (
            [pool("a", "10.0.0.0/24", serviceAllocation={"priority": -1})],
            [("IPAddressPool", "a", "spec.serviceAllocation.priority")],
        ),
        (
            [
                pool(
                    "a",
                    "10.0.0.0/24",
                    serviceAllocation={
                        "serviceSelectors": [{"matchExpressions": [{"key": "k", "operator": "In"}]}]
                    },
                )
            ],
            [("IPAddressPool", "a", "spec.serviceAllocation.serviceSelectors[0].matchExpressions[0].values")],
        ),
        (
            [obj("L2Advertisement", "l2", {"ipAddressPools": ["nope"]})],
            [("L2Advertisement", "l2", "spec.ipAddressPools[0]")],
        ),
        (
            [obj("L2Advertisement", "l2", {"nodeSelectors": [{"matchLabels": {"a b": "c"}}]})],
            [("L2Advertisement", "l2", "spec.nodeSelectors[0].matchLabels[a b]")],
        ),
        (
            [
                pool("a", "192.0.2.0/24", "2001:db8::/64"),
                bgp_ad("x", aggregationLength=23, aggregationLengthV6=48),
            ],
            [
                ("BGPAdvertisement", "x", "spec.aggregationLength"),
                ("BGPAdvertisement", "x", "spec.aggregationLengthV6"),
            ],
        ),
        (
            [pool("a", "192.0.2.0/24"), bgp_ad("x", aggregationLength=33)],
            [("BGPAdvertisement", "x", "spec.aggregationLength")],
        ),
        (
            [pool("a", "192.0.2.0/24"), bgp_ad("x", communities=["70000:1", "nope", "large:1:2"])],
            [("BGPAdvertisement", "x", f"spec.communities[{i}]") for i in range(3)],
        ),
        (
            [bgp_ad("x", aggregationLength=24, serviceSelectors=[{"matchLabels": {"a": "b"}}])],
            [("BGPAdvertisement", "x", "spec.serviceSelectors")],
        ),
        (
            [
                obj("Community", "c1", {"communities": [{"name": "x", "value": "1:1"}]}),
                obj(
                    "Community",
                    "c2",
                    {"communities": [{"name": "x", "value": "1:2"}, {"name": "y", "value": "y"}]},
                ),
            ],
            [
                ("Community", "c2", "spec.communities[0].name"),
                ("Community", "c2", "spec.communities[1].value"),
            ],
        ),
        ([peer("p", dynamicASN="internal")], [("BGPPeer", "p", "spec.peerASN")]),
        ([peer("p", peerASN=None)], [("BGPPeer", "p", "spec.peerASN")]),
        ([peer("p", peerASN=None, dynamicASN="sideways")], [("BGPPeer", "p", "spec.dynamicASN")]),
        ([peer("p", myASN=None)], [("BGPPeer", "p", "spec.myASN")]),
        ([peer("p", holdTime="2s")], [("BGPPeer", "p", "spec.holdTime")]),
        ([peer("p", holdTime="0s")], []),
        ([peer("p", holdTime="30s", keepaliveTime="40s")], [("BGPPeer", "p", "spec.keepaliveTime")]),
        ([peer("p", keepaliveTime="0.5s")], [("BGPPeer", "p", "spec.holdTime")]),
        ([peer("p", holdTime="ninety")], [("BGPPeer", "p", "spec.holdTime")]),
        ([peer("p", bfdProfile="missing")], [("BGPPeer", "p", "spec.bfdProfile")]),
        (
            [
                peer(
                    "p",
                    nodeSelectors=[
                        {"matchExpressions": [{"key": "k", "operator": "Exists", "values": ["v"]}]}
                    ],
                )
            ],
            [("BGPPeer", "p", "spec.nodeSelectors[0].matchExpressions[0].values")],
        ),
        ([peer("p", peerAddress=None)], [("BGPPeer", "p", "spec.peerAddress")]),
        ([peer("p", password="x", passwordSecret={"name": "s"})], [("BGPPeer", "p", "spec.password")]),
        ([peer("p", peerASN=64500, ebgpMultiHop=True)], [("BGPPeer", "p", "spec.ebgpMultiHop")]),
        ([peer("p", routerID="2001:db8::1")], [("BGPPeer", "p", "spec.routerID")]),
        (
            [obj("BFDProfile", "b", {"detectMultiplier": 1, "receiveInterval": 5})],
            [("BFDProfile", "b", "spec.receiveInterval"), ("BFDProfile", "b", "spec.detectMultiplier")],
        ),
        ([obj("BFDProfile", "", {})], [("BFDProfile", "", "metadata.name")]),
    ],
)
def test_every_error_is_reported_with_its_path(objects, expected):
    assert sorted(errors_of(*objects)) == sorted(expected)


def test_host_bits_only_refused_when_strict():
    assert errors_of(pool("a", "192.0.2.37/30")) == []
    assert errors_of(pool("a", "192.0.2.37/30"), strict=True) == [("IPAddressPool", "a", "spec.addresses[0]")]


def test_messages_name_the_other_pool_and_the_fix():
    resources = cluster_resources([pool("a", "192.0.2.0/24"), pool("b", "192.0.2.128/25")])
    with pytest.raises(InvalidConfigError) as raised:
        parse_config(resources)
    (error,) = raised.value.errors
    assert "IPAddressPool 'a' spec.addresses[0] on 192.0.2.128/25" in error.problem
    assert str(error).startswith("IPAddressPool 'b', spec.addresses[0]: overlaps")
    assert "1 error(s)" in str(raised.value)


def test_range_aggregation_uses_the_widest_cidr_of_the_entry():
    # 192.0.2.0-192.0.2.191 is a /25 plus a /26: /25 is accepted, /24 is not.
    assert errors_of(pool("a", "192.0.2.0-192.0.2.191"), bgp_ad("x", aggregationLength=25)) == []
    assert errors_of(pool("a", "192.0.2.0-192.0.2.191"), bgp_ad("x", aggregationLength=24)) != []


LOCAL_PREF_CASES = [
    ({"localPref": 100}, {"localPref": 100}, None, False),
    ({"localPref": 100}, {"localPref": 200}, None, True),
    ({"localPref": 100}, {"localPref": 200, "aggregationLength": 25}, None, False),
    ({"localPref": 100, "peers": ["r1"]}, {"localPref": 200, "peers": ["r2"]}, None, False),
    ({"localPref": 100, "peers": ["r1"]}, {"localPref": 200, "peers": ["r1", "r2"]}, None, True),
    ({"localPref": 100, "serviceSelectors": [{"matchLabels": {"a": "b"}}]}, {"localPref": 200}, None, False),
    (
        {"localPref": 100, "nodeSelectors": [{"matchLabels": {"rack": "a"}}]},
        {"localPref": 200, "nodeSelectors": [{"matchLabels": {"rack": "b"}}]},
        None,
        False,
    ),
    ({"localPref": 100, "nodeSelectors": [{"matchLabels": {"rack": "a"}}]}, {"localPref": 200}, None, True),
    (
        {"localPref": 100, "nodeSelectors": [{"matchLabels": {"rack": "a"}}]},
        {"localPref": 200, "nodeSelectors": [{"matchLabels": {"zone": "z"}}]},
        [{"metadata": {"name": "n1", "labels": {"rack": "a", "zone": "z"}}}],
        True,
    ),
]


@pytest.mark.parametrize(("first", "second", "nodes", "conflict"), LOCAL_PREF_CASES)
def test_local_pref_conflicts_follow_metallb(first, second, nodes, conflict):
    found = errors_of(
        pool("a", "192.0.2.0/24"),
        bgp_ad("one", ipAddressPools=["a"], **first),
        bgp_ad("two", ipAddressPools=["a"], **second),
        nodes=nodes,
    )
    assert found == ([("BGPAdvertisement", "two", "spec.localPref")] if conflict else [])


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("64500:100", (64500, 100)),
        ("65535:65535", (65535, 65535)),
        ("large:4294967295:0:1", (4294967295, 0, 1)),
    ],
)
def test_communities(text, parts):
    assert parse_community(text).parts == parts
    assert str(parse_community(text)) == text


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("1m30s", 90), ("500ms", 0.5), ("0", 0), ("1h", 3600)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "90", "s", "1x", "-1s"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)
