import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPFamily
from ansible_collections.baremetal.lb.plugins.module_utils.label_selectors import parse_label_selector
from ansible_collections.baremetal.lb.plugins.module_utils.pools import (
    AddressPool,
    PoolIndex,
    ServiceAllocation,
    describe_overlap,
    pool_overlaps,
)

V4, V6 = IPFamily.IPV4, IPFamily.IPV6


@pytest.mark.parametrize(
    ("addresses", "avoid", "v4", "v6"),
    [
        (["192.0.2.0/24"], False, 256, 0),
        (["192.0.2.0/24"], True, 254, 0),
        (["192.0.0.0/16"], True, 256 * 254, 0),
        (["192.0.2.0/28"], True, 15, 0),
        (["192.0.2.240/28"], True, 15, 0),
        (["192.0.2.16/28"], True, 16, 0),
        (["192.0.2.255-192.0.3.0"], True, 0, 0),
        (["192.0.2.250-192.0.3.5"], True, 10, 0),
        (["2001:db8::/64"], True, 0, 2**64),
        (["192.0.2.0/30", "2001:db8::/126"], False, 4, 4),
    ],
)
def test_capacity_per_family_without_listing(addresses, avoid, v4, v6):
    pool = AddressPool.from_strings("p", addresses, avoid_buggy_ips=avoid)
    assert (pool.capacity(V4), pool.capacity(V6)) == (v4, v6)


@given(st.integers(0, 2**20), st.integers(0, 600))
def test_skipping_ranks_are_dense_and_ordered(start, length):
    first, last = start, start + length
    pool = AddressPool.from_strings(
        "p", [f"{ipaddress.IPv4Address(first)}-{ipaddress.IPv4Address(last)}"], True, True
    )
    usable = [a for a in range(first, last + 1) if a % 256 not in (0, 255)]
    windows = pool.rank_windows(V4)
    assert pool.capacity(V4) == len(usable)
    if usable:
        low, high = windows[0]
        assert [pool.address_of(V4, r) for r in range(low, high + 1)] == usable
        assert [pool.rank_of(V4, a) for a in usable] == list(range(low, high + 1))
    assert all(pool.is_usable(ipaddress.IPv4Address(a)) == (a in usable) for a in range(first, last + 1))


def test_overlaps_within_and_across_pools_name_both():
    pools = [
        AddressPool.from_strings("a", ["192.0.2.0/26", "192.0.2.32-192.0.2.40"]),
        AddressPool.from_strings("b", ["2001:db8::/64", "192.0.2.60-192.0.2.70"]),
        AddressPool.from_strings("c", ["2001:db8::ff-2001:db8::1:0"]),
    ]
    found = sorted(describe_overlap(o) for o in pool_overlaps(pools))
    assert found == [
        "pool 'a' spec.addresses[1] overlaps pool 'a' spec.addresses[0] on 192.0.2.32-192.0.2.40",
        "pool 'b' spec.addresses[1] overlaps pool 'a' spec.addresses[0] on 192.0.2.60/30",
        "pool 'c' spec.addresses[0] overlaps pool 'b' spec.addresses[0] on 2001:db8::ff-2001:db8::1:0",
    ]


def test_adjacent_ranges_do_not_overlap():
    pools = [
        AddressPool.from_strings("a", ["192.0.2.0/26"]),
        AddressPool.from_strings("b", ["192.0.2.64/26"]),
    ]
    assert pool_overlaps(pools) == []


WEB = parse_label_selector({"matchLabels": {"app": "web"}})
PROD = parse_label_selector({"matchLabels": {"env": "prod"}})


@pytest.mark.parametrize(
    ("allocation", "namespace", "ns_labels", "labels", "expected"),
    [
        (ServiceAllocation(), "any", {}, {}, True),
        (ServiceAllocation(namespaces=frozenset({"a"})), "a", {}, {}, True),
        (ServiceAllocation(namespaces=frozenset({"a"})), "b", {}, {}, False),
        (ServiceAllocation(namespace_selectors=(PROD,)), "b", {"env": "prod"}, {}, True),
        (ServiceAllocation(namespace_selectors=(PROD,)), "b", {"env": "dev"}, {}, False),
        (ServiceAllocation(namespaces=frozenset({"a"}), namespace_selectors=(PROD,)), "a", {}, {}, True),
        (ServiceAllocation(service_selectors=(WEB,)), "a", {}, {"app": "web"}, True),
        (ServiceAllocation(service_selectors=(WEB,)), "a", {}, {"app": "db"}, False),
        (
            ServiceAllocation(namespaces=frozenset({"a"}), service_selectors=(WEB,)),
            "b",
            {},
            {"app": "web"},
            False,
        ),
    ],
)
def test_service_allocation_matching(allocation, namespace, ns_labels, labels, expected):
    assert allocation.matches(namespace, ns_labels, labels) is expected


def test_priority_order_puts_none_last():
    allocations = [ServiceAllocation(priority=p) for p in (0, 5, 1)]
    assert [a.priority for a in sorted(allocations, key=lambda a: a.order)] == [1, 5, 0]


INDEXED = [
    AddressPool.from_strings("lan", ["192.0.2.0/28", "192.0.2.64-192.0.2.70", "2001:db8:1::/64"]),
    AddressPool.from_strings("edge", ["198.51.100.0/24", "192.0.2.32/28"]),
    AddressPool.from_strings("empty", []),
]


@pytest.mark.parametrize(
    ("address", "pool"),
    [
        ("192.0.2.0", "lan"),
        ("192.0.2.15", "lan"),
        ("192.0.2.16", None),  # between ranges
        ("192.0.2.32", "edge"),  # a range of another pool, between two of lan's
        ("192.0.2.64", "lan"),
        ("192.0.2.70", "lan"),
        ("192.0.2.71", None),
        ("198.51.100.255", "edge"),
        ("203.0.113.1", None),
        ("2001:db8:1::ffff", "lan"),
        ("2001:db8:2::", None),
        ("::ffff:192.0.2.1", None),  # an IPv6 address is never in an IPv4 range
    ],
)
def test_pool_index_finds_the_pool_holding_an_address(address, pool):
    assert PoolIndex(INDEXED).pool_of(ipaddress.ip_address(address)) == pool


def test_an_empty_index_holds_nothing():
    assert PoolIndex([]).pool_of(ipaddress.ip_address("192.0.2.1")) is None
