"""Judge the Services after a restart by the project's own sharing and pool rules.

Whether two Services may hold one address is decided by
:class:`~plugins.module_utils.sharing.AddressUsers` (same sharing key, same backend key, no
port used twice), fed with what :func:`~plugins.module_utils.services.service_from_manifest`
reads from each Service; which addresses the pools still hold by
:class:`~plugins.module_utils.pools.PoolIndex`. Nothing here restates those rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import parse_address
from ansible_collections.baremetal.lb.plugins.module_utils.pools import AddressPool, PoolIndex
from ansible_collections.baremetal.lb.plugins.module_utils.services import ingress_ips, service_from_manifest
from ansible_collections.baremetal.lb.plugins.module_utils.sharing import AddressUsers, SharingKey

Shown = dict[str, tuple[str, ...]]
"""The IPs each Service shows, by ``namespace/name``."""


def shown(services: Iterable[Mapping[str, Any]]) -> Shown:
    """The IPs each Service shows in ``status.loadBalancer.ingress``, as text, by key."""
    return {
        f"{obj['metadata']['namespace']}/{obj['metadata']['name']}": tuple(str(ip) for ip in ingress_ips(obj))
        for obj in services
    }


def duplicates(services: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The addresses held by Services that the sharing rules do not let share them, with why."""
    holders: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for obj in services:
        for ip in ingress_ips(obj):
            holders[str(ip)].append(obj)
    found = {}
    for ip, objs in sorted(holders.items()):
        users: AddressUsers | None = None
        for obj in sorted(objs, key=_age):
            service = service_from_manifest(obj)
            key = SharingKey(service.sharing_key, service.backend_key)
            if users is None:
                users = AddressUsers(key)
            elif (reason := users.refusal(service.key, key, service.ports)) is not None:
                found[ip] = f"{service.key}: {reason}"
                break
            users.add(service.key, key, service.ports)
    return found


@dataclass(frozen=True)
class Comparison:
    """Services that showed IPs before the restart, judged after it (keys, sorted).

    ``lost``: shows none now; ``changed``: shows others now. Neither counts when the change is
    the promise: ``moved_by_shrink``, its IPs left every pool; ``moved_on_request``, it asked
    (``loadBalancerIPs``) for others than it showed.
    """

    lost: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    moved_by_shrink: tuple[str, ...] = ()
    moved_on_request: tuple[str, ...] = ()


def compare(before: Iterable[Mapping[str, Any]], after: Shown, pools: Iterable[AddressPool]) -> Comparison:
    """Compare the Services before (objects) with what they show after; deleted ones are not judged."""
    index = PoolIndex(pools)
    found: dict[str, list[str]] = defaultdict(list)
    for obj in before:
        service = service_from_manifest(obj)
        ips = tuple(str(ip) for ip in ingress_ips(obj))
        now = after.get(service.key)
        if not ips or now is None or now == ips:
            continue
        if any(index.pool_of(parse_address(ip)) is None for ip in ips):
            found["moved_by_shrink"].append(service.key)
        elif service.requested_ips and {str(ip) for ip in service.requested_ips} != set(ips):
            found["moved_on_request"].append(service.key)
        else:
            found["changed" if now else "lost"].append(service.key)
    return Comparison(**{verdict: tuple(sorted(keys)) for verdict, keys in found.items()})


def outside_pools(snapshot: Shown, pools: Iterable[AddressPool]) -> tuple[str, ...]:
    """Services that still show an address no pool holds (a shrink the controller missed)."""
    index = PoolIndex(pools)
    return tuple(
        key
        for key, ips in sorted(snapshot.items())
        if any(index.pool_of(parse_address(ip)) is None for ip in ips)
    )


def _age(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj["metadata"]
    return str(meta.get("creationTimestamp") or ""), str(meta["name"])
