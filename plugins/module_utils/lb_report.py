"""What module ``lb_info`` reports: pools with their usage, and who announces each Service IP.

Pure: takes the objects as plain dicts (IPAddressPools and advertisements, Services,
ServiceL2Statuses) and returns plain dicts. Pool sizes come from :meth:`.pools.AddressPool.capacity`,
so a /64 costs what a /28 costs; usage counts the distinct addresses Services hold
(``status.loadBalancer.ingress``), each in the pool whose range holds it.

Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .addresses import (
    AddressError,
    AddressRange,
    IPAddress,
    IPFamily,
    family_of,
    parse_address,
    parse_address_entry,
)
from .label_selectors import LabelSelector, label_selector_problems, matches_any, parse_label_selector
from .metallb_kinds import cluster_resources
from .pools import AddressPool
from .services import IP_ALLOCATED_FROM_POOL, annotation_value
from .validation import validate_resources

Manifest = Mapping[str, Any]
LOAD_BALANCER = "LoadBalancer"
LAYER2, BGP = "layer2", "bgp"


def build_report(
    config_objects: Sequence[Manifest],
    services: Sequence[Manifest],
    l2_statuses: Sequence[Manifest] = (),
    service_namespace: str | None = None,
) -> dict[str, Any]:
    """The whole report.

    ``config_objects`` are the metallb.io configuration objects (each with ``kind``);
    ``services`` every Service whose addresses count towards pool usage; ``service_namespace``
    only narrows the list of Services reported, never the usage.
    """
    pools = [_pool(obj) for obj in config_objects if obj.get("kind") == "IPAddressPool"]
    protocols = _protocols(pools, config_objects)
    balancers = [svc for svc in services if (svc.get("spec") or {}).get("type") == LOAD_BALANCER]
    held = _held_addresses(balancers)
    reported = [
        _service(svc, pools, l2_statuses)
        for svc in balancers
        if service_namespace is None or _meta(svc, "namespace") == service_namespace
    ]
    errors = validate_resources(cluster_resources(config_objects))
    return {
        "pools": [_pool_usage(pool, held, protocols.get(pool.name, [])) for pool in pools],
        "services": sorted(reported, key=lambda item: (item["namespace"], item["name"])),
        "config_errors": [str(error) for error in errors],
    }


def _meta(obj: Manifest, key: str) -> str:
    return str((obj.get("metadata") or {}).get(key) or "")


def _pool(obj: Manifest) -> AddressPool:
    """The pool's usable model; entries that do not parse are left out (``config_errors`` says why)."""
    spec = obj.get("spec") or {}
    ranges: list[AddressRange] = []
    for entry in spec.get("addresses") or []:
        try:
            ranges.append(parse_address_entry(str(entry)))
        except AddressError:
            continue
    return AddressPool(
        _meta(obj, "name"),
        tuple(ranges),
        auto_assign=spec.get("autoAssign") is not False,
        avoid_buggy_ips=spec.get("avoidBuggyIPs") is True,
        labels=(obj.get("metadata") or {}).get("labels") or {},
    )


def _protocols(pools: Sequence[AddressPool], objects: Sequence[Manifest]) -> dict[str, list[str]]:
    """For each pool, the protocols advertisements announce it with (``layer2``, ``bgp``)."""
    found: dict[str, set[str]] = {}
    for obj in objects:
        protocol = {"L2Advertisement": LAYER2, "BGPAdvertisement": BGP}.get(str(obj.get("kind")))
        if protocol is None:
            continue
        for pool in pools:
            if _selects(obj.get("spec") or {}, pool):
                found.setdefault(pool.name, set()).add(protocol)
    return {name: sorted(protocols) for name, protocols in found.items()}


def _selects(spec: Manifest, pool: AddressPool) -> bool:
    """Whether an advertisement selects ``pool`` (no names and no selectors: every pool)."""
    names = spec.get("ipAddressPools") or []
    raw_selectors = spec.get("ipAddressPoolSelectors") or []
    if not names and not raw_selectors:
        return True
    selectors: tuple[LabelSelector, ...] = tuple(
        parse_label_selector(item) for item in raw_selectors if not label_selector_problems(item)
    )
    return pool.name in names or matches_any(selectors, pool.labels)


def _ingress_ips(service: Manifest) -> list[IPAddress]:
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    ips = []
    for item in ingress:
        try:
            ips.append(parse_address(str(item.get("ip") or "")))
        except AddressError:
            continue  # a hostname, or nothing
    return ips


def _held_addresses(services: Iterable[Manifest]) -> set[IPAddress]:
    """Every address some Service holds; a shared address counts once."""
    return {ip for service in services for ip in _ingress_ips(service)}


def _pool_of(ip: IPAddress, pools: Sequence[AddressPool]) -> AddressPool | None:
    return next((pool for pool in pools if any(ip in entry for entry in pool.ranges)), None)


def _pool_usage(pool: AddressPool, held: set[IPAddress], protocols: list[str]) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "name": pool.name,
        "addresses": [str(entry) for entry in pool.ranges],
        "auto_assign": pool.auto_assign,
        "avoid_buggy_ips": pool.avoid_buggy_ips,
        "protocols": protocols,
    }
    for family, key in ((IPFamily.IPV4, "ipv4"), (IPFamily.IPV6, "ipv6")):
        total = pool.capacity(family)
        in_use = sum(1 for ip in held if family_of(ip) is family and pool.is_usable(ip))
        usage[key] = {"total": total, "in_use": in_use, "free": total - in_use}
    return usage


def _service(
    service: Manifest, pools: Sequence[AddressPool], l2_statuses: Sequence[Manifest]
) -> dict[str, Any]:
    namespace, name = _meta(service, "namespace"), _meta(service, "name")
    annotations = (service.get("metadata") or {}).get("annotations") or {}
    spec = service.get("spec") or {}
    layer2 = _layer2_reports(namespace, name, l2_statuses)
    ips = _ingress_ips(service)
    announcements = []
    for ip in ips:
        pool = _pool_of(ip, pools)
        announcements.append(
            {
                "ip": str(ip),
                "family": str(family_of(ip)),
                "pool": pool.name if pool else None,
                "layer2": layer2,
                "bgp": None,
            }
        )
    derived = {item["pool"] for item in announcements if item["pool"]}
    return {
        "namespace": namespace,
        "name": name,
        "ips": [str(ip) for ip in ips],
        "pool": annotation_value(annotations, IP_ALLOCATED_FROM_POOL)
        or (derived.pop() if len(derived) == 1 else None),
        "load_balancer_class": spec.get("loadBalancerClass"),
        "external_traffic_policy": spec.get("externalTrafficPolicy") or "Cluster",
        "pending": not ips,
        "announcements": announcements,
    }


def _layer2_reports(namespace: str, name: str, statuses: Sequence[Manifest]) -> list[dict[str, Any]]:
    """The nodes whose speakers report announcing the Service in layer 2, and on which interfaces.

    A speaker announces all addresses of a Service from one node (ownership hashes the Service's
    first address), so the reports hold for each of its addresses.
    """
    reports = []
    for obj in statuses:
        status = obj.get("status") or {}
        labels = (obj.get("metadata") or {}).get("labels") or {}
        service_namespace = status.get("serviceNamespace") or labels.get("metallb.io/service-namespace")
        service_name = status.get("serviceName") or labels.get("metallb.io/service-name")
        node = status.get("node") or labels.get("metallb.io/node")
        if (service_namespace, service_name) != (namespace, name) or not node:
            continue
        interfaces = sorted(
            str(item.get("name")) for item in status.get("interfaces") or [] if item.get("name")
        )
        reports.append({"node": node, "interfaces": interfaces})
    return sorted(reports, key=lambda item: item["node"])
