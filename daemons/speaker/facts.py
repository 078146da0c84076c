"""Read the Kubernetes objects the speaker watches into the plain facts the decisions take."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.baremetal.lb.plugins.module_utils.ownership import Endpoint, NodeFacts, ServiceFacts
from ansible_collections.baremetal.lb.plugins.module_utils.services import allocated_pool, ingress_ips

JSON = dict[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def served(service: JSON, lb_class: str) -> bool:
    """True for a LoadBalancer Service of our class (``""``: only Services without a class)."""
    spec = service.get("spec") or {}
    return spec.get("type") == "LoadBalancer" and str(spec.get("loadBalancerClass") or "") == lb_class


def endpoints_by_service(slices: Iterable[JSON]) -> dict[str, list[Endpoint]]:
    """Every endpoint of every EndpointSlice, by ``namespace/service``."""
    found: dict[str, list[Endpoint]] = {}
    for item in slices:
        meta = item.get("metadata") or {}
        service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if not service:
            continue
        bucket = found.setdefault(f"{meta.get('namespace')}/{service}", [])
        for endpoint in item.get("endpoints") or []:
            conditions = endpoint.get("conditions") or {}
            bucket.append(
                Endpoint(endpoint.get("nodeName"), conditions.get("ready"), conditions.get("serving"))
            )
    return found


def service_facts(service: JSON, endpoints: Mapping[str, list[Endpoint]]) -> ServiceFacts:
    """The facts of one Service that the announcement protocols plan from."""
    meta, spec = service["metadata"], service.get("spec") or {}
    key = f"{meta['namespace']}/{meta['name']}"
    return ServiceFacts(
        key=key,
        ips=ingress_ips(service),
        local_traffic_policy=spec.get("externalTrafficPolicy") == "Local",
        endpoints=tuple(endpoints.get(key, ())),
        pool=allocated_pool(service),
        labels=dict(meta.get("labels") or {}),
    )


def node_facts(node: JSON) -> NodeFacts:
    """Labels and the NetworkUnavailable condition of a Node."""
    conditions = (node.get("status") or {}).get("conditions") or []
    unavailable = any(c.get("type") == "NetworkUnavailable" and c.get("status") == "True" for c in conditions)
    return NodeFacts(
        labels=dict((node.get("metadata") or {}).get("labels") or {}), network_unavailable=unavailable
    )


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
