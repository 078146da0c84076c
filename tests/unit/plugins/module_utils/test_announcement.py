"""Which assigned addresses nobody announces, and why: table-driven over whole configurations."""

from __future__ import annotations

import textwrap

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import parse_address
from ansible_collections.baremetal.lb.plugins.module_utils.announcement import (
    unannounced,
    unannounced_services,
)
from ansible_collections.baremetal.lb.plugins.module_utils.legacy_config import convert, load_yaml
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_config import declared_objects
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import cluster_resources
from ansible_collections.baremetal.lb.plugins.module_utils.ownership import ServiceFacts
from ansible_collections.baremetal.lb.plugins.module_utils.validation import parse_config

POOL = {"pools": [{"name": "p", "addresses": ["192.0.2.0/28"]}]}
PEER = {"bgp_peers": [{"name": "tor", "my_asn": 64512, "peer_asn": 64513, "peer_address": "192.0.2.1"}]}
FRONTEND = [{"match_labels": {"tier": "frontend"}}]


def config(**lists):
    return parse_config(cluster_resources(declared_objects({**POOL, **lists}, "metallb-system")))


@pytest.mark.parametrize(
    ("lists", "labels", "reason"),
    [
        ({"l2_advertisements": [{"name": "l2", "ip_address_pools": ["p"]}]}, {}, None),
        ({"l2_advertisements": [{"name": "all"}]}, {}, None),  # no pool named: every pool
        ({}, {}, "no L2Advertisement or BGPAdvertisement selects pool 'p'"),
        (
            {
                "pools": [*POOL["pools"], {"name": "q", "addresses": ["192.0.2.16/28"]}],
                "l2_advertisements": [{"name": "l2", "ip_address_pools": ["q"]}],
            },
            {},
            "no L2Advertisement or BGPAdvertisement selects pool 'p'",
        ),
        (
            {"bgp_advertisements": [{"name": "b", "ip_address_pools": ["p"]}]},
            {},
            "pool 'p' is announced over BGP only (BGPAdvertisement 'b') and there is no BGPPeer",
        ),
        ({"bgp_advertisements": [{"name": "b", "ip_address_pools": ["p"]}], **PEER}, {}, None),
        (
            {"bgp_advertisements": [{"name": "b", "ip_address_pools": ["p"], "peers": ["other"]}], **PEER},
            {},
            "pool 'p' is announced over BGP only (BGPAdvertisement 'b') "
            "and none of the BGPPeers it names exists",
        ),
        (
            {"l2_advertisements": [{"name": "l2", "ip_address_pools": ["p"], "service_selectors": FRONTEND}]},
            {"tier": "backend"},
            "the advertisements of pool 'p' (L2Advertisement 'l2') select other Services by their labels",
        ),
        (
            {"l2_advertisements": [{"name": "l2", "ip_address_pools": ["p"], "service_selectors": FRONTEND}]},
            {"tier": "frontend"},
            None,
        ),
        (  # layer 2 announces it even though the BGP side has no peer
            {"l2_advertisements": [{"name": "l2"}], "bgp_advertisements": [{"name": "b"}]},
            {},
            None,
        ),
    ],
)
def test_unannounced(lists, labels, reason):
    assert unannounced(config(**lists), "p", labels) == reason


@pytest.mark.parametrize("pool", [None, "", "unknown"])
def test_an_unknown_pool_is_not_reported(pool):
    assert unannounced(config(), pool) is None


def test_unannounced_services_takes_the_pool_from_the_annotation_or_the_address():
    services = [
        ServiceFacts("ns/by-address", (parse_address("192.0.2.3"),)),
        ServiceFacts("ns/by-annotation", (parse_address("192.0.2.4"),), pool="p"),
        ServiceFacts("ns/elsewhere", (parse_address("203.0.113.1"),)),  # in no pool: not ours to judge
    ]
    found = unannounced_services(config(), services)
    assert found == {
        "ns/by-address": "192.0.2.3 from pool 'p' is announced by no node: "
        "no L2Advertisement or BGPAdvertisement selects pool 'p'",
        "ns/by-annotation": "192.0.2.4 from pool 'p' is announced by no node: "
        "no L2Advertisement or BGPAdvertisement selects pool 'p'",
    }
    assert unannounced_services(config(l2_advertisements=[{"name": "l2"}]), services) == {}


LEGACY_BGP_POOL = """
address-pools:
- name: edge
  protocol: bgp
  addresses: [198.51.100.0/28]
"""
LEGACY_PEER = """
peers:
- peer-address: 192.0.2.1
  peer-asn: 64513
  my-asn: 64512
"""


@pytest.mark.parametrize(
    ("legacy", "reason"),
    [
        (  # what issue 11 names: the converter's BGPAdvertisement for a pool, and no BGPPeer
            LEGACY_BGP_POOL,
            "pool 'edge' is announced over BGP only (BGPAdvertisement 'bgpadvertisement1') "
            "and there is no BGPPeer",
        ),
        (LEGACY_BGP_POOL + LEGACY_PEER, None),
    ],
)
def test_the_legacy_converters_bgp_pool_is_unannounced_exactly_when_it_has_no_peers(legacy, reason):
    objects = convert(load_yaml(textwrap.dedent(legacy)), "metallb-system").objects
    assert unannounced(parse_config(cluster_resources(objects)), "edge") == reason
