"""Decide which load balancer addresses each Service gets, as MetalLB's controller does.

Order of choice: the addresses the Service requests, exactly; else the pool its
``address-pool`` annotation names (autoAssign is ignored there, serviceAllocation is not);
else the autoAssign pools whose serviceAllocation admits it, by priority (lower first, none
last, then by name); else the autoAssign pools without serviceAllocation, by name. Within a
pool the first free (or shareable) address wins, following ``spec.addresses`` order and the
lowest address within each entry.

At start the controller must :meth:`Allocator.assign` every address Services already hold
before it :meth:`Allocator.allocate` s any new one, or it hands a held address to another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .addresses import IPAddress, IPFamily, family_of
from .pool_state import FamilyUsage, PoolState
from .pools import AddressPool, PoolIndex, describe_overlap, pool_overlaps
from .services import FamilyPolicy, Service
from .sharing import SharingKey, quoted


class AllocationError(Exception):
    """No address could be given; the message says what the user can change."""


class UnknownPoolError(AllocationError):
    """The ``address-pool`` annotation names a pool that does not exist."""


class RequestRefusedError(AllocationError):
    """The requested addresses or pool may not be given to this Service."""


class PoolExhaustedError(AllocationError):
    """Every pool the Service may use is full (for the families it needs)."""


class NoEligiblePoolError(AllocationError):
    """No pool may serve the Service at all."""


class PoolConfigError(ValueError):
    """The pools handed to the allocator overlap or repeat a name."""


@dataclass(frozen=True, slots=True)
class Allocation:
    """The addresses a Service holds and the pool they come from."""

    pool: str
    ips: tuple[IPAddress, ...]


@dataclass(frozen=True)
class LostAllocation:
    """A Service that lost its addresses in a pool update, and why."""

    service: str
    ips: tuple[IPAddress, ...]
    reason: str
    pool: str = ""
    """The pool the addresses came from."""


@dataclass(frozen=True)
class PoolUsage:
    """Capacity and use of one pool, per family (for metrics and pool status)."""

    pool: str
    ipv4: FamilyUsage
    ipv6: FamilyUsage


@dataclass(frozen=True, slots=True)
class _Held:
    service: Service
    allocation: Allocation


class Allocator:
    """Tracks the pools and the addresses each Service holds, and hands out new ones."""

    def __init__(self, pools: Iterable[AddressPool] = ()) -> None:
        self._pools: dict[str, PoolState] = {}
        self._index = PoolIndex(())
        self._held: dict[str, _Held] = {}
        self.set_pools(pools)

    # -- configuration -------------------------------------------------------------------------

    def set_pools(self, pools: Iterable[AddressPool]) -> list[LostAllocation]:
        """Replace the pools; return the Services whose addresses the new pools no longer allow.

        Raises :class:`PoolConfigError` (and changes nothing) when pools overlap or share a name.
        """
        pools = list(pools)
        _check_pools(pools)
        held, self._held = self._held, {}
        self._pools = {pool.name: PoolState(pool) for pool in pools}
        self._index = PoolIndex(pools)
        lost = []
        for key, entry in sorted(held.items()):
            pool, reason = self._pool_for(entry.allocation.ips, entry.service)
            if pool is None:
                lost.append(LostAllocation(key, entry.allocation.ips, reason, entry.allocation.pool))
            else:
                self._take(pool, entry.service, entry.allocation.ips)
        return lost

    # -- queries -------------------------------------------------------------------------------

    def allocation_of(self, service: Service | str) -> Allocation | None:
        """Return what ``service`` (or its ``namespace/name``) holds, or None."""
        entry = self._held.get(_key(service))
        return None if entry is None else entry.allocation

    def pool_of(self, address: IPAddress) -> str | None:
        """Return the name of the pool whose addresses include ``address``, or None."""
        return self._index.pool_of(address)

    def usage(self) -> dict[str, PoolUsage]:
        """Return capacity and use of every pool, by pool name."""
        return {
            name: PoolUsage(name, state.usage(IPFamily.IPV4), state.usage(IPFamily.IPV6))
            for name, state in sorted(self._pools.items())
        }

    # -- changes -------------------------------------------------------------------------------

    def assign(self, service: Service, ips: Sequence[IPAddress]) -> Allocation:
        """Give ``service`` exactly ``ips`` (addresses it already holds, or ones it requests).

        Raises :class:`RequestRefusedError` when the addresses are outside every pool, span two
        pools, do not fit the Service's families, sit in a pool whose serviceAllocation or
        whose name (``address-pool`` annotation) does not fit, or cannot be shared.
        """
        ips = tuple(ips)
        refusal = _family_refusal(service, ips)
        if refusal:
            raise RequestRefusedError(refusal)
        pool, reason = self._pool_for(ips, service)
        if pool is None:
            raise RequestRefusedError(reason)
        key = SharingKey(service.sharing_key, service.backend_key)
        for address in ips:
            conflict = pool.refusal(address, service.key, key, service.ports)
            if conflict:
                raise RequestRefusedError(f"address {address} cannot be shared: {conflict}")
        self.release(service)
        return self._take(pool, service, ips)

    def reserve(self, service: Service, ips: Sequence[IPAddress]) -> Allocation | None:
        """Hold ``ips`` for ``service`` whatever it asks for now; return None when they cannot be held.

        For addresses a Service still shows although it no longer may keep them (it asks for
        another pool or address, or left): they stay taken until its status is rewritten. Only
        the pools (one pool holds them all) and the sharing rules, against their other users,
        can refuse.
        """
        ips = tuple(ips)
        names = {self.pool_of(address) for address in ips}
        families = [family_of(address) for address in ips]
        if not ips or len(names) != 1 or len(set(families)) != len(ips):
            return None
        if not set(families) <= set(service.ip_families):
            return None
        pool = self._pools.get(str(names.pop()))
        key = SharingKey(service.sharing_key, service.backend_key)
        if pool is None or not all(pool.pool.is_usable(address) for address in ips):
            return None
        if any(pool.refusal(address, service.key, key, service.ports) for address in ips):
            return None
        self.release(service)
        return self._take(pool, service, ips)

    def allocate(self, service: Service) -> Allocation:
        """Return the addresses ``service`` should have, choosing new ones when needed.

        A Service keeps what it holds while that still fits its request; a PreferDualStack
        Service holding one family gains the other from the same pool when it can.
        Raises an :class:`AllocationError` subclass whose message says what to change.
        """
        entry = self._held.get(service.key)
        if entry is not None and self._still_wanted(entry.allocation, service):
            try:
                kept = self.assign(service, entry.allocation.ips)
            except RequestRefusedError:
                self.release(service)
            else:
                return self._complete_dual_stack(service, kept)
        self.release(service)
        if service.requested_ips:
            return self.assign(service, service.requested_ips)
        if service.pool:
            return self._allocate_from(
                [(f"pool {quoted(service.pool)}", [self._named_pool(service)])], service
            )
        states = [state for _name, state in sorted(self._pools.items()) if state.pool.auto_assign]
        pinned = sorted(
            (
                state
                for state in states
                if state.pool.service_allocation and state.pool.serves(*_who(service))
            ),
            key=_priority_order,
        )
        general = [state for state in states if state.pool.service_allocation is None]
        tiers = [
            (which, pools) for which, pools in (("pools selecting it", pinned), ("pools", general)) if pools
        ]
        if not tiers:
            raise NoEligiblePoolError(
                "no pool serves it; add an autoAssign pool without serviceAllocation, "
                "widen a pool's serviceAllocation, or name a pool in the metallb.io/address-pool annotation"
            )
        return self._allocate_from(tiers, service)

    def release(self, service: Service | str) -> bool:
        """Free what ``service`` (or its ``namespace/name``) holds; return False if it held nothing."""
        entry = self._held.pop(_key(service), None)
        if entry is None:
            return False
        pool = self._pools.get(entry.allocation.pool)
        if pool is not None:
            for address in entry.allocation.ips:
                pool.drop(address, entry.service.key)
        return True

    # -- helpers -------------------------------------------------------------------------------

    def _still_wanted(self, allocation: Allocation, service: Service) -> bool:
        if service.requested_ips and set(service.requested_ips) != set(allocation.ips):
            return False
        return not service.pool or service.pool == allocation.pool

    def _complete_dual_stack(self, service: Service, allocation: Allocation) -> Allocation:
        if not (
            service.ip_family_policy is FamilyPolicy.PREFER_DUAL_STACK
            and service.wants_both_families
            and len(allocation.ips) == 1
            and not service.requested_ips
        ):
            return allocation
        pool = self._pools[allocation.pool]
        missing = next(family for family in service.ip_families if family is not family_of(allocation.ips[0]))
        key = SharingKey(service.sharing_key, service.backend_key)
        extra = pool.candidate(missing, service.key, key, service.ports)
        if extra is None:
            return allocation
        self.release(service)
        return self._take(pool, service, (*allocation.ips, extra))

    def _named_pool(self, service: Service) -> PoolState:
        pool = self._pools.get(service.pool)
        if pool is None:
            known = ", ".join(sorted(self._pools)) or "none"
            raise UnknownPoolError(
                f"the address-pool annotation names pool {quoted(service.pool)}, which does not "
                f"exist (pools: {known}); fix the annotation or create the pool"
            )
        if not pool.pool.serves(*_who(service)):
            raise RequestRefusedError(_not_served(service.pool))
        return pool

    def _allocate_from(
        self, tiers: Sequence[tuple[str, Sequence[PoolState]]], service: Service
    ) -> Allocation:
        failures = []
        for which, pools in tiers:
            choice = _best_choice(pools, service)
            if choice is not None:
                return self._take(choice[0], service, choice[1])
            failures.append(_exhausted_message(pools, service, which))
        raise PoolExhaustedError(
            f"{'; '.join(failures)}; add addresses to a pool, free some, or allow sharing"
        )

    def _take(self, pool: PoolState, service: Service, ips: Sequence[IPAddress]) -> Allocation:
        key = SharingKey(service.sharing_key, service.backend_key)
        ordered = tuple(sorted(ips, key=lambda address: service.ip_families.index(family_of(address))))
        held_by = service.key  # one string for the pool and the holder index
        for address in ordered:
            pool.take(address, held_by, key, service.ports)
        allocation = Allocation(pool.pool.name, ordered)
        self._held[held_by] = _Held(service, allocation)
        return allocation

    def _pool_for(self, ips: Sequence[IPAddress], service: Service) -> tuple[PoolState | None, str]:
        def listed() -> str:  # only for a refusal: a restart re-claims 100,000 without one
            return ", ".join(map(str, ips))

        names = [self.pool_of(address) for address in ips]
        outside = [str(address) for address, name in zip(ips, names, strict=True) if name is None]
        if outside:
            verb = "is" if len(outside) == 1 else "are"
            return None, f"{', '.join(outside)} {verb} in no pool; use addresses of a pool or add them to one"
        if len(set(names)) > 1:
            return None, f"{listed()} come from different pools; request addresses from one pool"
        pool = self._pools[str(names[0])]
        name = pool.pool.name
        if not all(pool.pool.is_usable(address) for address in ips):
            return (
                None,
                f"{listed()}: pool {quoted(name)} sets avoidBuggyIPs, which rules out .0 and .255; "
                "pick others",
            )
        if not pool.pool.serves(*_who(service)):
            return None, _not_served(name)
        if service.pool and service.pool != name:
            return (
                None,
                f"{listed()} {'is' if len(ips) == 1 else 'are'} in pool {quoted(name)}, "
                f"not in {quoted(service.pool)} (address-pool annotation)",
            )
        return pool, ""


def _key(service: Service | str) -> str:
    return service if isinstance(service, str) else service.key


def _who(service: Service) -> tuple[str, Mapping[str, str], Mapping[str, str]]:
    return service.namespace, service.namespace_labels, service.labels


def _not_served(pool: str) -> str:
    return (
        f"pool {quoted(pool)} does not serve it (its serviceAllocation selects other namespaces or labels); "
        "widen that serviceAllocation or use another pool"
    )


def _priority_order(state: PoolState) -> tuple[tuple[int, int], str]:
    allocation = state.pool.service_allocation
    return (allocation.order if allocation else (1, 0)), state.pool.name


def _check_pools(pools: Sequence[AddressPool]) -> None:
    names = [pool.name for pool in pools]
    problems = [
        f"pool name {quoted(name)} is used twice" for name in sorted(set(names)) if names.count(name) > 1
    ]
    problems += [describe_overlap(overlap) for overlap in pool_overlaps(pools)]
    if problems:
        raise PoolConfigError("; ".join(problems))


def _family_refusal(service: Service, ips: Sequence[IPAddress]) -> str:
    families = [family_of(address) for address in ips]
    if not ips or len(ips) > 2 or len(set(families)) != len(families):
        return "give one address, or one IPv4 and one IPv6 address"
    wanted = set(service.ip_families)
    if set(families) == wanted:
        return ""
    if service.ip_family_policy is FamilyPolicy.PREFER_DUAL_STACK and set(families) < wanted:
        return ""
    subject = f"address {ips[0]} does" if len(ips) == 1 else f"addresses {', '.join(map(str, ips))} do"
    return (
        f"{subject} not match the Service's IP families "
        f"({', '.join(service.ip_families)}); request one address per family of the Service"
    )


def _best_choice(pools: Sequence[PoolState], service: Service) -> tuple[PoolState, list[IPAddress]] | None:
    """Pick like MetalLB: the first pool with all families, else (PreferDualStack) one family."""
    key = SharingKey(service.sharing_key, service.backend_key)
    fallbacks: dict[IPFamily, tuple[PoolState, list[IPAddress]]] = {}
    for pool in pools:
        found = {
            family: address
            for family in service.ip_families
            if (address := pool.candidate(family, service.key, key, service.ports)) is not None
        }
        if len(found) == len(service.ip_families):
            return pool, list(found.values())
        for family, address in found.items():
            fallbacks.setdefault(family, (pool, [address]))
    if service.ip_family_policy is not FamilyPolicy.PREFER_DUAL_STACK:
        return None
    return next((fallbacks[family] for family in service.ip_families if family in fallbacks), None)


def _exhausted_message(pools: Sequence[PoolState], service: Service, which: str) -> str:
    families = " and ".join(service.ip_families)
    same_pool = " from one pool" if service.wants_both_families else ""
    details = "; ".join(
        ", ".join(_family_detail(state, family) for family in service.ip_families) for state in pools
    )
    if len(pools) == 1:
        return f"pool {quoted(pools[0].pool.name)} has no free {families} address{same_pool} ({details})"
    return f"{which} have no free {families} address{same_pool} ({details})"


def _family_detail(state: PoolState, family: IPFamily) -> str:
    usage = state.usage(family)
    if usage.total == 0:
        return f"pool {quoted(state.pool.name)} has no {family} addresses"
    return f"pool {quoted(state.pool.name)}: {family} {usage.in_use} of {usage.total} in use"
