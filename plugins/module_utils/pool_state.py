"""Which addresses of one pool are in use, by whom, and which one to hand out next.

Addresses in use are kept per family in an :class:`~.interval_set.IntervalSet` of ranks (see
:mod:`.pools`), so the next free address is one binary search away whatever the pool's size
or fill. Addresses shared under a sharing key are also indexed by that key, so a Service
that may share finds its partners without a scan of the pool.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from dataclasses import dataclass

from .addresses import IPAddress, IPFamily, family_of, make_address
from .interval_set import IntervalSet
from .pools import AddressPool
from .services import Port
from .sharing import AddressUsers, SharingKey


@dataclass(frozen=True)
class FamilyUsage:
    """How many addresses of one family a pool has, and how many are in use."""

    total: int
    in_use: int

    @property
    def available(self) -> int:
        """Return how many addresses are still free."""
        return self.total - self.in_use


class _FamilyState:
    def __init__(self, pool: AddressPool, family: IPFamily) -> None:
        self.pool, self.family = pool, family
        self.windows = pool.rank_windows(family)
        self.capacity = sum(high - low + 1 for low, high in self.windows)
        self.used = IntervalSet()
        self.users: dict[int, AddressUsers] = {}
        self.shared: dict[SharingKey, list[int]] = {}

    def window_of(self, address: int) -> int:
        rank = self.pool.rank_of(self.family, address)
        return next(index for index, (low, high) in enumerate(self.windows) if low <= rank <= high)

    def lowest_free(self) -> tuple[int, int] | None:
        for index, (low, high) in enumerate(self.windows):
            rank = self.used.lowest_absent(low, high)
            if rank is not None:
                return index, self.pool.address_of(self.family, rank)
        return None

    def lowest_shareable(
        self, service: str, key: SharingKey, ports: frozenset[Port]
    ) -> tuple[int, int] | None:
        shareable = [
            (self.window_of(address), address)
            for address in self.shared.get(key, ())
            if self.users[address].refusal(service, key, ports) is None
        ]
        return min(shareable, default=None)


class PoolState:
    """The addresses of one pool in use, per family, with the Services using each."""

    def __init__(self, pool: AddressPool) -> None:
        self.pool = pool
        self._families = {family: _FamilyState(pool, family) for family in IPFamily}

    def candidate(
        self, family: IPFamily, service: str, key: SharingKey, ports: frozenset[Port]
    ) -> IPAddress | None:
        """Return the first address ``service`` may use: free or shareable, in ``spec.addresses`` order."""
        state = self._families[family]
        options = [state.lowest_free()]
        if key.sharing:
            options.append(state.lowest_shareable(service, key, ports))
        best = min((option for option in options if option is not None), default=None)
        return None if best is None else make_address(family, best[1])

    def refusal(self, address: IPAddress, service: str, key: SharingKey, ports: Iterable[Port]) -> str | None:
        """Return why ``service`` may not use ``address`` (which the pool must hold), or None."""
        users = self._families[family_of(address)].users.get(int(address))
        return None if users is None else users.refusal(service, key, ports)

    def take(self, address: IPAddress, service: str, key: SharingKey, ports: Iterable[Port]) -> None:
        """Record ``service`` as a user of ``address``; the caller checked :meth:`refusal` first."""
        state, value = self._families[family_of(address)], int(address)
        users = state.users.get(value)
        if users is None:
            users = state.users[value] = AddressUsers(key)
            state.used.add(self.pool.rank_of(state.family, value))
        else:
            self._unindex(state, value, users.key)
        users.add(service, key, ports)
        if key.sharing:
            insort(state.shared.setdefault(key, []), value)

    def drop(self, address: IPAddress, service: str) -> None:
        """Forget that ``service`` uses ``address``; the address is free once nobody uses it."""
        state, value = self._families[family_of(address)], int(address)
        users = state.users.get(value)
        if users is None:
            return
        users.remove(service)
        if not users.services:
            del state.users[value]
            state.used.discard(self.pool.rank_of(state.family, value))
            self._unindex(state, value, users.key)

    def usage(self, family: IPFamily) -> FamilyUsage:
        """Return the capacity and the number of addresses in use for ``family``."""
        state = self._families[family]
        return FamilyUsage(state.capacity, len(state.used))

    @staticmethod
    def _unindex(state: _FamilyState, value: int, key: SharingKey) -> None:
        addresses = state.shared.get(key)
        if not addresses:
            return
        index = bisect_left(addresses, value)
        if index < len(addresses) and addresses[index] == value:
            del addresses[index]
        if not addresses:
            del state.shared[key]
