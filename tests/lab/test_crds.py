"""The metallb.io CRDs against the lab's real API server.

MetalLB manifests (the shapes of MetalLB's documentation) must apply unchanged with MetalLB's
defaults filled in, every per-object rule must be enforced by the API server itself (schema or
CEL) with a message that names the field and the fix, and BGPPeer must work through both
served versions. The CRDs are cluster-scoped and shared with other tests: they are applied with
server-side apply (idempotent) and never deleted; every object lives in the test's namespace.
"""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from kubernetes import client

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import ALL_KINDS, FRRK8S_GROUP, GROUP
from ansible_collections.baremetal.lb.plugins.module_utils.session_states import SessionState, session_object
from tests.lab.conftest import CRD_DIR

PLURALS = {kind.kind: kind.plural for kind in ALL_KINDS}
KINDS = {kind.kind: kind for kind in ALL_KINDS}


def _obj(kind: str, name: str, spec: dict | None, version: str = "v1beta1") -> dict:
    obj: dict = {"apiVersion": f"{GROUP}/{version}", "kind": kind, "metadata": {"name": name}}
    if spec is not None:
        obj["spec"] = spec
    return obj


def _create(kubectl, namespace: str, obj: dict):
    return kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(obj), check=False)


def _get(kube, namespace: str, kind: str, name: str, version: str = "v1beta1") -> dict:
    api = client.CustomObjectsApi(kube)
    return api.get_namespaced_custom_object(GROUP, version, namespace, PLURALS[kind], name)


# --- the CRDs themselves -------------------------------------------------------------------


def test_every_crd_is_established_namespaced_and_in_the_metallb_category(crds, kube):
    assert set(crds) == set(PLURALS)
    ext = client.ApiextensionsV1Api(kube)
    for kind in PLURALS:
        live = ext.read_custom_resource_definition(KINDS[kind].resource_name)
        assert live.spec.scope == "Namespaced"
        assert live.spec.names.kind == kind
        assert "metallb" in live.spec.names.categories
        established = {c.type: c.status for c in live.status.conditions}
        assert established.get("Established") == "True", kind
        assert established.get("NamesAccepted") == "True", kind


def test_served_versions_match_metallb(crds, kube):
    ext = client.ApiextensionsV1Api(kube)
    for kind in PLURALS:
        crd = ext.read_custom_resource_definition(KINDS[kind].resource_name)
        versions = {v.name: v for v in crd.spec.versions}
        if kind == "BGPPeer":
            assert set(versions) == {"v1beta1", "v1beta2"}
            assert versions["v1beta2"].storage and not versions["v1beta1"].storage
            assert versions["v1beta1"].served and versions["v1beta1"].deprecated
        else:
            assert set(versions) == {"v1beta1"}
            assert versions["v1beta1"].storage
        for v in versions.values():
            assert v.subresources and v.subresources.status is not None, kind


def test_bgppeer_versions_share_one_schema_and_need_no_webhook(crds):
    peer = crds["BGPPeer"]["spec"]
    assert peer.get("conversion", {"strategy": "None"})["strategy"] == "None"
    v1, v2 = (v["schema"] for v in peer["versions"])
    assert v1 == v2


def test_reapplying_the_crds_is_idempotent(crds, kubectl):
    out = kubectl("apply", "--server-side", "--field-manager=bmlb-tests", "-f", str(CRD_DIR)).stdout
    assert out.count("serverside-applied") == len(PLURALS)
    diff = kubectl("diff", "--server-side", "--field-manager=bmlb-tests", "-f", str(CRD_DIR), check=False)
    assert diff.returncode == 0, diff.stdout + diff.stderr


# --- valid manifests are accepted unchanged, defaults applied -------------------------------

SELECT_BY_LABEL = {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["east", "west"]}]}

VALID = [
    # (kind, version, name, spec, defaults the API server must add)
    (
        "IPAddressPool",
        "v1beta1",
        "first-pool",
        {"addresses": ["198.51.100.0/24", "203.0.113.1-203.0.113.5", "2001:db8:0ccd:e799::/124"]},
        {"autoAssign": True, "avoidBuggyIPs": False},
    ),
    (
        "IPAddressPool",
        "v1beta1",
        "spaced-range-v6-range-host-bits",
        {"addresses": ["192.0.2.10 - 192.0.2.20", "2001:db8::10-2001:db8::1f", "192.0.2.37/30"]},
        {"autoAssign": True, "avoidBuggyIPs": False},
    ),
    (
        "IPAddressPool",
        "v1beta1",
        "restricted",
        {
            "addresses": ["203.0.113.0/28"],
            "autoAssign": False,
            "avoidBuggyIPs": True,
            "serviceAllocation": {
                "priority": 50,
                "namespaces": ["namespace-a", "namespace-b"],
                "namespaceSelectors": [{"matchLabels": {"foo": "bar"}}],
                "serviceSelectors": [
                    {"matchExpressions": [{"key": "priority", "operator": "In", "values": ["high"]}]}
                ],
            },
        },
        {},
    ),
    ("L2Advertisement", "v1beta1", "example", None, {}),
    (
        "L2Advertisement",
        "v1beta1",
        "frontends",
        {"ipAddressPools": ["first-pool"], "serviceSelectors": [{"matchLabels": {"tier": "frontend"}}]},
        {},
    ),
    (
        "BGPAdvertisement",
        "v1beta1",
        "production",
        {"localPref": 200, "serviceSelectors": [{"matchLabels": {"environment": "production"}}]},
        {"aggregationLength": 32, "aggregationLengthV6": 128},
    ),
    (
        "BGPPeer",
        "v1beta2",
        "local-as",
        {"myASN": 64512, "peerASN": 64520, "peerAddress": "192.0.2.3", "localASN": 65410},
        {"peerPort": 179, "disableMP": False, "dualStackAddressFamily": False},
    ),
    (
        "L2Advertisement",
        "v1beta1",
        "restricted",
        {
            "ipAddressPools": ["first-pool"],
            "ipAddressPoolSelectors": [SELECT_BY_LABEL],
            "nodeSelectors": [
                {"matchLabels": {"kubernetes.io/hostname": "NodeA"}},
                {"matchExpressions": [{"key": "node-role.kubernetes.io/edge", "operator": "Exists"}]},
            ],
            "interfaces": ["eth0", "bond0.100"],
        },
        {},
    ),
    (
        "BGPAdvertisement",
        "v1beta1",
        "local",
        {
            "aggregationLength": 32,
            "aggregationLengthV6": 128,
            "localPref": 100,
            "communities": ["65535:65282", "large:4200000000:1:2", "NO_ADVERTISE"],
            "ipAddressPools": ["first-pool"],
            "peers": ["peer-a"],
        },
        {},
    ),
    (
        "BGPAdvertisement",
        "v1beta1",
        "external",
        {"aggregationLength": 24, "ipAddressPoolSelectors": [SELECT_BY_LABEL]},
        {"aggregationLengthV6": 128},
    ),
    (
        "BGPAdvertisement",
        "v1beta1",
        "all-defaults",
        None,
        {"aggregationLength": 32, "aggregationLengthV6": 128},
    ),
    (
        "Community",
        "v1beta1",
        "communities",
        {
            "communities": [
                {"name": "NO_ADVERTISE", "value": "65535:65282"},
                {"name": "vpn-red", "value": "large:64512:100:1"},
            ]
        },
        {},
    ),
    (
        "BFDProfile",
        "v1beta1",
        "full",
        {
            "receiveInterval": 380,
            "transmitInterval": 270,
            "detectMultiplier": 3,
            "echoInterval": 50,
            "echoMode": False,
            "passiveMode": True,
            "minimumTtl": 254,
        },
        {},
    ),
    ("BFDProfile", "v1beta1", "defaults", None, {}),
    (
        "BGPPeer",
        "v1beta2",
        "example",
        {
            "myASN": 64500,
            "peerASN": 64501,
            "peerAddress": "192.0.2.201",
            "holdTime": "90s",
            "keepaliveTime": "30s",
            "connectTime": "10s",
            "routerID": "192.0.2.11",
            "sourceAddress": "192.0.2.11",
            "bfdProfile": "full",
            "ebgpMultiHop": True,
            "nodeSelectors": [{"matchLabels": {"rack": "frontend"}}],
            "passwordSecret": {"name": "peer-a-md5", "namespace": "metallb-system"},
        },
        {"peerPort": 179, "disableMP": False, "dualStackAddressFamily": False},
    ),
    (
        "BGPPeer",
        "v1beta2",
        "dynamic-v6",
        {
            "myASN": 4200000000,
            "dynamicASN": "external",
            "peerAddress": "2001:db8:1::202",
            "peerPort": 1179,
            "holdTime": "0s",
            "keepaliveTime": "0s",
            "password": "s3cret",
            "enableGracefulRestart": True,
            "dualStackAddressFamily": True,
        },
        {"disableMP": False},
    ),
    (
        "BGPPeer",
        "v1beta2",
        "unnumbered",
        {"myASN": 64500, "dynamicASN": "internal", "interface": "eth1", "holdTime": "1m30s"},
        {"peerPort": 179, "disableMP": False, "dualStackAddressFamily": False},
    ),
    (
        "BGPPeer",
        "v1beta1",
        "old-style",
        {
            "myASN": 64500,
            "peerASN": 64512,
            "peerAddress": "192.0.2.201",
            "peerPort": 179,
            "holdTime": "9s",
            "keepaliveTime": "3s",
            "bfdProfile": "full",
            "nodeSelectors": [
                {
                    "matchExpressions": [
                        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node1"]}
                    ]
                }
            ],
        },
        {"disableMP": False, "dualStackAddressFamily": False},
    ),
]


@pytest.mark.parametrize(
    ("kind", "version", "name", "spec", "defaults"), VALID, ids=[f"{v[0]}-{v[2]}" for v in VALID]
)
def test_valid_manifest_is_accepted_unchanged_with_defaults(
    crds, kube, kubectl, namespace, kind, version, name, spec, defaults
):
    created = _create(kubectl, namespace, _obj(kind, name, spec, version))
    assert created.returncode == 0, created.stderr
    live = _get(kube, namespace, kind, name, version)
    assert live.get("spec", {}) == {**(spec or {}), **defaults}


def test_apply_of_a_metallb_manifest_is_a_no_op_the_second_time(crds, kubectl, namespace):
    manifest = "\n---\n".join(
        yaml.safe_dump(_obj(kind, name, spec, version))
        for kind, version, name, spec, _unused in VALID
        if name != "old-style"
    )
    first = kubectl("apply", "-n", namespace, "-f", "-", stdin=manifest)
    assert "created" in first.stdout
    second = kubectl("apply", "-n", namespace, "-f", "-", stdin=manifest)
    assert "configured" not in second.stdout, second.stdout
    assert second.stdout.count("unchanged") == len(VALID) - 1


def test_largest_pool_stays_within_the_cel_runtime_budget(crds, kube, kubectl, namespace):
    # 256 IPv6 ranges of near-maximal length: every CEL rule runs on every entry.
    addresses = [
        f"2001:db8:ffff:ffff:ffff:ffff:ffff:{i:04x}-2001:db8:ffff:ffff:ffff:ffff:ffff:{i:04x}"
        for i in range(256)
    ]
    created = _create(kubectl, namespace, _obj("IPAddressPool", "big", {"addresses": addresses}))
    assert created.returncode == 0, created.stderr
    assert len(_get(kube, namespace, "IPAddressPool", "big")["spec"]["addresses"]) == 256
    too_many = _create(
        kubectl, namespace, _obj("IPAddressPool", "bigger", {"addresses": [*addresses, "192.0.2.0/24"]})
    )
    assert too_many.returncode != 0
    assert "must have at most 256 items" in too_many.stderr


# --- every rule rejects a bad object, with its message ---------------------------------------

POOL = {"addresses": ["192.0.2.0/28"]}
PEER = {"myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.201"}


def _with(base: dict, **changes) -> dict:
    spec = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    return spec


INVALID = [
    # (id, kind, version, spec, field path in the error, message fragment)
    (
        "pool-garbage",
        "IPAddressPool",
        "v1beta1",
        {"addresses": ["pool-a"]},
        "spec.addresses[0]",
        "each addresses entry must be a CIDR",
    ),
    (
        "pool-bare-ip",
        "IPAddressPool",
        "v1beta1",
        {"addresses": ["192.0.2.1"]},
        "spec.addresses[0]",
        "each addresses entry must be a CIDR",
    ),
    (
        "pool-bad-prefix",
        "IPAddressPool",
        "v1beta1",
        {"addresses": ["192.0.2.0/33"]},
        "spec.addresses[0]",
        "each addresses entry must be a CIDR",
    ),
    (
        "pool-mixed-range",
        "IPAddressPool",
        "v1beta1",
        {"addresses": ["192.0.2.1-2001:db8::1"]},
        "spec.addresses[0]",
        "range start-end of one address family",
    ),
    (
        "pool-three-part-range",
        "IPAddressPool",
        "v1beta1",
        {"addresses": ["192.0.2.1-192.0.2.2-192.0.2.3"]},
        "spec.addresses[0]",
        "each addresses entry must be a CIDR",
    ),
    (
        "pool-reversed-range",
        "IPAddressPool",
        "v1beta1",
        {"addresses": ["192.0.2.0/28", "192.0.2.20-192.0.2.10"]},
        "spec.addresses[1]",
        "must not end before it starts; swap the two addresses",
    ),
    (
        "pool-no-addresses",
        "IPAddressPool",
        "v1beta1",
        {"addresses": []},
        "spec.addresses",
        "should have at least 1 items",
    ),
    (
        "pool-addresses-missing",
        "IPAddressPool",
        "v1beta1",
        {"autoAssign": True},
        "spec.addresses",
        "Required value",
    ),
    ("pool-no-spec", "IPAddressPool", "v1beta1", None, "spec", "Required value"),
    (
        "pool-duplicate",
        "IPAddressPool",
        "v1beta1",
        {"addresses": ["192.0.2.0/28", "192.0.2.0/28"]},
        "spec.addresses[1]",
        "Duplicate value",
    ),
    (
        "pool-negative-priority",
        "IPAddressPool",
        "v1beta1",
        _with(POOL, serviceAllocation={"priority": -1}),
        "spec.serviceAllocation.priority",
        "should be greater than or equal to 0",
    ),
    (
        "pool-bad-namespace",
        "IPAddressPool",
        "v1beta1",
        _with(POOL, serviceAllocation={"namespaces": ["Not_A_Namespace"]}),
        "spec.serviceAllocation.namespaces[0]",
        "should match",
    ),
    (
        "pool-selector-in-without-values",
        "IPAddressPool",
        "v1beta1",
        _with(
            POOL,
            serviceAllocation={"serviceSelectors": [{"matchExpressions": [{"key": "a", "operator": "In"}]}]},
        ),
        "spec.serviceAllocation.serviceSelectors[0].matchExpressions[0]",
        "operators In and NotIn need at least one entry in values",
    ),
    (
        "l2-repeated-requirement",
        "L2Advertisement",
        "v1beta1",
        {"nodeSelectors": [{"matchExpressions": [{"key": "a", "operator": "Exists"}] * 2}]},
        "spec.nodeSelectors[0].matchExpressions",
        "each matchExpressions requirement may be listed once",
    ),
    (
        "l2-repeated-value",
        "L2Advertisement",
        "v1beta1",
        {"nodeSelectors": [{"matchExpressions": [{"key": "a", "operator": "In", "values": ["x", "x"]}]}]},
        "spec.nodeSelectors[0].matchExpressions[0].values[1]",
        "Duplicate value",
    ),
    (
        "l2-exists-with-values",
        "L2Advertisement",
        "v1beta1",
        {"nodeSelectors": [{"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}]},
        "spec.nodeSelectors[0].matchExpressions[0]",
        "Exists and DoesNotExist take no values",
    ),
    (
        "l2-bad-operator",
        "L2Advertisement",
        "v1beta1",
        {
            "ipAddressPoolSelectors": [
                {"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]}
            ]
        },
        "spec.ipAddressPoolSelectors[0].matchExpressions[0].operator",
        "Unsupported value",
    ),
    (
        "l2-interface-dot",
        "L2Advertisement",
        "v1beta1",
        {"interfaces": [".."]},
        "spec.interfaces[0]",
        "are not interface names",
    ),
    (
        "l2-interface-too-long",
        "L2Advertisement",
        "v1beta1",
        {"interfaces": ["an-interface-name-too-long"]},
        "spec.interfaces[0]",
        "Too long",
    ),
    (
        "l2-interface-slash",
        "L2Advertisement",
        "v1beta1",
        {"interfaces": ["eth0/1"]},
        "spec.interfaces[0]",
        "should match",
    ),
    (
        "bgpadv-community-out-of-range",
        "BGPAdvertisement",
        "v1beta1",
        {"communities": ["65536:1"]},
        "spec.communities[0]",
        "each communities entry must be a standard community AA:NN",
    ),
    (
        "bgpadv-large-community-short",
        "BGPAdvertisement",
        "v1beta1",
        {"communities": ["large:1:2"]},
        "spec.communities[0]",
        "large community large:G:L1:L2",
    ),
    (
        "bgpadv-large-community-range",
        "BGPAdvertisement",
        "v1beta1",
        {"communities": ["large:4294967296:1:1"]},
        "spec.communities[0]",
        "each part 0..4294967295",
    ),
    (
        "bgpadv-aggregation-v4",
        "BGPAdvertisement",
        "v1beta1",
        {"aggregationLength": 33},
        "spec.aggregationLength",
        "should be less than or equal to 32",
    ),
    (
        "bgpadv-aggregation-v4-zero",
        "BGPAdvertisement",
        "v1beta1",
        {"aggregationLength": 0},
        "spec.aggregationLength",
        "should be greater than or equal to 1",
    ),
    (
        "bgpadv-aggregation-v6",
        "BGPAdvertisement",
        "v1beta1",
        {"aggregationLengthV6": 129},
        "spec.aggregationLengthV6",
        "should be less than or equal to 128",
    ),
    (
        "bgpadv-localpref",
        "BGPAdvertisement",
        "v1beta1",
        {"localPref": 4294967296},
        "spec.localPref",
        "should be less than or equal to 4294967295",
    ),
    (
        "community-alias-as-value",
        "Community",
        "v1beta1",
        {"communities": [{"name": "NO_ADVERTISE", "value": "NO_ADVERTISE"}]},
        "spec.communities[0].value",
        "a community value must be a standard community AA:NN",
    ),
    (
        "community-name-with-colon",
        "Community",
        "v1beta1",
        {"communities": [{"name": "64500:1", "value": "64500:1"}]},
        "spec.communities[0].name",
        "alias name must not contain ':'",
    ),
    (
        "community-duplicate-name",
        "Community",
        "v1beta1",
        {"communities": [{"name": "a", "value": "1:1"}, {"name": "a", "value": "1:2"}]},
        "spec.communities[1]",
        "Duplicate value",
    ),
    (
        "community-missing-value",
        "Community",
        "v1beta1",
        {"communities": [{"name": "a"}]},
        "spec.communities[0].value",
        "Required value",
    ),
    (
        "bfd-receive-too-fast",
        "BFDProfile",
        "v1beta1",
        {"receiveInterval": 5},
        "spec.receiveInterval",
        "should be greater than or equal to 10",
    ),
    (
        "bfd-transmit-too-slow",
        "BFDProfile",
        "v1beta1",
        {"transmitInterval": 60001},
        "spec.transmitInterval",
        "should be less than or equal to 60000",
    ),
    (
        "bfd-multiplier",
        "BFDProfile",
        "v1beta1",
        {"detectMultiplier": 1},
        "spec.detectMultiplier",
        "should be greater than or equal to 2",
    ),
    (
        "bfd-ttl",
        "BFDProfile",
        "v1beta1",
        {"minimumTtl": 255},
        "spec.minimumTtl",
        "should be less than or equal to 254",
    ),
    (
        "peer-both-asns",
        "BGPPeer",
        "v1beta2",
        _with(PEER, dynamicASN="external"),
        "spec",
        "set exactly one of peerASN (the peer's AS number) and dynamicASN",
    ),
    ("peer-no-asn", "BGPPeer", "v1beta2", _with(PEER, peerASN=None), "spec", "set exactly one of peerASN"),
    (
        "peer-bad-dynamic",
        "BGPPeer",
        "v1beta2",
        _with(PEER, peerASN=None, dynamicASN="any"),
        "spec.dynamicASN",
        "Unsupported value",
    ),
    (
        "peer-address-and-interface",
        "BGPPeer",
        "v1beta2",
        _with(PEER, interface="eth0"),
        "spec",
        "set exactly one of peerAddress (the peer's IP address) and interface",
    ),
    (
        "peer-no-address",
        "BGPPeer",
        "v1beta2",
        _with(PEER, peerAddress=None),
        "spec",
        "set exactly one of peerAddress",
    ),
    (
        "peer-hostname",
        "BGPPeer",
        "v1beta2",
        _with(PEER, peerAddress="router1.example.net"),
        "spec.peerAddress",
        "peerAddress must be an IPv4 or IPv6 address",
    ),
    ("peer-myasn-missing", "BGPPeer", "v1beta2", _with(PEER, myASN=None), "spec.myASN", "Required value"),
    (
        "peer-asn-zero",
        "BGPPeer",
        "v1beta2",
        _with(PEER, myASN=0),
        "spec.myASN",
        "should be greater than or equal to 1",
    ),
    (
        "peer-asn-too-big",
        "BGPPeer",
        "v1beta2",
        _with(PEER, peerASN=4294967296),
        "spec.peerASN",
        "should be less than or equal to 4294967295",
    ),
    (
        "peer-port-zero",
        "BGPPeer",
        "v1beta2",
        _with(PEER, peerPort=0),
        "spec.peerPort",
        "should be greater than or equal to 1",
    ),
    (
        "peer-hold-short",
        "BGPPeer",
        "v1beta2",
        _with(PEER, holdTime="2s"),
        "spec.holdTime",
        "holdTime must be a duration of 0s (no keepalives) or between 3s and 65535s",
    ),
    (
        "peer-hold-no-unit",
        "BGPPeer",
        "v1beta2",
        _with(PEER, holdTime="90"),
        "spec.holdTime",
        "holdTime must be a duration",
    ),
    (
        "peer-hold-huge",
        "BGPPeer",
        "v1beta2",
        _with(PEER, holdTime="24h"),
        "spec.holdTime",
        "holdTime must be a duration",
    ),
    (
        "peer-keepalive-over-hold",
        "BGPPeer",
        "v1beta2",
        _with(PEER, holdTime="30s", keepaliveTime="60s"),
        "spec.keepaliveTime",
        "keepaliveTime must not be longer than holdTime",
    ),
    (
        "peer-keepalive-under-a-second-without-hold",
        "BGPPeer",
        "v1beta2",
        _with(PEER, keepaliveTime="500ms"),
        "spec.keepaliveTime",
        "without holdTime, holdTime is 3 x keepaliveTime and must be 0s or at least 3s",
    ),
    (
        "peer-local-asn-zero",
        "BGPPeer",
        "v1beta2",
        _with(PEER, localASN=0),
        "spec.localASN",
        "should be greater than or equal to 1",
    ),
    (
        "bgpadv-service-selectors-aggregated",
        "BGPAdvertisement",
        "v1beta1",
        {"aggregationLength": 24, "serviceSelectors": [{"matchLabels": {"environment": "production"}}]},
        "spec.serviceSelectors",
        "serviceSelectors need the default aggregationLength 32 and aggregationLengthV6 128",
    ),
    (
        "l2-repeated-node-selector",
        "L2Advertisement",
        "v1beta1",
        {"nodeSelectors": [{"matchLabels": {"rack": "a"}}, {"matchLabels": {"rack": "a"}}]},
        "spec.nodeSelectors",
        "each label selector may be listed once; remove the repeated one",
    ),
    (
        "pool-repeated-namespace-selector",
        "IPAddressPool",
        "v1beta1",
        _with(POOL, serviceAllocation={"namespaceSelectors": [{"matchLabels": {"a": "b"}}] * 2}),
        "spec.serviceAllocation.namespaceSelectors",
        "each label selector may be listed once",
    ),
    (
        "peer-keepalive-with-hold-zero",
        "BGPPeer",
        "v1beta2",
        _with(PEER, holdTime="0s", keepaliveTime="10s"),
        "spec.keepaliveTime",
        "keepaliveTime must not be longer than holdTime",
    ),
    (
        "peer-keepalive-garbage",
        "BGPPeer",
        "v1beta2",
        _with(PEER, keepaliveTime="soon"),
        "spec.keepaliveTime",
        "keepaliveTime must be a duration",
    ),
    (
        "peer-connect-fraction",
        "BGPPeer",
        "v1beta2",
        _with(PEER, connectTime="1500ms"),
        "spec.connectTime",
        "connectTime must be a whole number of seconds",
    ),
    (
        "peer-connect-zero",
        "BGPPeer",
        "v1beta2",
        _with(PEER, connectTime="0s"),
        "spec.connectTime",
        "from 1s to 65535s",
    ),
    (
        "peer-password-and-secret",
        "BGPPeer",
        "v1beta2",
        _with(PEER, password="x", passwordSecret={"name": "peer-md5"}),
        "spec.passwordSecret",
        "password and passwordSecret are mutually exclusive",
    ),
    (
        "peer-multihop-ibgp",
        "BGPPeer",
        "v1beta2",
        _with(PEER, peerASN=64500, ebgpMultiHop=True),
        "spec.ebgpMultiHop",
        "ebgpMultiHop is only for eBGP peers",
    ),
    (
        "peer-multihop-dynamic-internal",
        "BGPPeer",
        "v1beta2",
        _with(PEER, peerASN=None, dynamicASN="internal", ebgpMultiHop=True),
        "spec.ebgpMultiHop",
        "ebgpMultiHop is only for eBGP peers",
    ),
    (
        "peer-source-family",
        "BGPPeer",
        "v1beta2",
        _with(PEER, sourceAddress="2001:db8:1::11"),
        "spec.sourceAddress",
        "sourceAddress and peerAddress must be of the same address family",
    ),
    (
        "peer-router-id-v6",
        "BGPPeer",
        "v1beta2",
        _with(PEER, routerID="2001:db8::1"),
        "spec.routerID",
        "routerID must be an IPv4 address",
    ),
    (
        "peer-mp-contradiction",
        "BGPPeer",
        "v1beta2",
        _with(PEER, disableMP=True, dualStackAddressFamily=True),
        "spec.disableMP",
        "disableMP and dualStackAddressFamily contradict each other",
    ),
    (
        "peer-v1beta1-same-rules",
        "BGPPeer",
        "v1beta1",
        _with(PEER, holdTime="1s"),
        "spec.holdTime",
        "holdTime must be a duration of 0s",
    ),
]


@pytest.mark.parametrize(
    ("kind", "version", "spec", "path", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_bad_object_is_rejected_with_its_message(
    crds, kube, kubectl, namespace, kind, version, spec, path, message
):
    result = _create(kubectl, namespace, _obj(kind, "bad", spec, version))
    assert result.returncode != 0, f"accepted: {spec}"
    assert "is invalid" in result.stderr, result.stderr
    assert f"{path}: " in result.stderr, result.stderr
    assert message in result.stderr, result.stderr
    with pytest.raises(client.ApiException) as missing:
        _get(kube, namespace, kind, "bad", version)
    assert missing.value.status == 404


SCHEMA_ERRORS = [
    (
        "IPAddressPool",
        {"addresses": ["192.0.2.0/28"], "autoAssign": "yes"},
        "spec.autoAssign",
        "must be of type boolean",
    ),
    ("IPAddressPool", {"addresses": "192.0.2.0/28"}, "spec.addresses", "must be of type array"),
    (
        "IPAddressPool",
        {"addresses": ["192.0.2.0/28"], "serviceAllocation": {"priority": "1"}},
        "spec.serviceAllocation.priority",
        "must be of type integer",
    ),
    (
        "BGPPeer",
        {"myASN": "64500", "peerASN": 64501, "peerAddress": "192.0.2.201"},
        "spec.myASN",
        "must be of type integer",
    ),
    ("BGPPeer", {**PEER, "holdTime": 90}, "spec.holdTime", "must be of type string"),
    ("BFDProfile", {"echoMode": "true"}, "spec.echoMode", "must be of type boolean"),
    (
        "L2Advertisement",
        {"nodeSelectors": "node1"},
        "spec.nodeSelectors",
        "must be of type array",
    ),
    ("BGPAdvertisement", {"communities": [65535]}, "spec.communities[0]", "must be of type string"),
]


@pytest.mark.parametrize(
    ("kind", "spec", "path", "message"),
    SCHEMA_ERRORS,
    ids=[f"{k}-{p}" for k, _spec, p, _message in SCHEMA_ERRORS],
)
def test_wrong_types_are_schema_errors(crds, kubectl, namespace, kind, spec, path, message):
    version = "v1beta2" if kind == "BGPPeer" else "v1beta1"
    result = _create(kubectl, namespace, _obj(kind, "typed", spec, version))
    assert result.returncode != 0
    assert f"{path}: Invalid value" in result.stderr, result.stderr
    assert message in result.stderr, result.stderr


def test_misspelt_field_is_refused_not_silently_dropped(crds, kubectl, namespace):
    # kubectl asks for strict field validation: a typo in a MetalLB manifest must not vanish.
    result = _create(
        kubectl,
        namespace,
        _obj("IPAddressPool", "typo", {"addresses": ["192.0.2.0/28"], "autoassign": False}),
    )
    assert result.returncode != 0
    assert 'unknown field "spec.autoassign"' in result.stderr, result.stderr


# --- BGPPeer: two versions, one stored object ------------------------------------------------


def test_v1beta1_peer_warns_and_reads_back_as_v1beta2(crds, kube, kubectl, namespace):
    old = {"myASN": 64500, "peerASN": 64512, "peerAddress": "192.0.2.201", "holdTime": "90s"}
    created = _create(kubectl, namespace, _obj("BGPPeer", "old", old, "v1beta1"))
    assert created.returncode == 0, created.stderr
    assert "metallb.io/v1beta1 BGPPeer is deprecated; use metallb.io/v1beta2" in created.stderr
    as_v2 = _get(kube, namespace, "BGPPeer", "old", "v1beta2")
    assert as_v2["apiVersion"] == "metallb.io/v1beta2"
    assert as_v2["spec"] == {**old, "peerPort": 179, "disableMP": False, "dualStackAddressFamily": False}


def test_v1beta2_fields_survive_an_update_through_v1beta1(crds, kube, kubectl, namespace):
    new = {
        "myASN": 64500,
        "dynamicASN": "external",
        "peerAddress": "192.0.2.202",
        "passwordSecret": {"name": "peer-md5", "namespace": "metallb-system"},
        "connectTime": "5s",
        "vrf": "red",
    }
    assert _create(kubectl, namespace, _obj("BGPPeer", "new", new, "v1beta2")).returncode == 0
    api = client.CustomObjectsApi(kube)
    as_v1 = api.get_namespaced_custom_object(GROUP, "v1beta1", namespace, "bgppeers", "new")
    assert as_v1["apiVersion"] == "metallb.io/v1beta1"
    as_v1["spec"]["bfdProfile"] = "full"
    api.replace_namespaced_custom_object(GROUP, "v1beta1", namespace, "bgppeers", "new", as_v1)
    spec = _get(kube, namespace, "BGPPeer", "new", "v1beta2")["spec"]
    assert spec["bfdProfile"] == "full"
    for field, value in new.items():
        assert spec[field] == value, field


def test_printer_columns_and_category(crds, kubectl, namespace):
    pool = _obj("IPAddressPool", "shown", {"addresses": ["203.0.113.0/28"], "autoAssign": False})
    peer = _obj("BGPPeer", "shown", {**PEER, "bfdProfile": "full"}, "v1beta2")
    for obj in (pool, peer):
        assert _create(kubectl, namespace, obj).returncode == 0
    pools = kubectl("get", "ipaddresspools", "-n", namespace).stdout.splitlines()
    assert pools[0].split() == ["NAME", "AUTO", "ASSIGN", "AVOID", "BUGGY", "IPS", "ADDRESSES", "AGE"]
    assert pools[1].split()[:4] == ["shown", "false", "false", '["203.0.113.0/28"]']
    peers = kubectl("get", "bgppeers", "-n", namespace).stdout.splitlines()
    assert peers[0].split()[:6] == ["NAME", "ADDRESS", "ASN", "BFD", "PROFILE", "MULTI"]
    assert peers[1].split()[:4] == ["shown", "192.0.2.201", "64501", "full"]
    everything = kubectl("get", "metallb", "-n", namespace, "-o", "name").stdout.split()
    assert sorted(everything) == ["bgppeer.metallb.io/shown", "ipaddresspool.metallb.io/shown"]


# --- status subresources -------------------------------------------------------------------


def test_pool_status_is_a_subresource_with_counters(crds, kube, kubectl, namespace):
    api = client.CustomObjectsApi(kube)
    obj = _obj("IPAddressPool", "counted", {"addresses": ["192.0.2.0/28"]})
    obj["status"] = {"assignedIPv4": 99}
    assert _create(kubectl, namespace, obj).returncode == 0
    assert _get(kube, namespace, "IPAddressPool", "counted").get("status", {}) == {}  # dropped on create

    counts = {"assignedIPv4": 2, "assignedIPv6": 0, "availableIPv4": 14, "availableIPv6": 0}
    api.patch_namespaced_custom_object_status(
        GROUP,
        "v1beta1",
        namespace,
        "ipaddresspools",
        "counted",
        {"status": counts, "spec": {"autoAssign": False}},
    )
    live = _get(kube, namespace, "IPAddressPool", "counted")
    assert live["status"] == counts
    assert live["spec"]["autoAssign"] is True  # the status endpoint does not write spec

    with pytest.raises(client.ApiException) as bad:
        api.patch_namespaced_custom_object_status(
            GROUP, "v1beta1", namespace, "ipaddresspools", "counted", {"status": {"availableIPv4": -1}}
        )
    assert bad.value.status == 422
    assert "status.availableIPv4" in bad.value.body


def test_service_l2_status_is_written_through_status_and_pins_its_node(crds, kube, kubectl, namespace):
    api = client.CustomObjectsApi(kube)
    assert _create(kubectl, namespace, _obj("ServiceL2Status", "l2-web", None)).returncode == 0
    status = {
        "node": "node1",
        "serviceName": "web",
        "serviceNamespace": "default",
        "interfaces": [{"name": "eth0"}],
    }
    api.patch_namespaced_custom_object_status(
        GROUP, "v1beta1", namespace, "servicel2statuses", "l2-web", {"status": status}
    )
    assert _get(kube, namespace, "ServiceL2Status", "l2-web")["status"] == status

    # Interfaces may change as the speaker learns them; the node may not.
    api.patch_namespaced_custom_object_status(
        GROUP,
        "v1beta1",
        namespace,
        "servicel2statuses",
        "l2-web",
        {"status": {"interfaces": [{"name": "eth1"}]}},
    )
    with pytest.raises(client.ApiException) as moved:
        api.patch_namespaced_custom_object_status(
            GROUP, "v1beta1", namespace, "servicel2statuses", "l2-web", {"status": {"node": "node2"}}
        )
    assert moved.value.status == 422
    assert "status.node is immutable once set" in moved.value.body

    table = kubectl("get", "servicel2statuses", "-n", namespace).stdout.splitlines()
    assert table[0].split()[:7] == ["NAME", "ALLOCATED", "NODE", "SERVICE", "NAME", "SERVICE", "NAMESPACE"]
    assert table[1].split()[:4] == ["l2-web", "node1", "web", "default"]


def test_service_bgp_status_is_written_through_status_and_pins_its_service(crds, kube, kubectl, namespace):
    api = client.CustomObjectsApi(kube)
    assert _create(kubectl, namespace, _obj("ServiceBGPStatus", "bgp-web", None)).returncode == 0
    status = {"node": "node1", "serviceName": "web", "serviceNamespace": "default", "peers": ["tor-a"]}
    args = (GROUP, "v1beta1", namespace, "servicebgpstatuses", "bgp-web")
    api.patch_namespaced_custom_object_status(*args, {"status": status})
    assert _get(kube, namespace, "ServiceBGPStatus", "bgp-web")["status"] == status

    # The peers follow the configuration; the Service reported may not change.
    api.patch_namespaced_custom_object_status(*args, {"status": {"peers": ["tor-a", "tor-b"]}})
    with pytest.raises(client.ApiException) as moved:
        api.patch_namespaced_custom_object_status(*args, {"status": {"serviceName": "api"}})
    assert moved.value.status == 422
    assert "status.serviceName is immutable once set" in moved.value.body

    table = kubectl("get", "servicebgpstatuses", "-n", namespace).stdout.splitlines()
    assert table[0].split()[:6] == ["NAME", "NODE", "SERVICE", "NAME", "SERVICE", "NAMESPACE"]
    assert table[1].split()[:4] == ["bgp-web", "node1", "web", "default"]


def test_bgp_session_state_is_frr_k8s_s_kind_and_prints_node_peer_bgp_and_bfd(crds, kube, kubectl, namespace):
    api = client.CustomObjectsApi(kube)
    state = SessionState("node1", "tor-a", "2001:db8::1", "Established", "Up")
    body = session_object(state, namespace)
    status = body.pop("status")
    assert _create(kubectl, namespace, body).returncode == 0
    name = body["metadata"]["name"]
    args = (FRRK8S_GROUP, "v1beta1", namespace, "bgpsessionstates", name)
    api.patch_namespaced_custom_object_status(*args, {"status": status})
    assert api.get_namespaced_custom_object(*args)["status"] == status

    # Only the FSM's states and BFD's; the node a session belongs to may not change.
    for bad in ({"bgpStatus": "Up"}, {"bfdStatus": "up"}, {"node": "node2"}):
        with pytest.raises(client.ApiException) as refused:
            api.patch_namespaced_custom_object_status(*args, {"status": bad})
        assert refused.value.status == 422, bad

    table = kubectl("get", "bgpsessionstates", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "NODE", "PEER", "VRF", "BGP", "BFD"]
    assert table[1].split() == [name, "node1", "2001:db8::1", "Established", "Up"]  # VRF empty
    selected = kubectl(
        "get",
        "bgpsessionstates",
        "-n",
        namespace,
        "-o",
        "name",
        "-l",
        "frrk8s.metallb.io/node=node1,frrk8s.metallb.io/peer=2001-db8--1",
    ).stdout.split()
    assert selected == [f"bgpsessionstate.frrk8s.metallb.io/{name}"]
