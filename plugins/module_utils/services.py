"""The facts of a Service that MetalLB cares about, read from its annotations, spec and status.

One place for each: the annotation names, the addresses a Service asks for
(:func:`requested_ips`), its pool and sharing key (:func:`service_from_manifest`), the
addresses it holds (:func:`ingress_ips`) and the pool they came from (:func:`allocated_pool`).
The controller, the speakers, the modules ``lb_info`` and ``expose`` and the tests read them here.

Annotations come in two spellings; the ``metallb.io/`` form wins over the deprecated
``metallb.universe.tf/`` form whenever it is present, even when empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from .addresses import AddressError, IPAddress, IPFamily, family_of, parse_address

ANNOTATION_PREFIX = "metallb.io/"
DEPRECATED_ANNOTATION_PREFIX = "metallb.universe.tf/"
ADDRESS_POOL = "address-pool"
LOAD_BALANCER_IPS = "loadBalancerIPs"
ALLOW_SHARED_IP = "allow-shared-ip"
IP_ALLOCATED_FROM_POOL = "ip-allocated-from-pool"
LOCAL_TRAFFIC = "Local"
"""``spec.externalTrafficPolicy`` of a Service served only by nodes with its endpoints."""
# Reasons of the Warning Events the controller puts on a Service (lb_info reads them back).
ALLOCATION_FAILED = "AllocationFailed"  # no address now; retried when addresses free up
LOAD_BALANCER_FAILED = "LoadBalancerFailed"  # the Service's request itself is invalid
NOT_ANNOUNCED = "NotAnnounced"  # it has addresses, but no advertisement announces them


class FamilyPolicy(StrEnum):
    """``spec.ipFamilyPolicy`` of a Service."""

    SINGLE_STACK = "SingleStack"
    PREFER_DUAL_STACK = "PreferDualStack"
    REQUIRE_DUAL_STACK = "RequireDualStack"


class ServiceRequestError(ValueError):
    """A Service asks for something malformed; the message says what to change."""


Port = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Service:
    """The parts of a LoadBalancer Service that decide which addresses it gets.

    ``ip_families`` is the Service's families in order (from ``spec.clusterIPs``); two entries
    mean a dual-stack Service, whose policy then says whether one family is enough.
    """

    namespace: str
    name: str
    ip_families: tuple[IPFamily, ...] = (IPFamily.IPV4,)
    ip_family_policy: FamilyPolicy = FamilyPolicy.SINGLE_STACK
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    requested_ips: tuple[IPAddress, ...] = ()
    pool: str = ""
    sharing_key: str = ""
    external_traffic_policy: str = "Cluster"
    selector: Mapping[str, str] = field(default_factory=dict)
    ports: frozenset[Port] = frozenset()

    @property
    def key(self) -> str:
        """Return ``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    @property
    def backend_key(self) -> str:
        """Return the backend key: empty for Cluster traffic policy, the selector for Local."""
        if self.external_traffic_policy != LOCAL_TRAFFIC:
            return ""
        return ",".join(f"{name}={value}" for name, value in sorted(self.selector.items()))

    @property
    def wants_both_families(self) -> bool:
        """Return True when the Service is dual-stack (two cluster IP families)."""
        return len(self.ip_families) > 1


def annotation(name: str, deprecated: bool = False) -> str:
    """Return the full annotation name: ``metallb.io/address-pool`` (or the deprecated form)."""
    return (DEPRECATED_ANNOTATION_PREFIX if deprecated else ANNOTATION_PREFIX) + name


def annotation_value(annotations: Mapping[str, str], name: str) -> str | None:
    """Return annotation ``name`` (like ``address-pool``); ``metallb.io/`` wins over the old prefix."""
    for deprecated in (False, True):
        if annotation(name, deprecated) in annotations:
            return annotations[annotation(name, deprecated)]
    return None


def ingress(service: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Return the entries of ``status.loadBalancer.ingress`` as written (``ip``, ``hostname`` ...)."""
    return list(((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or ())


def ingress_ips(service: Mapping[str, Any]) -> tuple[IPAddress, ...]:
    """Return the addresses a Service holds (``status.loadBalancer.ingress``), in order.

    Entries with only a hostname, or with an ``ip`` that is not an address, are skipped.
    """
    held = []
    for entry in ingress(service):
        try:
            held.append(parse_address(str(entry.get("ip") or "")))
        except AddressError:
            continue
    return tuple(held)


def allocated_pool(service: Mapping[str, Any]) -> str:
    """Return the pool the controller took the Service's addresses from; empty when not written."""
    annotations = (service.get("metadata") or {}).get("annotations") or {}
    return annotation_value(annotations, IP_ALLOCATED_FROM_POOL) or ""


def requested_ips(annotations: Mapping[str, str], load_balancer_ip: str = "") -> tuple[IPAddress, ...]:
    """Return the addresses a Service asks for, from ``loadBalancerIPs`` or ``spec.loadBalancerIP``.

    Raises :class:`ServiceRequestError` when both are set, an address is malformed, or two
    addresses share a family.
    """
    listed = annotation_value(annotations, LOAD_BALANCER_IPS) or ""
    if listed and load_balancer_ip:
        raise ServiceRequestError(
            f"the Service sets both {annotation(LOAD_BALANCER_IPS)} and spec.loadBalancerIP; "
            "keep only the annotation"
        )
    texts = [text for text in (listed or load_balancer_ip).split(",") if text.strip()]
    try:
        addresses = tuple(parse_address(text) for text in texts)
    except AddressError as error:
        raise ServiceRequestError(f"requested load balancer IP: {error}") from None
    families = [family_of(address) for address in addresses]
    if len(set(families)) != len(families):
        raise ServiceRequestError(
            f"requested load balancer IPs {listed!r} hold two addresses of one family; "
            "request at most one IPv4 and one IPv6 address"
        )
    return addresses


def service_from_manifest(
    obj: Mapping[str, Any], namespace_labels: Mapping[str, str] | None = None
) -> Service:
    """Build a :class:`Service` from a Service object given as a plain dict.

    Raises :class:`ServiceRequestError` when its requested addresses are malformed.
    """
    metadata, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    annotations = metadata.get("annotations") or {}
    return Service(
        namespace=metadata.get("namespace") or "default",
        name=metadata.get("name") or "",
        ip_families=_families(spec),
        ip_family_policy=FamilyPolicy(spec.get("ipFamilyPolicy") or FamilyPolicy.SINGLE_STACK),
        namespace_labels=frozen_labels(namespace_labels or {}),
        labels=frozen_labels(metadata.get("labels") or {}),
        requested_ips=requested_ips(annotations, spec.get("loadBalancerIP") or ""),
        pool=annotation_value(annotations, ADDRESS_POOL) or "",
        sharing_key=annotation_value(annotations, ALLOW_SHARED_IP) or "",
        external_traffic_policy=spec.get("externalTrafficPolicy") or "Cluster",
        selector=dict(spec.get("selector") or {}) if selector_is_read(spec) else _NO_SELECTOR,
        ports=_shared_ports(
            tuple((port.get("protocol") or "TCP", int(port["port"])) for port in spec.get("ports") or ())
        ),
    )


_NO_SELECTOR: Mapping[str, str] = MappingProxyType({})
"""The selector of a Service whose selector is not read (one empty mapping for the allocator's
100,000 Services)."""


def selector_is_read(spec: Mapping[str, Any]) -> bool:
    """Whether anything reads the selector of a Service with ``spec``: only a Local one's.

    :attr:`Service.backend_key` keys a Local Service's backends by its selector and is empty
    for any other; so the controller's cache and :func:`service_from_manifest` keep no other.
    """
    return bool(spec.get("externalTrafficPolicy") == LOCAL_TRAFFIC)


def frozen_labels(labels: Mapping[str, str]) -> Mapping[str, str]:
    """A read-only copy of ``labels`` (or annotations), one for all equal sets.

    The controller's allocator keeps a :class:`Service` for each of up to 100,000 Services, each
    with its namespace's labels, and its cache keeps each Service's labels and annotations: equal
    sets share one copy instead of one dict a Service.
    """
    try:
        return _shared_labels(tuple(sorted(labels.items())))
    except TypeError:  # a value that cannot be a dictionary key (not a Kubernetes label): its own copy
        return MappingProxyType(dict(labels))


@lru_cache(maxsize=4096)
def _shared_labels(items: tuple[tuple[str, str], ...]) -> Mapping[str, str]:
    return MappingProxyType(dict(items))


@lru_cache(maxsize=4096)
def _shared_ports(ports: tuple[Port, ...]) -> frozenset[Port]:
    """The ports as a set, one for all Services with the same ports (most have 80 or 443 only)."""
    return frozenset(ports)


def _families(spec: Mapping[str, Any]) -> tuple[IPFamily, ...]:
    cluster_ips = [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip and ip != "None"]
    if cluster_ips:
        return tuple(family_of(parse_address(ip)) for ip in cluster_ips)
    return tuple(IPFamily(family) for family in spec.get("ipFamilies") or ["IPv4"])
