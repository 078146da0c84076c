"""The controller's view of a Service object: is it ours, what does it hold, what does it ask.

What the allocator needs (families, requested IPs, pool, sharing and backend keys, ports) is
read by :func:`..services.service_from_manifest`; this module adds what only the controller
cares about: the type and class that decide whether the Service is ours, and the addresses
its status already holds, which are re-claimed on start. :func:`slim_service` keeps of a Service
object what the controller reads, for its cache.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPAddress
from ansible_collections.baremetal.lb.plugins.module_utils.services import allocated_pool, ingress_ips

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
    holds it) and the rest are not, nor kept alive: they are more than half of a Service as
    listed (``bench/controller_scale_bench.py``: ~8 KB each, 1.1 GB at 100,000 Services).
    Values that many Services repeat (namespace, creation second, spec enums, IP families,
    protocols, label and annotation values) are interned: one string each, not one a Service.
    """
    meta, spec = service.get("metadata") or {}, service.get("spec") or {}
    kept_meta = {key: meta[key] for key in _METADATA if key in meta}
    for key in ("namespace", "creationTimestamp"):
        if key in kept_meta:
            kept_meta[key] = _shared(kept_meta[key])
    for key in ("labels", "annotations"):
        if isinstance(meta.get(key), dict):
            kept_meta[key] = {
                name: _shared(value) for name, value in meta[key].items() if name not in _IGNORED_ANNOTATIONS
            }
    kept_spec = {
        key: _shared(spec[key]) if key in _REPEATED_SPEC else spec[key] for key in _SPEC if key in spec
    }
    if spec.get("clusterIPs"):  # it leads with clusterIP; _families reads it first
        kept_spec.pop("clusterIP", None)
    if isinstance(spec.get("ipFamilies"), list):
        kept_spec["ipFamilies"] = [_shared(family) for family in spec["ipFamilies"]]
    if "ports" in spec:
        kept_spec["ports"] = [
            {key: _shared(port[key]) for key in _PORT if key in port}
            for port in spec.get("ports") or ()
            if port
        ]
    slim: JSON = {"metadata": kept_meta, "spec": kept_spec}
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress")
    if isinstance(ingress, list):
        entries = [
            {key: value if key == "ip" else _shared(value) for key, value in e.items()} for e in ingress
        ]
        slim["status"] = {"loadBalancer": {"ingress": entries}}
    return slim


def _shared(value: object) -> object:
    """One string for every equal one (``sys.intern``); anything else as it is."""
    return sys.intern(value) if isinstance(value, str) else value


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
