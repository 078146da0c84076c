"""Read Kubernetes objects (plain dicts) into the facts the announcement planners take.

The speaker reads what it watches through these, and ``lb_info`` what it lists, so both plan
from the same facts (:class:`.ownership.ServiceFacts`, :class:`.ownership.NodeFacts`).

Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .failback import annotated_policy
from .ownership import Endpoint, NodeFacts, ServiceFacts
from .services import LOCAL_TRAFFIC, allocated_pool, ingress_ips

JSON = dict[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
# Taints that say a node is being emptied: the node controller's mirror of a cordon, the
# cluster autoscaler's and Karpenter's marks on a node they are about to remove.
DRAIN_TAINTS = frozenset(
    {
        "node.kubernetes.io/unschedulable",
        "ToBeDeletedByClusterAutoscaler",
        "karpenter.sh/disrupted",
    }
)
_DRAIN_EFFECTS = frozenset({"NoSchedule", "NoExecute"})


def endpoints_by_service(slices: Iterable[Mapping[str, Any]]) -> dict[str, list[Endpoint]]:
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


def service_facts(service: Mapping[str, Any], endpoints: Mapping[str, Sequence[Endpoint]]) -> ServiceFacts:
    """The facts of one Service that the announcement protocols plan from."""
    meta, spec = service["metadata"], service.get("spec") or {}
    key = f"{meta['namespace']}/{meta['name']}"
    return ServiceFacts(
        key=key,
        ips=ingress_ips(service),
        local_traffic_policy=spec.get("externalTrafficPolicy") == LOCAL_TRAFFIC,
        endpoints=tuple(endpoints.get(key, ())),
        pool=allocated_pool(service),
        labels=dict(meta.get("labels") or {}),
        failback=annotated_policy(meta.get("annotations")),
    )


def node_facts(node: Mapping[str, Any]) -> NodeFacts:
    """Labels, the NetworkUnavailable condition and whether the Node is being drained."""
    conditions = (node.get("status") or {}).get("conditions") or []
    unavailable = any(c.get("type") == "NetworkUnavailable" and c.get("status") == "True" for c in conditions)
    return NodeFacts(
        labels=dict((node.get("metadata") or {}).get("labels") or {}),
        network_unavailable=unavailable,
        draining=is_draining(node),
    )


def is_draining(node: Mapping[str, Any]) -> bool:
    """True for a cordoned Node (``spec.unschedulable``) or one tainted for removal.

    The taints are :data:`DRAIN_TAINTS`, of effect NoSchedule or NoExecute.
    """
    spec = node.get("spec") or {}
    if spec.get("unschedulable"):
        return True
    return any(
        taint.get("key") in DRAIN_TAINTS and taint.get("effect") in _DRAIN_EFFECTS
        for taint in spec.get("taints") or []
    )
