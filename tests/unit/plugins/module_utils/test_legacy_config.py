"""The legacy ConfigMap conversion, checked against what MetalLB's configmaptocrs writes.

The expected objects follow MetalLB's converter golden files (configmaptocrs/testdata), with
documentation addresses; where we differ on purpose (no ``keepaliveTime: 0s``, no empty
``passwordSecret``, strict reading) the test says so.
"""

import textwrap

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.legacy_config import (
    LegacyConfigError,
    convert,
    go_duration,
    k8s_name,
    load_yaml,
)
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import cluster_resources
from ansible_collections.baremetal.lb.plugins.module_utils.validation import validate_resources

NS = "metallb-system"


def legacy(text):
    return load_yaml(textwrap.dedent(text))


def cr(kind, name, spec, version="v1beta1", namespace=NS):
    return {
        "apiVersion": f"metallb.io/{version}",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def errors_of(conversion):
    errors = validate_resources(cluster_resources(conversion.objects))
    return [conversion.describe(error) for error in errors]


def test_layer2_only():
    conversion = convert(
        legacy(
            """
            address-pools:
            - name: lan
              protocol: layer2
              addresses:
              - 192.0.2.10-192.0.2.20
              - 192.0.2.64/26
            - name: spare
              protocol: layer2
              auto-assign: false
              avoid-buggy-ips: false
              addresses: [198.51.100.0/24]
            """
        ),
        NS,
    )
    assert conversion.objects == [
        cr("IPAddressPool", "lan", {"addresses": ["192.0.2.10-192.0.2.20", "192.0.2.64/26"]}),
        cr("IPAddressPool", "spare", {"addresses": ["198.51.100.0/24"], "autoAssign": False}),
        cr("L2Advertisement", "l2advertisement1", {"ipAddressPools": ["lan"]}),
        cr("L2Advertisement", "l2advertisement2", {"ipAddressPools": ["spare"]}),
    ]
    assert conversion.renamed == [] and conversion.passwords == []
    assert errors_of(conversion) == []


# MetalLB's config-yaml-full test case, with documentation addresses.
FULL = """
peers:
- peer-address: 192.0.2.1
  peer-asn: 64512
  my-asn: 64512
  peer-port: 179
  source-address: 192.0.2.2
  hold-time: 120s
  keepalive-time: 30s
  router-id: 192.0.2.3
  password: "yourPassword"
  bfd-profile: "bfdprofile1"
  ebgp-multihop: false
  node-selectors:
  - match-labels:
      kubernetes.io/hostname: prod-01
    match-expressions:
    - key: kubernetes.io/arch
      operator: In
      values: [amd64, arm]
address-pools:
- name: my-ip-space
  protocol: bgp
  addresses:
  - 198.51.100.0/24
  - 203.0.113.150-203.0.113.200
  avoid-buggy-ips: true
  auto-assign: true
  bgp-advertisements:
  - aggregation-length: 32
    aggregation-length-v6: 64
    localpref: 100
    communities:
    - 64512:1
    - no-export
- name: my-l2-space
  protocol: layer2
  addresses:
  - 192.0.2.128/25
  avoid-buggy-ips: true
bgp-communities:
  no-export: 65535:65281
bfd-profiles:
- name: bfdprofile1
  receive-interval: 280
  transmit-interval: 270
  echo-interval: 62
  echo-mode: false
  passive-mode: false
  minimum-ttl: 254
  detect-multiplier: 200
"""


def test_full_configuration_as_metallb_converts_it():
    conversion = convert(legacy(FULL), NS)
    assert conversion.objects == [
        cr(
            "BGPPeer",
            "peer1",
            {
                "myASN": 64512,
                "peerASN": 64512,
                "peerAddress": "192.0.2.1",
                "sourceAddress": "192.0.2.2",
                "routerID": "192.0.2.3",
                "peerPort": 179,
                "holdTime": "2m0s",
                "keepaliveTime": "30s",
                "nodeSelectors": [
                    {
                        "matchLabels": {"kubernetes.io/hostname": "prod-01"},
                        "matchExpressions": [
                            {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm"]}
                        ],
                    }
                ],
                # MetalLB keeps the password in the BGPPeer in clear; so do we.
                "password": "yourPassword",
                "bfdProfile": "bfdprofile1",
            },
            version="v1beta2",
        ),
        cr(
            "IPAddressPool",
            "my-ip-space",
            {
                "addresses": ["198.51.100.0/24", "203.0.113.150-203.0.113.200"],
                "autoAssign": True,
                "avoidBuggyIPs": True,
            },
        ),
        cr("IPAddressPool", "my-l2-space", {"addresses": ["192.0.2.128/25"], "avoidBuggyIPs": True}),
        cr(
            "BGPAdvertisement",
            "bgpadvertisement1",
            {
                "aggregationLength": 32,
                "aggregationLengthV6": 64,
                "localPref": 100,
                "communities": ["64512:1", "no-export"],
                "ipAddressPools": ["my-ip-space"],
            },
        ),
        cr("L2Advertisement", "l2advertisement1", {"ipAddressPools": ["my-l2-space"]}),
        cr(
            "BFDProfile",
            "bfdprofile1",
            {
                "receiveInterval": 280,
                "transmitInterval": 270,
                "detectMultiplier": 200,
                "echoInterval": 62,
                "minimumTtl": 254,
                "echoMode": False,
                "passiveMode": False,
            },
        ),
        cr("Community", "communities", {"communities": [{"name": "no-export", "value": "65535:65281"}]}),
    ]
    assert conversion.passwords == ["yourPassword"]
    assert errors_of(conversion) == []


def test_peer_defaults_as_metallb():
    conversion = convert(
        legacy(
            """
            peers:
            - {my-asn: 64512, peer-asn: 64513, peer-address: 192.0.2.1}
            - {my-asn: 64512, peer-asn: 64513, peer-address: "2001:db8::1", hold-time: 0s,
               ebgp-multihop: true}
            """
        ),
        NS,
    )
    peers = [obj["spec"] for obj in conversion.objects]
    # holdTime is always written, 90s when unset; keepaliveTime only when set.
    assert peers == [
        {"myASN": 64512, "peerASN": 64513, "peerAddress": "192.0.2.1", "holdTime": "1m30s"},
        {
            "myASN": 64512,
            "peerASN": 64513,
            "peerAddress": "2001:db8::1",
            "holdTime": "0s",
            "ebgpMultiHop": True,
        },
    ]
    assert [obj["metadata"]["name"] for obj in conversion.objects] == ["peer1", "peer2"]


def test_bgp_advertisements_are_numbered_over_all_pools_and_bgp_pools_get_one_without_options():
    conversion = convert(
        legacy(
            """
            address-pools:
            - name: edge
              protocol: bgp
              addresses: [198.51.100.0/24, "2001:db8:1::/64"]
              bgp-advertisements:
              - aggregation-length: 24
                aggregation-length-v6: 64
                communities: [transit]
              - localpref: 200
            - name: lan
              protocol: layer2
              addresses: [192.0.2.0/28, "2001:db8:2::10-2001:db8:2::1f"]
            - name: plain
              protocol: bgp
              addresses: [203.0.113.0/28]
            bgp-communities:
              transit: "64500:100"
              blackhole: 65535:666
            """
        ),
        NS,
    )
    ads = {
        obj["metadata"]["name"]: obj["spec"]
        for obj in conversion.objects
        if obj["kind"] == "BGPAdvertisement"
    }
    assert ads == {
        "bgpadvertisement1": {
            "aggregationLength": 24,
            "aggregationLengthV6": 64,
            "communities": ["transit"],
            "ipAddressPools": ["edge"],
        },
        "bgpadvertisement2": {"localPref": 200, "ipAddressPools": ["edge"]},
        "bgpadvertisement3": {"ipAddressPools": ["plain"]},
    }
    l2 = [obj for obj in conversion.objects if obj["kind"] == "L2Advertisement"]
    assert l2 == [cr("L2Advertisement", "l2advertisement1", {"ipAddressPools": ["lan"]})]
    community = next(obj for obj in conversion.objects if obj["kind"] == "Community")
    # one object, aliases sorted by name, as MetalLB renders it
    assert community["spec"]["communities"] == [
        {"name": "blackhole", "value": "65535:666"},
        {"name": "transit", "value": "64500:100"},
    ]
    assert errors_of(conversion) == []


def test_names_made_kubernetes_names_as_metallb_does():
    long_name = "tooLongBFDProfileName01-tooLongBFDProfileName02-tooLongBFDProfileName03-tooLong"
    conversion = convert(
        legacy(
            f"""
            address-pools:
            - name: 01-numbered-addresspool
              protocol: bgp
              addresses: [198.51.100.0/24]
            - name: Capitalized-AddressPool
              protocol: layer2
              addresses: [192.0.2.240/28]
            bfd-profiles:
            - name: underscored_bfd_profile
            - name: {long_name}
              echo-mode: true
            peers:
            - my-asn: 64500
              peer-asn: 64501
              peer-address: 192.0.2.1
              bfd-profile: underscored_bfd_profile
            """
        ),
        NS,
    )
    names = [(obj["kind"], obj["metadata"]["name"]) for obj in conversion.objects]
    assert names == [
        ("BGPPeer", "peer1"),
        ("IPAddressPool", "numbered-addresspool"),
        ("IPAddressPool", "capitalized-addresspool"),
        ("BGPAdvertisement", "bgpadvertisement1"),
        ("L2Advertisement", "l2advertisement1"),
        ("BFDProfile", "underscored-bfd-profile"),
        ("BFDProfile", "toolongbfdprofilename01-toolongbfdprofilename02-toolongbfdprofi"),
    ]
    assert conversion.objects[0]["spec"]["bfdProfile"] == "underscored-bfd-profile"
    assert conversion.objects[3]["spec"]["ipAddressPools"] == ["numbered-addresspool"]
    assert {"kind": "IPAddressPool", "from": "01-numbered-addresspool", "to": "numbered-addresspool"} in (
        conversion.renamed
    )
    bfd = conversion.objects[6]["spec"]
    assert bfd == {"echoMode": True, "passiveMode": False}
    assert errors_of(conversion) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [("web", "web"), ("Web_Pool", "web-pool"), ("2nd", "nd"), ("123", None), ("a" * 70, "a" * 63)],
)
def test_k8s_name(name, expected):
    assert k8s_name(name) == expected


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (3, "3s"), (90, "1m30s"), (120, "2m0s"), (3661, "1h1m1s")]
)
def test_go_duration(seconds, text):
    assert go_duration(seconds) == text


def test_hold_time_is_cut_to_whole_seconds():
    conversion = convert(
        legacy("peers: [{my-asn: 1, peer-asn: 2, peer-address: 192.0.2.1, hold-time: 3500ms}]"), NS
    )
    assert conversion.objects[0]["spec"]["holdTime"] == "3s"


def test_yaml_keeps_communities_as_strings():
    # YAML 1.1 (PyYAML) reads 64512:1 as a base-60 number; Go's reader gave MetalLB the string.
    data = legacy(
        """
        bgp-communities: {no-export: 65535:65281}
        address-pools: [{name: a, protocol: bgp, addresses: [192.0.2.0/24],
                         bgp-advertisements: [{communities: [64512:1], aggregation-length: 24}]}]
        """
    )
    assert data["bgp-communities"] == {"no-export": "65535:65281"}
    assert data["address-pools"][0]["bgp-advertisements"][0] == {
        "communities": ["64512:1"],
        "aggregation-length": 24,
    }


def test_empty_configuration_converts_to_nothing():
    assert convert(None, NS).objects == []
    assert convert({}, NS).objects == []


def test_namespace_is_taken_from_the_configmap():
    conversion = convert(
        legacy("address-pools: [{name: a, protocol: layer2, addresses: [192.0.2.0/24]}]"), "lb"
    )
    assert {obj["metadata"]["namespace"] for obj in conversion.objects} == {"lb"}


def problems(text):
    with pytest.raises(LegacyConfigError) as raised:
        convert(legacy(text), NS)
    return [str(problem) for problem in raised.value.problems]


def test_structural_problems_name_the_legacy_field_all_at_once():
    found = problems(
        """
        address-pools:
        - name: a
          protocol: layer2
          addresses: [192.0.2.0/28]
          bgp-advertisements: [{localpref: 100}]
        - name: b
          protocol: l2
          cidr: [192.0.2.16/28]
        - name: c
          addresses: [192.0.2.32/28]
        peers:
        - peer-asn: 64501
          peer-address: 192.0.2.1
          hold-time: 2s
        - {my-asn: 64500, peer-asn: 64501, peer-address: 192.0.2.1, hold-time: 120}
        communities: {x: "1:1"}
        """
    )
    assert found == [
        "communities: is not a field of MetalLB's legacy configuration; "
        "remove it or use one of: peers, bgp-communities, address-pools, bfd-profiles",
        "peers[0].my-asn: is missing (or 0); set my-asn to the AS number",
        "peers[0].hold-time: '2s' is neither 0 nor at least 3s; use 0s, or 3s and more",
        "peers[1].hold-time: 120 is not a duration; write it with a unit, like '120s'",
        "address-pools[0].bgp-advertisements[0]: is a BGP advertisement of a layer2 pool; "
        "remove it or make the pool protocol: bgp",
        "address-pools[1].cidr: is not a field of MetalLB's legacy configuration; remove it or use one of: "
        "name, protocol, addresses, auto-assign, avoid-buggy-ips, bgp-advertisements",
        "address-pools[1].protocol: 'l2' is not a protocol; use layer2 or bgp",
        "address-pools[2].protocol: is missing; use layer2 or bgp",
    ]


def test_not_yaml_or_not_a_mapping():
    with pytest.raises(LegacyConfigError, match="is not valid YAML"):
        load_yaml("address-pools: [")
    assert problems("- a\n- b") == [
        "config: is not a mapping; write the keys address-pools, peers, bgp-communities, bfd-profiles"
    ]


def test_validation_errors_are_worded_with_the_legacy_field():
    conversion = convert(
        legacy(
            """
            address-pools:
            - name: a
              protocol: bgp
              addresses: [198.51.100.0/24]
              bgp-advertisements:
              - aggregation-length: 16
                communities: [64500:1, unknown-alias]
            - name: b
              protocol: layer2
              addresses: [192.0.2.300/24, 198.51.100.128/25]
            peers:
            - my-asn: 64500
              peer-asn: 64501
              peer-address: 192.0.2.1
              bfd-profile: missing
              node-selectors:
              - match-expressions: [{key: zone, operator: In}]
            bgp-communities:
              bad: "1:2:3"
            """
        ),
        NS,
    )
    found = errors_of(conversion)
    prefixes = [line.split(":", 1)[0] for line in found]
    assert prefixes == [
        "address-pools[1].addresses[0]",
        "address-pools[1].addresses[1]",
        "bgp-communities.bad",
        "peers[0].bfd-profile",
        "peers[0].node-selectors[0].match-expressions[0].values",
        "address-pools[0].bgp-advertisements[0].communities[1]",
        "address-pools[0].bgp-advertisements[0].aggregation-length",
    ]
    assert "(converted to IPAddressPool 'b' spec.addresses[0])" in found[0]
    assert "overlaps IPAddressPool 'a'" in found[1]


def test_duplicate_pool_names_point_at_the_second_pool():
    conversion = convert(
        legacy(
            """
            address-pools:
            - {name: a, protocol: layer2, addresses: [192.0.2.0/28]}
            - {name: a, protocol: layer2, addresses: [192.0.2.16/28]}
            """
        ),
        NS,
    )
    assert errors_of(conversion)[0].startswith("address-pools[1].name: another IPAddressPool has this name")


def test_errors_in_other_objects_are_marked_as_existing():
    conversion = convert(
        legacy("address-pools: [{name: a, protocol: layer2, addresses: [192.0.2.0/28]}]"), NS
    )
    existing = cr("IPAddressPool", "old", {"addresses": ["192.0.2.8/29"]})
    errors = validate_resources(cluster_resources([*conversion.objects, existing]))
    described = [conversion.describe(error) for error in errors]
    assert described and all(
        "existing object" in line for line in described if line.startswith("IPAddressPool")
    )
