"""Read the Kubernetes objects the speaker watches into the plain facts the decisions take.

Services, EndpointSlices and Nodes are read by module_utils' ``cluster_facts`` (shared with
``lb_info``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

# The readers lb_info shares live in module_utils; re-exported here for the speaker's modules.
from ansible_collections.baremetal.lb.plugins.module_utils.cluster_facts import (
    SERVICE_NAME_LABEL,
    endpoints_by_service,
    node_facts,
    service_facts,
)

__all__ = [
    "SERVICE_NAME_LABEL",
    "endpoints_by_service",
    "internal_ip",
    "node_facts",
    "peers",
    "served",
    "service_facts",
]

JSON = dict[str, Any]


def served(service: JSON, lb_class: str) -> bool:
    """True for a LoadBalancer Service of our class (``""``: only Services without a class)."""
    spec = service.get("spec") or {}
    return spec.get("type") == "LoadBalancer" and str(spec.get("loadBalancerClass") or "") == lb_class


def node_named(nodes: Iterable[JSON], name: str) -> JSON:
    """The Node object called ``name``, or {} when it is not (yet) known."""
    return next((node for node in nodes if node["metadata"]["name"] == name), {})


def internal_ip(node: JSON, version: int) -> str | None:
    """The Node's first InternalIP of IP ``version``, or None."""
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") != "InternalIP":
            continue
        try:
            if ipaddress.ip_address(address.get("address", "")).version == version:
                return str(address["address"])
        except ValueError:
            continue
    return None


def peers(nodes: Iterable[JSON], version: int, port: int) -> dict[str, tuple[str, int]]:
    """Membership peers: every Node's InternalIP of ``version`` (speakers use the host network)."""
    found = {}
    for node in nodes:
        address = internal_ip(node, version)
        if address:
            found[str(node["metadata"]["name"])] = (address, port)
    return found
