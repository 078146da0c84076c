"""The IPAddressPool model: addresses, autoAssign, avoidBuggyIPs and serviceAllocation.

Besides the model this module answers questions about a pool without listing its addresses:
which addresses are usable (``avoidBuggyIPs`` removes every IPv4 address ending in .0 or
.255, as MetalLB does), how many there are per family, and which entries overlap.

Usable addresses are numbered by a *rank* that is dense over the usable addresses and keeps
their order; the allocator searches in rank space so skipped addresses never cost anything.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from .addresses import AddressRange, IPAddress, IPFamily, family_of, parse_address_entry
from .label_selectors import LabelSelector, matches_any

Owner = TypeVar("Owner", bound=Hashable)

_OCTET = 256
_USABLE_PER_OCTET = 254  # .1 to .254


@dataclass(frozen=True)
class ServiceAllocation:
    """``spec.serviceAllocation``: which services a pool serves, and with what priority."""

    priority: int = 0
    namespaces: frozenset[str] = frozenset()
    namespace_selectors: tuple[LabelSelector, ...] = ()
    service_selectors: tuple[LabelSelector, ...] = ()

    def matches(self, namespace: str, namespace_labels: Mapping[str, str], labels: Mapping[str, str]) -> bool:
        """Return True when a service in ``namespace`` with ``labels`` may take addresses from the pool.

        Namespaces named in ``namespaces`` and namespaces matching ``namespaceSelectors`` together
        form the allowed namespaces (any namespace when both are empty); the service must also
        match one of ``serviceSelectors`` when there are any.
        """
        if (self.namespaces or self.namespace_selectors) and not (
            namespace in self.namespaces or matches_any(self.namespace_selectors, namespace_labels)
        ):
            return False
        return not self.service_selectors or matches_any(self.service_selectors, labels)

    @property
    def order(self) -> tuple[int, int]:
        """Return a sort key: lower priority numbers first, priority 0 (none) last."""
        return (0, self.priority) if self.priority > 0 else (1, 0)


@dataclass(frozen=True)
class AddressPool:
    """An address pool. ``ranges`` keeps the order of ``spec.addresses``."""

    name: str
    ranges: tuple[AddressRange, ...]
    auto_assign: bool = True
    avoid_buggy_ips: bool = False
    service_allocation: ServiceAllocation | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_strings(
        cls,
        name: str,
        addresses: Iterable[str],
        auto_assign: bool = True,
        avoid_buggy_ips: bool = False,
        service_allocation: ServiceAllocation | None = None,
    ) -> AddressPool:
        """Build a pool from address entries written as in ``spec.addresses``.

        Raises :class:`~.addresses.AddressError` for the first entry that does not parse.
        """
        ranges = tuple(parse_address_entry(entry) for entry in addresses)
        return cls(name, ranges, auto_assign, avoid_buggy_ips, service_allocation)

    def serves(self, namespace: str, namespace_labels: Mapping[str, str], labels: Mapping[str, str]) -> bool:
        """Return True when the pool's serviceAllocation (if any) admits the service."""
        return self.service_allocation is None or self.service_allocation.matches(
            namespace, namespace_labels, labels
        )

    def families(self) -> set[IPFamily]:
        """Return the families the pool has addresses of."""
        return {entry.family for entry in self.ranges}

    def skips(self, family: IPFamily) -> bool:
        """Return True when the pool leaves out the .0 and .255 addresses of ``family``."""
        return self.avoid_buggy_ips and family is IPFamily.IPV4

    def is_usable(self, address: IPAddress) -> bool:
        """Return True when ``address`` lies in the pool and may be handed out."""
        family = family_of(address)
        if self.skips(family) and int(address) % _OCTET in (0, _OCTET - 1):
            return False
        return any(address in entry for entry in self.ranges)

    def rank_windows(self, family: IPFamily) -> list[tuple[int, int]]:
        """Return, in ``spec.addresses`` order, each entry's usable addresses as a closed rank window."""
        windows = []
        for entry in self.ranges:
            if entry.family is not family:
                continue
            window = _usable_window(entry) if self.skips(family) else (entry.first, entry.last)
            if window is not None:
                windows.append(window)
        return windows

    def rank_of(self, family: IPFamily, address: int) -> int:
        """Return the rank of a usable ``address``."""
        return _skipping_rank(address) if self.skips(family) else address

    def address_of(self, family: IPFamily, rank: int) -> int:
        """Return the address whose rank is ``rank`` (the inverse of :meth:`rank_of`)."""
        if not self.skips(family):
            return rank
        return (rank // _USABLE_PER_OCTET) * _OCTET + rank % _USABLE_PER_OCTET + 1

    def capacity(self, family: IPFamily) -> int:
        """Return how many addresses of ``family`` the pool can hand out."""
        return sum(high - low + 1 for low, high in self.rank_windows(family))


class PoolIndex:
    """Which pool holds an address: the pools' ranges sorted per family, searched by bisection.

    Meant for pools that do not overlap (validation refuses overlapping pools): with overlaps,
    an address in more than one range may be found in none.
    """

    def __init__(self, pools: Iterable[AddressPool]) -> None:
        ranges = [(entry, pool.name) for pool in pools for entry in pool.ranges]
        self._index = {
            family: sorted(
                (entry.first, entry.last, name) for entry, name in ranges if entry.family is family
            )
            for family in IPFamily
        }

    def pool_of(self, address: IPAddress) -> str | None:
        """Return the name of the pool whose ranges include ``address``, or None."""
        index = self._index[family_of(address)]
        position = bisect_right(index, (int(address), 1 << 128)) - 1
        if position >= 0 and index[position][0] <= int(address) <= index[position][1]:
            return index[position][2]
        return None


def _usable_window(entry: AddressRange) -> tuple[int, int] | None:
    first, last = entry.first, entry.last
    if first % _OCTET == 0:
        first += 1
    elif first % _OCTET == _OCTET - 1:
        first += 2
    if last % _OCTET == _OCTET - 1:
        last -= 1
    elif last % _OCTET == 0:
        last -= 2
    return (_skipping_rank(first), _skipping_rank(last)) if first <= last else None


def _skipping_rank(address: int) -> int:
    return (address // _OCTET) * _USABLE_PER_OCTET + address % _OCTET - 1


@dataclass(frozen=True)
class Overlap(Generic[Owner]):
    """Two address entries that share addresses; ``first`` was seen lower in address order."""

    first: Owner
    second: Owner
    shared: AddressRange


def find_overlaps(entries: Iterable[tuple[Owner, AddressRange]]) -> list[Overlap[Owner]]:
    """Return the overlaps among ``entries``, each entry that overlaps an earlier one reported once.

    Sorting makes this O(n log n); each reported overlap names the earlier entry that reaches
    furthest, which is always one the later entry really overlaps.
    """
    ordered = sorted(entries, key=lambda item: (item[1].family, item[1].first, item[1].last))
    overlaps: list[Overlap[Owner]] = []
    reach: tuple[Owner, AddressRange] | None = None
    for owner, entry in ordered:
        if reach is not None and reach[1].family is entry.family:
            shared = reach[1].overlap(entry)
            if shared is not None:
                overlaps.append(Overlap(reach[0], owner, shared))
            if entry.last > reach[1].last:
                reach = (owner, entry)
        else:
            reach = (owner, entry)
    return overlaps


def pool_overlaps(pools: Sequence[AddressPool]) -> list[Overlap[tuple[str, int]]]:
    """Return the overlaps within and across ``pools``; owners are ``(pool name, entry index)``."""
    return find_overlaps(
        ((pool.name, index), entry) for pool in pools for index, entry in enumerate(pool.ranges)
    )


def describe_overlap(overlap: Overlap[tuple[str, int]]) -> str:
    """Return a sentence naming both pools, both entries and the shared addresses."""
    (first_pool, first_index), (second_pool, second_index) = overlap.first, overlap.second
    return (
        f"pool {second_pool!r} spec.addresses[{second_index}] overlaps pool {first_pool!r} "
        f"spec.addresses[{first_index}] on {overlap.shared}"
    )
