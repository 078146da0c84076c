"""Allocator throughput: 100,000 addresses in use in a /15 and in a /64, and /28 vs /64.

A /16 holds only 65,536 addresses, so the IPv4 figures use a /15 (131,072).

Run: .venv/bin/python bench/allocator_bench.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPFamily
from ansible_collections.baremetal.lb.plugins.module_utils.allocator import Allocator
from ansible_collections.baremetal.lb.plugins.module_utils.pools import AddressPool
from ansible_collections.baremetal.lb.plugins.module_utils.services import Service

IN_USE = 100_000
ROUNDS = 20_000


def _services(prefix: str, count: int, family: IPFamily) -> list[Service]:
    return [Service("bench", f"{prefix}{i}", ip_families=(family,)) for i in range(count)]


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _fill(cidr: str, family: IPFamily, avoid_buggy_ips: bool = False) -> tuple[Allocator, list[Service]]:
    allocator = Allocator([AddressPool.from_strings("bench", [cidr], avoid_buggy_ips=avoid_buggy_ips)])
    held = _services("held-", IN_USE, family)
    seconds = _timed(lambda: [allocator.allocate(service) for service in held])
    print(f"  fill {IN_USE} into {cidr:<16} {IN_USE / seconds:>10,.0f} allocations/s")
    return allocator, held


def _churn(allocator: Allocator, held: list[Service], family: IPFamily, label: str) -> None:
    """Release one held address and allocate a new Service, ROUNDS times, at 100k in use."""
    newcomers = _services("new-", ROUNDS, family)

    def cycle() -> None:
        for index, service in enumerate(newcomers):
            allocator.release(held[(index * 7919) % IN_USE])
            allocator.allocate(service)

    seconds = _timed(cycle)
    print(f"  churn at {IN_USE} in use, {label:<12} {ROUNDS / seconds:>10,.0f} release+allocate/s")


def _one_allocation_cost(cidr: str, family: IPFamily, repeats: int = 20_000) -> float:
    allocator = Allocator([AddressPool.from_strings("bench", [cidr])])
    for service in _services("pre-", 8, family):
        allocator.allocate(service)
    probe = Service("bench", "probe", ip_families=(family,))

    def cycle() -> None:
        for _unused in range(repeats):
            allocator.allocate(probe)
            allocator.release(probe)

    return _timed(cycle) / repeats * 1e6


def main() -> None:
    """Print the figures."""
    for cidr, family, avoid in (
        ("10.0.0.0/15", IPFamily.IPV4, False),
        ("10.0.0.0/15", IPFamily.IPV4, True),
        ("2001:db8::/64", IPFamily.IPV6, False),
    ):
        print(f"{cidr} avoidBuggyIPs={avoid}:")
        allocator, held = _fill(cidr, family, avoid)
        _churn(allocator, held, family, "(holes)")
    print("one allocate+release with 8 in use:")
    for cidr, family in (("10.0.0.0/28", IPFamily.IPV4), ("2001:db8::/64", IPFamily.IPV6)):
        print(f"  {cidr:<16} {_one_allocation_cost(cidr, family):6.2f} us")


if __name__ == "__main__":
    main()
