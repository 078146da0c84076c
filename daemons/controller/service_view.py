"""The controller's view of a Service object: is it ours, what does it hold, what does it ask.

What the allocator needs (families, requested IPs, pool, sharing and backend keys, ports) is
read by :func:`..services.service_from_manifest`; this module adds what only the controller
cares about: the type and class that decide whether the Service is ours, and the addresses
its status already holds, which are re-claimed on start.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPAddress
from ansible_collections.baremetal.lb.plugins.module_utils.services import allocated_pool, ingress_ips

from ..kube.kubeapi import JSON


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
