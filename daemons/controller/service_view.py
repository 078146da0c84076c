"""The controller's view of a Service object: is it ours, what does it hold, what does it ask.

What the allocator needs (families, requested IPs, pool, sharing and backend keys, ports) is
read by :func:`..services.service_from_manifest`; this module adds what only the controller
cares about: the type and class that decide whether the Service is ours, and the addresses
its status already holds, which are re-claimed on start. :func:`slim_service` keeps of a Service
object what the controller reads, for its cache.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPAddress
from ansible_collections.baremetal.lb.plugins.module_utils.services import (
    allocated_pool,
    frozen_labels,
    ingress_ips,
    selector_is_read,
)

from ..kube.kubeapi import JSON

_METADATA = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp", "labels", "annotations")
"""What the controller reads of a Service's metadata: its key, its version (status writes are
conditional on it), its age (re-claim order), the labels advertisements select on, the annotations
(pool, requested IPs, sharing, the pool it came from, failback) and the uid and version its Events
name."""
_SPEC = (  # and ports
    "type",
    "loadBalancerClass",
    "clusterIP",
    "clusterIPs",
    "ipFamilies",
    "ipFamilyPolicy",
    "loadBalancerIP",
    "externalTrafficPolicy",
    "selector",
)
"""What :class:`ServiceView` and ``services.service_from_manifest`` read of the spec (and ``ports``)."""
_PORT = ("protocol", "port")
"""What the allocator reads of each port: sharing an address needs distinct ports."""
_IGNORED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})
"""A copy of the whole manifest, written by ``kubectl apply``; nothing of it is read."""
_REPEATED_SPEC = ("type", "ipFamilyPolicy", "externalTrafficPolicy", "loadBalancerClass")
"""Spec values most Services share ("LoadBalancer", "SingleStack", ...)."""


def slim_service(service: JSON) -> JSON:
    """A Service as the controller caches it: only what the controller reads (a new object).

    Everything :class:`ServiceView`, the allocator's ``service_from_manifest``, the status
    writer and the Event recorder read is kept as the API server wrote it; managedFields, the
    ports' names and node ports, session affinity, ``clusterIP`` beside ``clusterIPs`` (which
    holds it), the selector of a Service whose traffic policy is not Local (only a Local
    Service's backends are keyed by it) and the rest are not, nor kept alive: they are more than
    half of a Service as listed (``bench/controller_scale_bench.py``: ~8 KB each, 1.1 GB at
    100,000 Services).

    What many Services repeat is held once: strings (namespace, creation second, spec enums,
    protocols, selector and ingress keys) are interned, and the labels, annotations, ports and
    IP families are read-only values (mapping proxies, tuples) that Services with equal ones
    share, so a cached Service must not be changed in place (nothing does: a write's answer
    replaces it whole). A Service read from a watch event is decoded on its own, with its own
    copy of every key and value; sharing matters most there.
    """
    meta, spec = service.get("metadata") or {}, service.get("spec") or {}
    kept_meta = {key: meta[key] for key in _METADATA if key in meta}
    for key in ("namespace", "creationTimestamp"):
        if key in kept_meta:
            kept_meta[key] = _shared(kept_meta[key])
    for key in ("labels", "annotations"):
        if isinstance(meta.get(key), Mapping):
            kept_meta[key] = frozen_labels(
                {name: value for name, value in meta[key].items() if name not in _IGNORED_ANNOTATIONS}
            )
    kept_spec = {
        key: _shared(spec[key]) if key in _REPEATED_SPEC else spec[key] for key in _SPEC if key in spec
    }
    if spec.get("clusterIPs"):  # it leads with clusterIP; _families reads it first
        kept_spec.pop("clusterIP", None)
    if not selector_is_read(spec):
        kept_spec.pop("selector", None)
    elif isinstance(spec.get("selector"), Mapping):
        kept_spec["selector"] = {_shared(name): value for name, value in spec["selector"].items()}
    if isinstance(spec.get("ipFamilies"), list | tuple):
        kept_spec["ipFamilies"] = _frozen_families([_shared(family) for family in spec["ipFamilies"]])
    if "ports" in spec:
        kept_spec["ports"] = _frozen_ports(
            [
                {key: _shared(port[key]) for key in _PORT if key in port}
                for port in spec.get("ports") or ()
                if port
            ]
        )
    slim: JSON = {"metadata": kept_meta, "spec": kept_spec}
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress")
    if isinstance(ingress, list):
        entries = [
            {_shared(key): value if key == "ip" else _shared(value) for key, value in e.items()}
            for e in ingress
        ]
        slim["status"] = {"loadBalancer": {"ingress": entries}}
    return slim


def _shared(value: object) -> object:
    """One string for every equal one (``sys.intern``); anything else as it is."""
    return sys.intern(value) if isinstance(value, str) else value


def _frozen_families(families: list[object]) -> tuple[object, ...]:
    """The IP families as a tuple, the same one for equal lists."""
    try:
        return _one_families(tuple(families))
    except TypeError:  # a value that cannot be a dictionary key (not a family): its own tuple
        return tuple(families)


@lru_cache(maxsize=256)
def _one_families(families: tuple[object, ...]) -> tuple[object, ...]:
    return families


def _frozen_ports(ports: list[dict[str, object]]) -> tuple[Mapping[str, object], ...]:
    """Read-only ports (protocol and number), the same tuple for Services with equal ports."""
    try:
        return _one_ports(tuple(tuple(port.items()) for port in ports))
    except TypeError:  # a value that cannot be a dictionary key (not a port): its own copy
        return tuple(MappingProxyType(port) for port in ports)


@lru_cache(maxsize=4096)
def _one_ports(ports: tuple[tuple[tuple[str, object], ...], ...]) -> tuple[Mapping[str, object], ...]:
    return tuple(MappingProxyType(dict(port)) for port in ports)


@dataclass(frozen=True)
class ServiceView:
    """The ownership and status facts of one Service."""

    key: str
    namespace: str
    is_load_balancer: bool
    lb_class: str
    held_ips: tuple[IPAddress, ...]
    allocated_from: str
    created: str

    @classmethod
    def of(cls, service: JSON) -> ServiceView:
        """Read the facts from a Service object as the API server returns it."""
        meta, spec = service["metadata"], service.get("spec") or {}
        return cls(
            key=f"{meta['namespace']}/{meta['name']}",
            namespace=str(meta["namespace"]),
            is_load_balancer=spec.get("type") == "LoadBalancer",
            lb_class=str(spec.get("loadBalancerClass") or ""),
            held_ips=ingress_ips(service),
            allocated_from=allocated_pool(service),
            created=str(meta.get("creationTimestamp") or ""),
        )

    def served_by(self, lb_class: str) -> bool:
        """True when a controller started with ``--lb-class=lb_class`` owns this Service."""
        return self.is_load_balancer and self.lb_class == lb_class
