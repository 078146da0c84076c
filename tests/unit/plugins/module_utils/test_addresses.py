import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import (
    AddressError,
    AddressRange,
    IPFamily,
    parse_address_entry,
)


@pytest.mark.parametrize(
    ("text", "family", "first", "last"),
    [
        ("192.0.2.0/26", IPFamily.IPV4, "192.0.2.0", "192.0.2.63"),
        ("192.0.2.7/32", IPFamily.IPV4, "192.0.2.7", "192.0.2.7"),
        ("2001:db8::/64", IPFamily.IPV6, "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff"),
        ("192.0.2.10-192.0.2.20", IPFamily.IPV4, "192.0.2.10", "192.0.2.20"),
        ("192.0.2.10 - 192.0.2.20", IPFamily.IPV4, "192.0.2.10", "192.0.2.20"),
        (" 2001:db8::1-2001:db8::ff ", IPFamily.IPV6, "2001:db8::1", "2001:db8::ff"),
        ("192.0.2.5-192.0.2.5", IPFamily.IPV4, "192.0.2.5", "192.0.2.5"),
    ],
)
def test_parses_cidrs_and_ranges(text, family, first, last):
    parsed = parse_address_entry(text)
    assert parsed == AddressRange(family, int(ipaddress.ip_address(first)), int(ipaddress.ip_address(last)))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("192.0.2.20-192.0.2.10", "write '192.0.2.10-192.0.2.20'"),
        ("192.0.2.1-2001:db8::1", "different families"),
        ("192.0.2.1-banana", "'banana' is not an IPv4 or IPv6 address"),
        ("banana", "neither a CIDR"),
        ("192.0.2.0/33", "neither a CIDR"),
        ("192.0.2.9", "write '192.0.2.9/32'"),
        ("", "neither a CIDR"),
    ],
)
def test_rejects_bad_entries_saying_what_to_write(text, says):
    with pytest.raises(AddressError, match=None) as error:
        parse_address_entry(text)
    assert says in str(error.value)


@pytest.mark.parametrize(
    ("text", "network", "says"),
    [
        (
            "192.0.2.5/24",
            "192.0.2.0/24",
            "write '192.0.2.0/24' for the whole network, or the range '192.0.2.5-192.0.2.255'",
        ),
        ("2001:db8::1/64", "2001:db8::/64", "write '2001:db8::/64'"),
    ],
)
def test_host_bits_mean_the_network_unless_strict(text, network, says):
    assert str(parse_address_entry(text)) == network
    with pytest.raises(AddressError) as error:
        parse_address_entry(text, strict=True)
    assert says in str(error.value)


def test_range_renders_as_cidr_when_it_is_one():
    assert str(parse_address_entry("192.0.2.0-192.0.2.63")) == "192.0.2.0/26"
    assert str(parse_address_entry("192.0.2.1-192.0.2.63")) == "192.0.2.1-192.0.2.63"


def test_widest_prefix_of_a_range():
    assert parse_address_entry("192.0.2.1-192.0.2.63").widest_prefix_length() == 27
    assert parse_address_entry("2001:db8::/64").widest_prefix_length() == 64


def test_overlap_and_contains():
    a, b = parse_address_entry("192.0.2.0/26"), parse_address_entry("192.0.2.60-192.0.2.70")
    assert str(a.overlap(b)) == "192.0.2.60/30"
    assert a.overlap(parse_address_entry("2001:db8::/64")) is None
    assert ipaddress.ip_address("192.0.2.63") in a
    assert ipaddress.ip_address("192.0.2.64") not in a
    assert "192.0.2.1" not in a


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_range_cidrs_cover_exactly_the_range(x, y):
    first, last = min(x, y), max(x, y)
    entry = parse_address_entry(f"{ipaddress.IPv4Address(first)}-{ipaddress.IPv4Address(last)}")
    cidrs = entry.cidrs()
    assert int(cidrs[0].network_address) == first
    assert int(cidrs[-1].broadcast_address) == last
    assert sum(c.num_addresses for c in cidrs) == entry.size
