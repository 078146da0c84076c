"""Parse the ``addresses`` entries of an address pool: CIDRs and ``start-end`` ranges.

Every entry becomes an :class:`AddressRange` of two integers, so later code can compare,
count and search ranges without ever listing the addresses inside them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from typing import Union

# Union, not `|`: ansible-test's pylint misreads `|` between classes outside annotations.
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]  # noqa: UP007


class IPFamily(StrEnum):
    """An IP family, spelt as Kubernetes spells it in ``spec.ipFamilies``."""

    IPV4 = "IPv4"
    IPV6 = "IPv6"

    @property
    def bits(self) -> int:
        """Return the address width of the family in bits."""
        return 32 if self is IPFamily.IPV4 else 128


class AddressError(ValueError):
    """An address, CIDR or range that cannot be used; the message says what to write instead."""


def family_of(address: IPAddress) -> IPFamily:
    """Return the family of ``address``."""
    return IPFamily.IPV4 if address.version == 4 else IPFamily.IPV6


def make_address(family: IPFamily, value: int) -> IPAddress:
    """Return the address of ``family`` whose integer value is ``value``."""
    if family is IPFamily.IPV4:
        return ipaddress.IPv4Address(value)
    return ipaddress.IPv6Address(value)


def parse_address(text: str) -> IPAddress:
    """Parse one IPv4 or IPv6 address, tolerating surrounding spaces."""
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        raise AddressError(f"{text.strip()!r} is not an IPv4 or IPv6 address") from None


@dataclass(frozen=True, order=True)
class AddressRange:
    """A closed range of addresses ``first..last`` of one family, held as integers."""

    family: IPFamily
    first: int
    last: int

    @property
    def size(self) -> int:
        """Return how many addresses the range holds."""
        return self.last - self.first + 1

    def __contains__(self, value: object) -> bool:
        if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return family_of(value) is self.family and self.first <= int(value) <= self.last
        return False

    def overlap(self, other: AddressRange) -> AddressRange | None:
        """Return the addresses that this range shares with ``other``, or None."""
        if other.family is not self.family:
            return None
        first, last = max(self.first, other.first), min(self.last, other.last)
        return AddressRange(self.family, first, last) if first <= last else None

    def cidrs(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """Return the smallest list of CIDRs that covers exactly this range, lowest first."""
        first, last = make_address(self.family, self.first), make_address(self.family, self.last)
        return list(ipaddress.summarize_address_range(first, last))

    def widest_prefix_length(self) -> int:
        """Return the shortest prefix length among the CIDRs that make up this range."""
        return min(network.prefixlen for network in self.cidrs())

    def __str__(self) -> str:
        first, last = make_address(self.family, self.first), make_address(self.family, self.last)
        cidrs = self.cidrs()
        return str(cidrs[0]) if len(cidrs) == 1 else f"{first}-{last}"


_NOT_AN_ENTRY = "{entry!r} is neither a CIDR (like 192.0.2.0/26) nor a range (like 192.0.2.10-192.0.2.20)"


def parse_address_entry(text: str, strict: bool = False) -> AddressRange:
    """Parse one pool ``addresses`` entry: a CIDR or a ``start-end`` range.

    A CIDR with host bits set (``192.0.2.37/30``) means its whole network, as in MetalLB and
    the CRD; with ``strict`` it is refused instead, for checks that catch likely typos.
    Raises :class:`AddressError` with a message that says what to write instead.
    """
    if "-" in text:
        return _parse_range(text)
    return _parse_cidr(text, strict)


def _parse_cidr(text: str, strict: bool) -> AddressRange:
    entry = text.strip()
    if "/" not in entry:
        try:
            address = ipaddress.ip_address(entry)
        except ValueError:
            raise AddressError(_NOT_AN_ENTRY.format(entry=entry)) from None
        hint = f"{address}/{address.max_prefixlen}"
        raise AddressError(f"{entry!r} has no prefix length; write {hint!r} for a single address")
    try:
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        raise AddressError(_NOT_AN_ENTRY.format(entry=entry)) from None
    written = entry.split("/", 1)[0].strip()
    if strict and int(ipaddress.ip_address(written)) != int(network.network_address):
        raise AddressError(
            f"{entry!r} has host bits set; write {str(network)!r} for the whole network, "
            f"or the range '{written}-{network.broadcast_address}' for its upper part"
        )
    family = IPFamily.IPV4 if network.version == 4 else IPFamily.IPV6
    return AddressRange(family, int(network.network_address), int(network.broadcast_address))


def _parse_range(text: str) -> AddressRange:
    start_text, end_text = text.split("-", 1)
    try:
        start, end = parse_address(start_text), parse_address(end_text)
    except AddressError as error:
        raise AddressError(f"invalid range {text.strip()!r}: {error}") from None
    if start.version != end.version:
        raise AddressError(
            f"invalid range {text.strip()!r}: start and end are of different families; "
            "write IPv4 and IPv6 ranges as separate entries"
        )
    if int(start) > int(end):
        raise AddressError(f"invalid range {text.strip()!r}: start is after end; write '{end}-{start}'")
    return AddressRange(family_of(start), int(start), int(end))
