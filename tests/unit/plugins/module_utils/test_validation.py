from pathlib import Path

import pytest
import yaml

from ansible_collections.baremetal.lb.plugins.module_utils.communities import parse_community
from ansible_collections.baremetal.lb.plugins.module_utils.config_errors import InvalidConfigError
from ansible_collections.baremetal.lb.plugins.module_utils.config_model import ClusterResources
from ansible_collections.baremetal.lb.plugins.module_utils.durations import parse_duration
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import cluster_resources
from ansible_collections.baremetal.lb.plugins.module_utils.validation import (
    SERVICE_ALLOCATION_FIELDS,
    SPEC_FIELDS,
    parse_config,
    validate_resources,
)


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


# Inputs `python -m bench.fuzz --target config` found raising AttributeError or TypeError instead
# of a ConfigError: each is kept as found, minimised to the object that did it.
@pytest.mark.parametrize(
    ("objects", "expected"),
    [
        (
            [obj("Community", "c", {"communities": [{"name": "edge", "value": "1:2"}, "internal"]})],
            [("Community", "c", "spec.communities[1]")],
        ),
        ([peer("p", passwordSecret=float("inf"))], [("BGPPeer", "p", "spec.passwordSecret")]),
        ([peer("p", passwordSecret={"name": ["s"]})], [("BGPPeer", "p", "spec.passwordSecret")]),
        (
            [
                peer(
                    "p", nodeSelectors=[{"matchExpressions": [{"key": "k", "operator": [], "values": ["a"]}]}]
                )
            ],
            [("BGPPeer", "p", "spec.nodeSelectors[0].matchExpressions[0].operator")],
        ),
        (
            [obj("IPAddressPool", "a", {"addresses": ["192.0.2.0/24"]}, labels=["tier"])],
            [("IPAddressPool", "a", "metadata.labels")],
        ),
    ],
    ids=[
        "community-not-a-mapping",
        "secret-not-a-mapping",
        "secret-name-not-text",
        "operator-unhashable",
        "labels-not-a-mapping",
    ],
)
def test_fuzz_crashers_are_refused_with_their_path(objects, expected):
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


SELECT_A = {"matchLabels": {"a": "b"}}
V6_POOL = pool("v6", "2001:db8::/120")
ECHO = obj("BFDProfile", "echo", {"echoMode": True})


@pytest.mark.parametrize(
    ("objects", "expected"),
    [
        # Duplicate label selectors, refused everywhere as MetalLB and the API server (sets) do.
        (
            [obj("L2Advertisement", "l2", {"nodeSelectors": [SELECT_A, {}, SELECT_A]})],
            [("L2Advertisement", "l2", "spec.nodeSelectors[2]")],
        ),
        (
            [obj("L2Advertisement", "l2", {"serviceSelectors": [SELECT_A, SELECT_A]})],
            [("L2Advertisement", "l2", "spec.serviceSelectors[1]")],
        ),
        (
            [pool("a", "192.0.2.0/24"), bgp_ad("x", ipAddressPoolSelectors=[SELECT_A, SELECT_A])],
            [("BGPAdvertisement", "x", "spec.ipAddressPoolSelectors[1]")],
        ),
        (
            [pool("a", "192.0.2.0/24", serviceAllocation={"namespaceSelectors": [SELECT_A, SELECT_A]})],
            [("IPAddressPool", "a", "spec.serviceAllocation.namespaceSelectors[1]")],
        ),
        ([peer("p", nodeSelectors=[SELECT_A, SELECT_A])], [("BGPPeer", "p", "spec.nodeSelectors[1]")]),
        (
            [peer("p", nodeSelectors=[{"matchExpressions": [{"key": "k", "operator": "Exists"}] * 2}])],
            [("BGPPeer", "p", "spec.nodeSelectors[0].matchExpressions[1]")],
        ),
        # A requirement's values are a set: only their order differs, so these are the same.
        (
            [
                obj(
                    "L2Advertisement",
                    "l2",
                    {
                        "nodeSelectors": [
                            {"matchExpressions": [{"key": "k", "operator": "In", "values": ["x", "y"]}]},
                            {"matchExpressions": [{"key": "k", "operator": "In", "values": ["y", "x"]}]},
                        ]
                    },
                )
            ],
            [("L2Advertisement", "l2", "spec.nodeSelectors[1]")],
        ),
        # Different selectors are not duplicates.
        ([obj("L2Advertisement", "l2", {"nodeSelectors": [SELECT_A, {"matchLabels": {"a": "c"}}]})], []),
        # BFD echo on a peer that is sent IPv6 routes (cross-object, as MetalLB).
        ([V6_POOL, ECHO, peer("p", bfdProfile="echo"), bgp_ad("x")], [("BGPPeer", "p", "spec.bfdProfile")]),
        (
            [V6_POOL, ECHO, peer("p", bfdProfile="echo"), bgp_ad("x", peers=["p"])],
            [("BGPPeer", "p", "spec.bfdProfile")],
        ),
        ([V6_POOL, ECHO, peer("p", bfdProfile="echo"), bgp_ad("x", peers=["other"])], []),
        ([pool("v4", "192.0.2.0/24"), ECHO, peer("p", bfdProfile="echo"), bgp_ad("x")], []),
        ([V6_POOL, ECHO, peer("p", bfdProfile="echo")], []),
        ([V6_POOL, obj("BFDProfile", "plain", {}), peer("p", bfdProfile="plain"), bgp_ad("x")], []),
        # Per-object rules the CRDs enforce, checked by the parser too.
        ([pool("a", "192.0.2.0/24", autoassign=False)], [("IPAddressPool", "a", "spec.autoassign")]),
        (
            [pool("a", "192.0.2.0/24", serviceAllocation={"namespaces": ["Not_A_Namespace"]})],
            [("IPAddressPool", "a", "spec.serviceAllocation.namespaces[0]")],
        ),
        (
            [obj("L2Advertisement", "l2", {"interfaces": ["eth0", "..", "eth0/1"]})],
            [
                ("L2Advertisement", "l2", "spec.interfaces[1]"),
                ("L2Advertisement", "l2", "spec.interfaces[2]"),
            ],
        ),
        (
            [pool("a", "192.0.2.0/24"), bgp_ad("x", aggregationLength=0)],
            [("BGPAdvertisement", "x", "spec.aggregationLength")],
        ),
        (
            [obj("Community", "c", {"communities": [{"name": "64500:1", "value": "64500:1"}]})],
            [("Community", "c", "spec.communities[0].name")],
        ),
        ([peer("p", peerPort=16385)], [("BGPPeer", "p", "spec.peerPort")]),
        ([peer("p", peerAddress=None, interface="bad/name")], [("BGPPeer", "p", "spec.interface")]),
        ([peer("p", sourceAddress="2001:db8::1")], [("BGPPeer", "p", "spec.sourceAddress")]),
        ([peer("p", holdTime="24h")], [("BGPPeer", "p", "spec.holdTime")]),
        ([peer("p", connectTime="1500ms")], [("BGPPeer", "p", "spec.connectTime")]),
        ([peer("p", connectTime="0s")], [("BGPPeer", "p", "spec.connectTime")]),
        (
            [peer("p", peerASN=None, dynamicASN="internal", ebgpMultiHop=True)],
            [("BGPPeer", "p", "spec.ebgpMultiHop")],
        ),
        ([peer("p", disableMP=True, dualStackAddressFamily=True)], [("BGPPeer", "p", "spec.disableMP")]),
        ([peer("p", localASN=0)], [("BGPPeer", "p", "spec.localASN")]),
    ],
)
def test_metallb_rules_and_crd_rules_are_enforced(objects, expected):
    assert sorted(errors_of(*objects)) == sorted(expected)


def test_service_selectors_and_local_asn_reach_the_typed_config():
    config = parse_config(
        cluster_resources(
            [
                pool("a", "192.0.2.0/24"),
                obj("L2Advertisement", "l2", {"serviceSelectors": [SELECT_A]}),
                bgp_ad("x", serviceSelectors=[SELECT_A], localPref=200),
                peer("p", localASN=65410),
            ]
        )
    )
    assert config.l2_advertisements[0].service_selectors[0].match_labels == {"a": "b"}
    assert config.bgp_advertisements[0].service_selectors[0].matches({"a": "b"})
    assert (config.bgp_peers[0].my_asn, config.bgp_peers[0].local_asn) == (64500, 65410)


def test_preferred_node_selectors_reach_the_typed_config():
    preferences = [
        {"weight": 60, "preference": {"matchLabels": {"zone": "primary"}}},
        {"weight": 100, "preference": {}},
    ]
    config = parse_config(
        cluster_resources(
            [pool("a", "192.0.2.0/24"), obj("L2Advertisement", "l2", {"preferredNodeSelectors": preferences})]
        )
    )
    first, second = config.l2_advertisements[0].preferred_node_selectors
    assert (first.weight, first.preference.match_labels) == (60, {"zone": "primary"})
    assert (second.weight, second.preference.is_empty) == (100, True)


def _preferring(entries):
    return [pool("a", "192.0.2.0/24"), obj("L2Advertisement", "l2", {"preferredNodeSelectors": entries})]


ZONE = {"matchLabels": {"zone": "primary"}}


@pytest.mark.parametrize(
    ("entries", "path", "problem", "fix"),
    [
        (
            [{"weight": 0, "preference": ZONE}],
            "[0].weight",
            "0 is not a whole number from 1 to 100",
            "use 1..100",
        ),
        ([{"weight": 101, "preference": ZONE}], "[0].weight", "101 is not a whole number", "use 1..100"),
        ([{"weight": "50", "preference": ZONE}], "[0].weight", "'50' is not a whole number", "use 1..100"),
        ([{"weight": True, "preference": ZONE}], "[0].weight", "True is not a whole number", "use 1..100"),
        ([{"preference": ZONE}], "[0].weight", "is missing", "weight: (1-100)"),
        ([{"weight": 10}], "[0].preference", "is missing", "preference: (a label selector"),
        (
            [{"weight": 10, "preference": ZONE}, {"weight": 10, "preference": {"matchLabels": {"a b": "c"}}}],
            "[1].preference.matchLabels[a b]",
            "'a b' is not a valid label key",
            "write a label key",
        ),
        (
            [{"weight": 10, "preference": ZONE, "weigth": 5}],
            "[0].weigth",
            "is not a field",
            "preference, weight",
        ),
        (["zone=primary"], "[0]", "must be a mapping", "weight: (1-100)"),
        ({"weight": 10}, "", "must be a list of weighted preferences", "write entries of weight:"),
    ],
)
def test_preferred_node_selector_errors_name_the_field_and_the_fix(entries, path, problem, fix):
    (error,) = validate_resources(cluster_resources(_preferring(entries)))
    assert (error.kind, error.name, error.path) == (
        "L2Advertisement",
        "l2",
        f"spec.preferredNodeSelectors{path}",
    )
    assert problem in error.problem and fix in error.fix


def test_bfd_echo_error_names_the_advertisement_pool_and_fix():
    (error,) = validate_resources(
        cluster_resources([V6_POOL, ECHO, peer("p", bfdProfile="echo"), bgp_ad("x")])
    )
    assert "BFDProfile 'echo' has echoMode" in error.problem
    assert "BGPAdvertisement 'x'" in error.problem and "IPAddressPool 'v6'" in error.problem
    assert "use a BFDProfile without echoMode" in error.fix


def test_the_parser_knows_exactly_the_crd_spec_fields():
    crds = Path(__file__).resolve().parents[4] / "roles" / "install" / "files" / "crds"
    for path in crds.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            kind = doc["spec"]["names"]["kind"]
            if kind not in SPEC_FIELDS:
                continue
            for version in doc["spec"]["versions"]:
                spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
                assert set(spec["properties"]) == SPEC_FIELDS[kind], (kind, version["name"])
                if kind == "IPAddressPool":
                    allocation = spec["properties"]["serviceAllocation"]["properties"]
                    assert set(allocation) == SERVICE_ALLOCATION_FIELDS
