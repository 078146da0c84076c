"""The LoadBalancer Service that `kubectl expose deployment NAME --type=LoadBalancer` would make.

Plus the MetalLB annotations for a requested IP, a pool and a sharing key, and this project's
layer-2 failback policy (:mod:`.failback`). Pure data, no I/O.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .declared import content
from .failback import FAILBACK_ANNOTATION
from .services import (
    ADDRESS_POOL,
    ALLOW_SHARED_IP,
    LOAD_BALANCER_IPS,
    allocated_pool,
    annotation,
    annotation_value,
    ingress_ips,
)

_PROTOCOLS = ("TCP", "UDP", "SCTP")


class ExposeError(ValueError):
    """Bad input; the message names the option and the fix."""


@dataclass(frozen=True)
class Port:
    """One Service port."""

    port: int
    target_port: int | str | None = None
    protocol: str = "TCP"
    name: str | None = None
    node_port: int | None = None


@dataclass(frozen=True)
class ExposeRequest:
    """What the user asked to expose and how."""

    name: str
    namespace: str
    selector: dict[str, str]
    ports: tuple[Port, ...]
    load_balancer_ips: tuple[str, ...] = ()
    pool: str | None = None
    sharing_key: str | None = None
    external_traffic_policy: str = "Cluster"
    load_balancer_class: str | None = None
    ip_family_policy: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    failback: str | None = None  # a policy of :mod:`.failback`; None sets none


def parse_ports(items: list[dict[str, Any]]) -> tuple[Port, ...]:
    """Check the `ports` option: unique (protocol, port), valid numbers and protocols."""
    if not items:
        raise ExposeError("ports: give at least one port, e.g. ports: [{port: 80}]")
    ports, seen = [], set()
    for i, item in enumerate(items):
        port = _port_number(item.get("port"), f"ports[{i}].port")
        protocol = str(item.get("protocol") or "TCP").upper()
        if protocol not in _PROTOCOLS:
            raise ExposeError(f"ports[{i}].protocol: {protocol!r} is not one of {', '.join(_PROTOCOLS)}")
        if (protocol, port) in seen:
            raise ExposeError(f"ports[{i}]: {protocol}/{port} is listed twice; each port once per protocol")
        seen.add((protocol, port))
        node_port = item.get("node_port")
        ports.append(
            Port(
                port=port,
                target_port=item.get("target_port"),
                protocol=protocol,
                name=item.get("name") or (f"{protocol.lower()}-{port}" if len(items) > 1 else None),
                node_port=_port_number(node_port, f"ports[{i}].node_port") if node_port else None,
            )
        )
    return tuple(ports)


def _port_number(value: Any, path: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ExposeError(f"{path}: {value!r} is not a port number (1-65535)") from None
    if not 1 <= number <= 65535:
        raise ExposeError(f"{path}: {number} is outside 1-65535")
    return number


def check_ips(ips: list[str]) -> tuple[str, ...]:
    """Requested IPs: valid addresses, at most one per family (MetalLB's rule)."""
    families: dict[int, str] = {}
    for i, text in enumerate(ips):
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise ExposeError(f"load_balancer_ips[{i}]: {text!r} is not an IP address") from None
        if address.version in families:
            raise ExposeError(
                f"load_balancer_ips: {families[address.version]} and {text} are both IPv{address.version}; "
                "a Service gets at most one IP per family"
            )
        families[address.version] = text
    return tuple(ips)


def manifest(request: ExposeRequest) -> dict[str, Any]:
    """The Service object to apply."""
    annotations = {}
    if request.load_balancer_ips:
        annotations[annotation(LOAD_BALANCER_IPS)] = ",".join(request.load_balancer_ips)
    if request.pool:
        annotations[annotation(ADDRESS_POOL)] = request.pool
    if request.sharing_key:
        annotations[annotation(ALLOW_SHARED_IP)] = request.sharing_key
    if request.failback:
        annotations[FAILBACK_ANNOTATION] = request.failback
    spec: dict[str, Any] = {
        "type": "LoadBalancer",
        "selector": dict(request.selector),
        "externalTrafficPolicy": request.external_traffic_policy,
        "ports": [_port_spec(p) for p in request.ports],
    }
    if request.load_balancer_class:
        spec["loadBalancerClass"] = request.load_balancer_class
    if request.ip_family_policy:
        spec["ipFamilyPolicy"] = request.ip_family_policy
    metadata: dict[str, Any] = {"name": request.name, "namespace": request.namespace}
    if annotations:
        metadata["annotations"] = annotations
    if request.labels:
        metadata["labels"] = dict(request.labels)
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}


def _port_spec(port: Port) -> dict[str, Any]:
    spec: dict[str, Any] = {"port": port.port, "protocol": port.protocol}
    spec["targetPort"] = port.target_port if port.target_port is not None else port.port
    if port.name:
        spec["name"] = port.name
    if port.node_port:
        spec["nodePort"] = port.node_port
    return spec


def selector_of(deployment: dict[str, Any]) -> dict[str, str]:
    """The matchLabels of a Deployment's selector, as `kubectl expose` uses them."""
    selector = (deployment.get("spec") or {}).get("selector") or {}
    if selector.get("matchExpressions"):
        raise ExposeError(
            "the Deployment's selector uses matchExpressions, which a Service cannot express; "
            "give `selector` explicitly"
        )
    labels = selector.get("matchLabels") or {}
    if not labels:
        raise ExposeError("the Deployment has no spec.selector.matchLabels; give `selector` explicitly")
    return dict(labels)


# The annotations `expose` writes; its diff shows these and no others.
MANAGED_ANNOTATIONS = (
    annotation(LOAD_BALANCER_IPS),
    annotation(ADDRESS_POOL),
    annotation(ALLOW_SHARED_IP),
    FAILBACK_ANNOTATION,
)
# The spec fields `expose` declares; the server fills in the rest (cluster IPs, session affinity ...).
_DECLARED_SPEC = ("type", "selector", "externalTrafficPolicy", "ports", "loadBalancerClass", "ipFamilyPolicy")


def diff_view(service: dict[str, Any] | None, request: ExposeRequest | None) -> dict[str, Any]:
    """What the diff shows of ``service``: the fields ``request`` declares, no server bookkeeping.

    Ports keep ``nodePort`` only when the request declares node ports, so a check-mode diff
    (whose dry run picks throwaway node ports and cluster IPs) equals the real run's.
    """
    node_ports = request is not None and any(port.node_port for port in request.ports)

    def declared_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
        picked = {key: copy.deepcopy(spec[key]) for key in _DECLARED_SPEC if key in spec}
        picked["ports"] = [
            {key: value for key, value in port.items() if key != "nodePort" or node_ports}
            for port in picked.get("ports") or []
        ]
        return picked

    return content(service, MANAGED_ANNOTATIONS, declared_spec)


def predicted_ips(before: Mapping[str, Any] | None, request: ExposeRequest) -> list[str]:
    """The IPs the Service will have after applying ``request`` over ``before``, as far as known.

    The requested IPs (the module checked them first); else those it holds when the request
    leaves its pool alone, since the controller keeps them; else none: the controller picks.
    """
    if request.load_balancer_ips:
        return [str(ipaddress.ip_address(ip)) for ip in request.load_balancer_ips]
    if not before:
        return []
    held = [str(ip) for ip in ingress_ips(before)]
    annotations = (before.get("metadata") or {}).get("annotations") or {}
    pool = allocated_pool(before) or annotation_value(annotations, ADDRESS_POOL) or ""
    return held if not request.pool or request.pool == pool else []
