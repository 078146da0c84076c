"""The API server (our CRDs: schema and CEL) and validation.py agree on every metallb.io object.

Each case is one object, sent two ways: a server-side dry-run create (``dryRun=All``, strict
field validation) into the lab's metallb-system namespace, and validation.py's parser together
with a small valid context (a pool, a BFD profile, a community alias). Both must give the
verdict the table states; on any disagreement the test prints both messages.

Rules that the API server cannot see are marked ``parser_only`` with the reason: they need other
objects (a named pool exists, pools do not overlap, BFD echo and IPv6 routes ...) or cannot be
written in CEL. For those the API server must accept the object and the parser must refuse it,
so a marked case proves the marker true. Schema size limits (maxItems, maxLength) are the API
server's alone and are not in the table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes import client

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import cluster_resources
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_resources import RESOURCES
from ansible_collections.baremetal.lb.plugins.module_utils.validation import validate_resources

NAMESPACE = "metallb-system"
BY_KIND = {resource.kind: resource for resource in RESOURCES.values()}
VERSIONS = {kind: resource.version for kind, resource in BY_KIND.items()}


def _obj(kind: str, spec: dict | None, name: str = "case", **metadata: Any) -> dict:
    obj: dict = {
        "apiVersion": f"metallb.io/{metadata.pop('version', VERSIONS[kind])}",
        "kind": kind,
        "metadata": {"name": name, "namespace": NAMESPACE, **metadata},
    }
    if spec is not None:
        obj["spec"] = spec
    return obj


# The context every case is parsed with: valid on its own, named apart from the cases.
CONTEXT = [
    _obj("IPAddressPool", {"addresses": ["192.0.2.0/24"]}, "ctx-pool", labels={"zone": "east"}),
    _obj("BFDProfile", {}, "ctx-bfd"),
    _obj("Community", {"communities": [{"name": "no-advertise", "value": "65535:65282"}]}, "ctx-aliases"),
]


@dataclass(frozen=True)
class Case:
    """One object and the verdict both sides must give (``parser_only``: why only the parser can)."""

    id: str
    obj: dict
    valid: bool
    parser_only: str = ""
    context: tuple[dict, ...] = field(default_factory=tuple)


def ok(id: str, kind: str, spec: dict | None, **metadata: Any) -> Case:
    return Case(id, _obj(kind, spec, **metadata), True)


def bad(id: str, kind: str, spec: dict | None, **metadata: Any) -> Case:
    return Case(id, _obj(kind, spec, **metadata), False)


def parser_only(id: str, kind: str, spec: dict, why: str, *context: dict) -> Case:
    return Case(id, _obj(kind, spec), False, why, tuple(context))


SEL = {"matchLabels": {"app": "web"}}
SEL_OTHER = {"matchLabels": {"app": "db"}}
EXISTS = {"matchExpressions": [{"key": "edge", "operator": "Exists"}]}
POOL = {"addresses": ["198.51.100.0/28"]}
PEER = {"myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.254"}
V6_POOL = _obj("IPAddressPool", {"addresses": ["2001:db8::/120"]}, "ctx-v6")
ECHO_BFD = _obj("BFDProfile", {"echoMode": True}, "ctx-echo")
ECHO_PEER = _obj("BGPPeer", {**PEER, "bfdProfile": "ctx-echo"}, "ctx-echo-peer")


def _sa(**fields: Any) -> dict:
    return {**POOL, "serviceAllocation": fields}


CASES = [
    # --- IPAddressPool ------------------------------------------------------------------------
    ok(
        "pool-cidrs-range-v6",
        "IPAddressPool",
        {"addresses": ["198.51.100.0/28", "203.0.113.1-203.0.113.5", "2001:db8:1::/124"]},
    ),
    ok(
        "pool-spaced-range-host-bits",
        "IPAddressPool",
        {"addresses": ["198.51.100.10 - 198.51.100.20", "203.0.113.37/30"]},
    ),
    ok(
        "pool-full-allocation",
        "IPAddressPool",
        _sa(priority=5, namespaces=["shop"], namespaceSelectors=[SEL], serviceSelectors=[SEL, EXISTS]),
    ),
    bad("pool-no-spec", "IPAddressPool", None),
    bad("pool-empty", "IPAddressPool", {"addresses": []}),
    bad("pool-not-an-address", "IPAddressPool", {"addresses": ["pool-a"]}),
    bad("pool-bare-ip", "IPAddressPool", {"addresses": ["198.51.100.1"]}),
    bad("pool-prefix-too-long", "IPAddressPool", {"addresses": ["198.51.100.0/33"]}),
    bad("pool-mixed-family-range", "IPAddressPool", {"addresses": ["198.51.100.1-2001:db8::1"]}),
    bad("pool-reversed-v4-range", "IPAddressPool", {"addresses": ["198.51.100.20-198.51.100.10"]}),
    bad("pool-repeated-entry", "IPAddressPool", {"addresses": ["198.51.100.0/28", "198.51.100.0/28"]}),
    bad("pool-auto-assign-not-bool", "IPAddressPool", {**POOL, "autoAssign": "yes"}),
    bad("pool-unknown-field", "IPAddressPool", {**POOL, "autoassign": False}),
    bad("pool-negative-priority", "IPAddressPool", _sa(priority=-1)),
    bad("pool-bad-namespace-name", "IPAddressPool", _sa(namespaces=["Not_A_Namespace"])),
    bad("pool-repeated-namespace", "IPAddressPool", _sa(namespaces=["shop", "shop"])),
    bad("pool-repeated-namespace-selector", "IPAddressPool", _sa(namespaceSelectors=[SEL, SEL])),
    bad("pool-repeated-service-selector", "IPAddressPool", _sa(serviceSelectors=[EXISTS, EXISTS])),
    bad(
        "pool-in-without-values",
        "IPAddressPool",
        _sa(serviceSelectors=[{"matchExpressions": [{"key": "a", "operator": "In"}]}]),
    ),
    bad(
        "pool-repeated-value",
        "IPAddressPool",
        _sa(serviceSelectors=[{"matchExpressions": [{"key": "a", "operator": "In", "values": ["x", "x"]}]}]),
    ),
    parser_only(
        "pool-reversed-v6-range",
        "IPAddressPool",
        {"addresses": ["2001:db8::20-2001:db8::10"]},
        "CEL cannot compare IPv6 addresses",
    ),
    parser_only(
        "pool-overlaps-another-pool",
        "IPAddressPool",
        {"addresses": ["192.0.2.128/25"]},
        "overlap with ctx-pool needs the other pools",
    ),
    parser_only(
        "pool-overlaps-itself",
        "IPAddressPool",
        {"addresses": ["198.51.100.0/28", "198.51.100.5-198.51.100.6"]},
        "CEL has no range arithmetic over entries",
    ),
    # --- L2Advertisement ----------------------------------------------------------------------
    ok("l2-no-spec", "L2Advertisement", None),
    ok(
        "l2-everything",
        "L2Advertisement",
        {
            "ipAddressPools": ["ctx-pool"],
            "ipAddressPoolSelectors": [SEL],
            "nodeSelectors": [SEL, EXISTS],
            "interfaces": ["eth0", "bond0.100"],
            "serviceSelectors": [SEL, SEL_OTHER],
        },
    ),
    bad("l2-interface-dot-dot", "L2Advertisement", {"interfaces": [".."]}),
    bad("l2-interface-slash", "L2Advertisement", {"interfaces": ["eth0/1"]}),
    bad("l2-interface-too-long", "L2Advertisement", {"interfaces": ["an-interface-name-too-long"]}),
    bad("l2-repeated-interface", "L2Advertisement", {"interfaces": ["eth0", "eth0"]}),
    bad("l2-repeated-pool", "L2Advertisement", {"ipAddressPools": ["ctx-pool", "ctx-pool"]}),
    bad("l2-repeated-node-selector", "L2Advertisement", {"nodeSelectors": [SEL, SEL]}),
    bad("l2-repeated-pool-selector", "L2Advertisement", {"ipAddressPoolSelectors": [EXISTS, EXISTS]}),
    bad("l2-repeated-service-selector", "L2Advertisement", {"serviceSelectors": [SEL, SEL]}),
    bad(
        "l2-repeated-requirement",
        "L2Advertisement",
        {"nodeSelectors": [{"matchExpressions": EXISTS["matchExpressions"] * 2}]},
    ),
    # Values are a set: selectors differing only in their order are the same (as in MetalLB).
    bad(
        "l2-selectors-differing-in-value-order",
        "L2Advertisement",
        {
            "nodeSelectors": [
                {"matchExpressions": [{"key": "a", "operator": "In", "values": ["x", "y"]}]},
                {"matchExpressions": [{"key": "a", "operator": "In", "values": ["y", "x"]}]},
            ]
        },
    ),
    bad(
        "l2-requirements-differing-in-value-order",
        "L2Advertisement",
        {
            "nodeSelectors": [
                {
                    "matchExpressions": [
                        {"key": "a", "operator": "In", "values": ["x", "y"]},
                        {"key": "a", "operator": "In", "values": ["y", "x"]},
                    ]
                }
            ]
        },
    ),
    ok(
        "l2-requirements-in-another-order",
        "L2Advertisement",
        {
            "nodeSelectors": [
                {"matchExpressions": [EXISTS["matchExpressions"][0], {"key": "b", "operator": "Exists"}]},
                {"matchExpressions": [{"key": "b", "operator": "Exists"}, EXISTS["matchExpressions"][0]]},
            ]
        },
    ),
    bad(
        "l2-exists-with-values",
        "L2Advertisement",
        {"nodeSelectors": [{"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}]},
    ),
    bad(
        "l2-bad-operator",
        "L2Advertisement",
        {"nodeSelectors": [{"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]}]},
    ),
    bad("l2-node-selectors-not-list", "L2Advertisement", {"nodeSelectors": "node1"}),
    ok(
        "l2-preferred-nodes",
        "L2Advertisement",
        {"preferredNodeSelectors": [{"weight": 100, "preference": SEL}, {"weight": 1, "preference": {}}]},
    ),
    bad(
        "l2-preference-weight-0",
        "L2Advertisement",
        {"preferredNodeSelectors": [{"weight": 0, "preference": SEL}]},
    ),
    bad(
        "l2-preference-weight-101",
        "L2Advertisement",
        {"preferredNodeSelectors": [{"weight": 101, "preference": SEL}]},
    ),
    bad("l2-preference-without-weight", "L2Advertisement", {"preferredNodeSelectors": [{"preference": SEL}]}),
    bad("l2-weight-without-preference", "L2Advertisement", {"preferredNodeSelectors": [{"weight": 5}]}),
    bad(
        "l2-preference-repeated-requirement",
        "L2Advertisement",
        {
            "preferredNodeSelectors": [
                {"weight": 5, "preference": {"matchExpressions": EXISTS["matchExpressions"] * 2}}
            ]
        },
    ),
    parser_only(
        "l2-missing-pool", "L2Advertisement", {"ipAddressPools": ["no-such-pool"]}, "needs the IPAddressPools"
    ),
    # --- BGPAdvertisement ---------------------------------------------------------------------
    ok("bgpadv-no-spec", "BGPAdvertisement", None),
    ok(
        "bgpadv-attributes",
        "BGPAdvertisement",
        {
            "aggregationLength": 24,
            "aggregationLengthV6": 64,
            "localPref": 100,
            "communities": ["65535:65282", "large:4200000000:1:2", "no-advertise"],
            "ipAddressPools": ["ctx-pool"],
            "peers": ["router-a"],
            "nodeSelectors": [SEL],
        },
    ),
    ok(
        "bgpadv-service-selectors-default-lengths",
        "BGPAdvertisement",
        {"localPref": 200, "serviceSelectors": [SEL]},
    ),
    ok(
        "bgpadv-service-selectors-explicit-defaults",
        "BGPAdvertisement",
        {"aggregationLength": 32, "aggregationLengthV6": 128, "serviceSelectors": [SEL]},
    ),
    bad(
        "bgpadv-service-selectors-aggregated-v4",
        "BGPAdvertisement",
        {"aggregationLength": 28, "serviceSelectors": [SEL]},
    ),
    bad(
        "bgpadv-service-selectors-aggregated-v6",
        "BGPAdvertisement",
        {"aggregationLengthV6": 120, "serviceSelectors": [SEL]},
    ),
    bad("bgpadv-community-out-of-range", "BGPAdvertisement", {"communities": ["65536:1"]}),
    bad("bgpadv-large-community-short", "BGPAdvertisement", {"communities": ["large:1:2"]}),
    bad("bgpadv-large-community-range", "BGPAdvertisement", {"communities": ["large:4294967296:1:1"]}),
    bad("bgpadv-repeated-community", "BGPAdvertisement", {"communities": ["64500:1", "64500:1"]}),
    bad("bgpadv-repeated-peer", "BGPAdvertisement", {"peers": ["router-a", "router-a"]}),
    bad("bgpadv-aggregation-zero", "BGPAdvertisement", {"aggregationLength": 0}),
    bad("bgpadv-aggregation-v4-33", "BGPAdvertisement", {"aggregationLength": 33}),
    bad("bgpadv-aggregation-v6-129", "BGPAdvertisement", {"aggregationLengthV6": 129}),
    bad("bgpadv-local-pref-too-big", "BGPAdvertisement", {"localPref": 4294967296}),
    bad("bgpadv-repeated-node-selector", "BGPAdvertisement", {"nodeSelectors": [EXISTS, EXISTS]}),
    bad("bgpadv-repeated-pool-selector", "BGPAdvertisement", {"ipAddressPoolSelectors": [SEL, SEL]}),
    bad("bgpadv-repeated-service-selector", "BGPAdvertisement", {"serviceSelectors": [SEL, SEL]}),
    parser_only(
        "bgpadv-unknown-alias",
        "BGPAdvertisement",
        {"communities": ["no-advertize"]},
        "aliases live in Community objects",
    ),
    parser_only(
        "bgpadv-aggregation-wider-than-pool",
        "BGPAdvertisement",
        {"ipAddressPools": ["ctx-pool"], "aggregationLength": 23},
        "needs the pool's CIDRs",
    ),
    parser_only(
        "bgpadv-local-pref-conflict",
        "BGPAdvertisement",
        {"ipAddressPools": ["ctx-pool"], "localPref": 200},
        "needs the other advertisements of the same routes",
        _obj("BGPAdvertisement", {"ipAddressPools": ["ctx-pool"], "localPref": 100}, "ctx-ad"),
    ),
    parser_only(
        "bgpadv-ipv6-routes-to-bfd-echo-peer",
        "BGPAdvertisement",
        {"ipAddressPools": ["ctx-v6"], "peers": ["ctx-echo-peer"]},
        "needs the pool's families, the peer and its BFDProfile (MetalLB's rule: BFD echo is IPv4 only)",
        V6_POOL,
        ECHO_BFD,
        ECHO_PEER,
    ),
    # --- Community ----------------------------------------------------------------------------
    ok(
        "community-aliases",
        "Community",
        {
            "communities": [
                {"name": "vpn-only", "value": "1234:1"},
                {"name": "big", "value": "large:64512:100:1"},
            ]
        },
    ),
    bad("community-alias-as-value", "Community", {"communities": [{"name": "x", "value": "no-advertise"}]}),
    bad("community-name-with-colon", "Community", {"communities": [{"name": "64500:1", "value": "64500:1"}]}),
    bad(
        "community-repeated-name",
        "Community",
        {"communities": [{"name": "a", "value": "1:1"}, {"name": "a", "value": "1:2"}]},
    ),
    bad("community-missing-value", "Community", {"communities": [{"name": "a"}]}),
    parser_only(
        "community-alias-defined-twice",
        "Community",
        {"communities": [{"name": "no-advertise", "value": "65535:65282"}]},
        "ctx-aliases defines it too",
    ),
    # --- BFDProfile ---------------------------------------------------------------------------
    ok("bfd-defaults", "BFDProfile", None),
    ok(
        "bfd-everything",
        "BFDProfile",
        {
            "receiveInterval": 380,
            "transmitInterval": 270,
            "detectMultiplier": 3,
            "echoInterval": 50,
            "echoMode": True,
            "passiveMode": True,
            "minimumTtl": 254,
        },
    ),
    bad("bfd-receive-too-fast", "BFDProfile", {"receiveInterval": 5}),
    bad("bfd-transmit-too-slow", "BFDProfile", {"transmitInterval": 60001}),
    bad("bfd-multiplier-one", "BFDProfile", {"detectMultiplier": 1}),
    bad("bfd-ttl-255", "BFDProfile", {"minimumTtl": 255}),
    bad("bfd-echo-not-bool", "BFDProfile", {"echoMode": "true"}),
    parser_only(
        "bfd-echo-on-a-peer-sent-ipv6-routes",
        "BFDProfile",
        {"echoMode": True},
        "needs the peers naming it, the advertisements and their pools",
        V6_POOL,
        _obj("BGPPeer", {**PEER, "bfdProfile": "case"}, "ctx-peer"),
        _obj("BGPAdvertisement", {"ipAddressPools": ["ctx-v6"]}, "ctx-ad"),
    ),
    # --- BGPPeer ------------------------------------------------------------------------------
    ok("peer-plain", "BGPPeer", PEER),
    ok(
        "peer-everything",
        "BGPPeer",
        {
            **PEER,
            "localASN": 65410,
            "sourceAddress": "192.0.2.11",
            "peerPort": 1179,
            "holdTime": "90s",
            "keepaliveTime": "30s",
            "connectTime": "10s",
            "routerID": "192.0.2.11",
            "nodeSelectors": [SEL],
            "passwordSecret": {"name": "md5", "namespace": NAMESPACE},
            "bfdProfile": "ctx-bfd",
            "ebgpMultiHop": True,
            "enableGracefulRestart": True,
            "vrf": "red",
            "dualStackAddressFamily": True,
        },
    ),
    ok("peer-dynamic-unnumbered", "BGPPeer", {"myASN": 64500, "dynamicASN": "internal", "interface": "eth1"}),
    ok("peer-v1beta1", "BGPPeer", {**PEER, "holdTime": "9s", "keepaliveTime": "3s"}, version="v1beta1"),
    ok("peer-hold-zero", "BGPPeer", {**PEER, "holdTime": "0s", "keepaliveTime": "0s"}),
    ok("peer-hold-bare-zero", "BGPPeer", {**PEER, "holdTime": "0", "keepaliveTime": "0"}),
    ok("peer-keepalive-without-hold", "BGPPeer", {**PEER, "keepaliveTime": "2m"}),
    ok(
        "peer-empty-password-secret",
        "BGPPeer",
        {**PEER, "holdTime": "1m30s", "keepaliveTime": "0s", "passwordSecret": {}},
    ),
    bad("peer-no-spec", "BGPPeer", None),
    bad("peer-both-asns", "BGPPeer", {**PEER, "dynamicASN": "external"}),
    bad("peer-no-asn", "BGPPeer", {"myASN": 64500, "peerAddress": "192.0.2.254"}),
    bad("peer-bad-dynamic", "BGPPeer", {"myASN": 64500, "dynamicASN": "any", "peerAddress": "192.0.2.254"}),
    bad("peer-my-asn-missing", "BGPPeer", {"peerASN": 64501, "peerAddress": "192.0.2.254"}),
    bad("peer-my-asn-zero", "BGPPeer", {**PEER, "myASN": 0}),
    bad("peer-asn-too-big", "BGPPeer", {**PEER, "peerASN": 4294967296}),
    bad("peer-local-asn-zero", "BGPPeer", {**PEER, "localASN": 0}),
    bad("peer-local-asn-too-big", "BGPPeer", {**PEER, "localASN": 4294967296}),
    bad("peer-address-and-interface", "BGPPeer", {**PEER, "interface": "eth0"}),
    bad("peer-no-address", "BGPPeer", {"myASN": 64500, "peerASN": 64501}),
    bad("peer-hostname", "BGPPeer", {**PEER, "peerAddress": "router1.example.net"}),
    bad("peer-interface-slash", "BGPPeer", {"myASN": 64500, "peerASN": 64501, "interface": "eth0/1"}),
    bad("peer-interface-dot", "BGPPeer", {"myASN": 64500, "peerASN": 64501, "interface": "."}),
    bad("peer-bad-source", "BGPPeer", {**PEER, "sourceAddress": "here"}),
    bad("peer-source-other-family", "BGPPeer", {**PEER, "sourceAddress": "2001:db8::11"}),
    bad("peer-port-zero", "BGPPeer", {**PEER, "peerPort": 0}),
    bad("peer-port-over-16384", "BGPPeer", {**PEER, "peerPort": 16385}),
    bad("peer-hold-2s", "BGPPeer", {**PEER, "holdTime": "2s"}),
    bad("peer-hold-no-unit", "BGPPeer", {**PEER, "holdTime": "90"}),
    bad("peer-hold-24h", "BGPPeer", {**PEER, "holdTime": "24h"}),
    bad("peer-hold-not-string", "BGPPeer", {**PEER, "holdTime": 90}),
    bad("peer-keepalive-over-hold", "BGPPeer", {**PEER, "holdTime": "30s", "keepaliveTime": "60s"}),
    bad("peer-keepalive-with-hold-zero", "BGPPeer", {**PEER, "holdTime": "0s", "keepaliveTime": "30s"}),
    bad("peer-keepalive-500ms-without-hold", "BGPPeer", {**PEER, "keepaliveTime": "500ms"}),
    bad("peer-keepalive-24h", "BGPPeer", {**PEER, "holdTime": "90s", "keepaliveTime": "24h"}),
    bad("peer-connect-fraction", "BGPPeer", {**PEER, "connectTime": "1500ms"}),
    bad("peer-connect-zero", "BGPPeer", {**PEER, "connectTime": "0s"}),
    bad("peer-router-id-v6", "BGPPeer", {**PEER, "routerID": "2001:db8::1"}),
    bad("peer-password-and-secret", "BGPPeer", {**PEER, "password": "x", "passwordSecret": {"name": "md5"}}),
    bad("peer-multihop-ibgp", "BGPPeer", {**PEER, "peerASN": 64500, "ebgpMultiHop": True}),
    bad(
        "peer-multihop-dynamic-internal",
        "BGPPeer",
        {"myASN": 64500, "dynamicASN": "internal", "peerAddress": "192.0.2.254", "ebgpMultiHop": True},
    ),
    bad("peer-mp-contradiction", "BGPPeer", {**PEER, "disableMP": True, "dualStackAddressFamily": True}),
    bad("peer-repeated-node-selector", "BGPPeer", {**PEER, "nodeSelectors": [SEL, SEL]}),
    bad("peer-unknown-field", "BGPPeer", {**PEER, "localAsn": 65410}),
    bad("peer-v1beta1-same-rules", "BGPPeer", {**PEER, "holdTime": "1s"}, version="v1beta1"),
    parser_only(
        "peer-missing-bfd-profile",
        "BGPPeer",
        {**PEER, "bfdProfile": "no-such-profile"},
        "needs the BFDProfiles",
    ),
    parser_only(
        "peer-with-bfd-echo-sent-ipv6-routes",
        "BGPPeer",
        {**PEER, "bfdProfile": "ctx-echo"},
        "needs the BFDProfile, the advertisements and their pools (MetalLB's rule: BFD echo is IPv4 only)",
        V6_POOL,
        ECHO_BFD,
        _obj("BGPAdvertisement", {"ipAddressPools": ["ctx-v6"]}, "ctx-ad"),
    ),
]


@dataclass(frozen=True)
class Verdict:
    """What one side said about an object."""

    accepted: bool
    message: str

    def __str__(self) -> str:
        return "accepted" if self.accepted else f"refused: {self.message}"


def _server_verdict(kube: client.ApiClient, obj: dict) -> Verdict:
    api = client.CustomObjectsApi(kube)
    group, version = obj["apiVersion"].split("/")
    try:
        api.create_namespaced_custom_object(
            group,
            version,
            NAMESPACE,
            BY_KIND[obj["kind"]].plural,
            obj,
            dry_run="All",
            field_validation="Strict",
        )
    except client.ApiException as refused:
        if refused.status not in (400, 422):
            raise
        return Verdict(False, json.loads(refused.body).get("message", refused.body))
    return Verdict(True, "")


def _parser_verdict(case: Case) -> Verdict:
    objects = [*CONTEXT, *case.context, case.obj]
    errors = validate_resources(cluster_resources(objects))
    return Verdict(not errors, "; ".join(str(error) for error in errors))


def test_the_context_is_valid():
    assert validate_resources(cluster_resources(CONTEXT)) == []


def test_case_ids_are_unique():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_api_server_and_parser_agree(crds, kube, metallb_namespace, case):
    server, parser = _server_verdict(kube, case.obj), _parser_verdict(case)
    both = f"\n  API server:    {server}\n  validation.py: {parser}"
    if case.parser_only:
        assert server.accepted and not parser.accepted, (
            f"{case.id} is marked parser-only ({case.parser_only}), so the API server must accept it "
            f"and the parser refuse it:{both}"
        )
    else:
        expected = "accept" if case.valid else "refuse"
        assert server.accepted == parser.accepted == case.valid, f"both must {expected} {case.id}:{both}"
