"""What module ``lb_info`` reports: pools with their usage, and who announces each Service IP.

Pure: takes the objects as plain dicts (IPAddressPools and advertisements, Services,
ServiceL2Statuses, Nodes, EndpointSlices) and returns plain dicts. Layer 2 is reported as the
speakers report it (ServiceL2Status); BGP as the speakers' planner decides it
(:func:`.bgp_plan.plan_service`), from the same configuration, Nodes and endpoints. Pool sizes
come from :meth:`.pools.AddressPool.capacity`, so a /64 costs what a /28 costs; usage counts the
distinct addresses Services hold (``status.loadBalancer.ingress``), each in the pool whose range
holds it.

Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .addresses import IPAddress, IPFamily, family_of
from .announcement import describe, unannounced
from .bgp_plan import Announcement, merged_routes, plan_service
from .cluster_facts import endpoints_by_service, node_facts, service_facts
from .config_model import Config
from .l2_plan import failback_policy
from .metallb_kinds import cluster_resources
from .ownership import Endpoint, NodeFacts
from .pools import AddressPool, PoolIndex
from .services import ADDRESS_POOL, allocated_pool, annotation_value, ingress_ips
from .session_states import Sessions, SessionState, not_established, session_of, sessions_by_peer
from .status_objects import L2_STATUS_KIND, conflict, reported_service
from .validation import parse_for_report

Manifest = Mapping[str, Any]
LOAD_BALANCER = "LoadBalancer"
LAYER2, BGP = "layer2", "bgp"


def build_report(
    config_objects: Sequence[Manifest],
    services: Sequence[Manifest],
    l2_statuses: Sequence[Manifest] = (),
    service_namespace: str | None = None,
    pending_reasons: Mapping[str, str] | None = None,
    *,
    nodes: Sequence[Manifest] | None = None,
    endpoint_slices: Sequence[Manifest] | None = None,
    session_states: Sequence[Manifest] | None = None,
) -> dict[str, Any]:
    """The whole report.

    ``config_objects`` are the metallb.io configuration objects (each with ``kind``);
    ``services`` every Service whose addresses count towards pool usage; ``service_namespace``
    only narrows the list of Services reported, never the usage; ``pending_reasons`` maps
    ``namespace/name`` of Services without an address to the controller's latest reason (the
    message of its ``AllocationFailed`` or ``LoadBalancerFailed`` Event).

    With ``nodes`` (every Node, each taken to run a speaker) and ``endpoint_slices`` (those of
    the reported Services at least), each address says which nodes announce it over BGP to
    which peers, with which prefix and attributes; without them its ``bgp`` is None.

    With ``session_states`` (the speakers' BGPSessionState objects), ``sessions`` lists each
    node's session to each peer with its BGP and BFD state, each BGP route says the state of
    the session it goes out on (``session``; None when no object says it), and
    ``unestablished`` has a line for each address announced over BGP on no Established
    session. Without them, ``sessions`` is None and nothing is said about sessions.

    The configuration is read by the daemons' own parser (:mod:`.validation`). When it has
    errors, the daemons keep running on their last valid configuration; the report then lists
    every error (``config_errors``: object, field, problem and fix) and still shows each
    object as far as it parses: a pool with its entries that parse, an advertisement with the
    pools that exist.
    """
    config, errors = parse_for_report(cluster_resources(config_objects))
    index = PoolIndex(config.pools)
    protocols = _protocols(config)
    balancers = [svc for svc in services if (svc.get("spec") or {}).get("type") == LOAD_BALANCER]
    held = {ip for service in balancers for ip in ingress_ips(service)}  # a shared address counts once
    sessions = None if session_states is None else sessions_by_peer(session_states)
    inputs = _Inputs(config, index, l2_statuses, pending_reasons or {}, sessions=sessions)
    if nodes is not None and endpoint_slices is not None:
        inputs = _Inputs(
            config,
            index,
            l2_statuses,
            pending_reasons or {},
            {_meta(node, "name"): node_facts(node) for node in nodes},
            endpoints_by_service(endpoint_slices),
            sessions,
        )
    reported = sorted(
        (
            _service(svc, inputs)
            for svc in balancers
            if service_namespace is None or _meta(svc, "namespace") == service_namespace
        ),
        key=lambda item: (item["namespace"], item["name"]),
    )
    return {
        "pools": [_pool_usage(pool, held, protocols.get(pool.name, [])) for pool in config.pools],
        "services": reported,
        "config_errors": [str(error) for error in errors],
        "unannounced": [
            f"Service {item['namespace']}/{item['name']}: "
            + describe(item["ips"], item["pool"], item["unannounced"])
            for item in reported
            if item["unannounced"]
        ],
        "sessions": None
        if sessions is None
        else [_session_report(item) for _key, item in sorted(sessions.items())],
        "unestablished": [] if sessions is None else _unestablished(reported, sessions),
    }


def _session_report(session: SessionState) -> dict[str, str]:
    return {
        "node": session.node,
        "peer": session.bgppeer,
        "address": session.address,
        "bgp": session.bgp,
        "bfd": session.bfd,
    }


def _unestablished(reported: Sequence[Mapping[str, Any]], sessions: Sessions) -> list[str]:
    """One line per address routed over BGP on no Established session (each node's, each peer's)."""
    lines = []
    for item in reported:
        for announcement in item["announcements"]:
            why = not_established(((r["node"], r["peer"]) for r in announcement["bgp"] or ()), sessions)
            if why:
                lines.append(
                    f"Service {item['namespace']}/{item['name']}: {announcement['ip']} is announced over "
                    f"BGP on no Established session ({why})"
                )
    return lines


def _meta(obj: Manifest, key: str) -> str:
    return str((obj.get("metadata") or {}).get(key) or "")


def _protocols(config: Config) -> dict[str, list[str]]:
    """For each pool, the protocols advertisements announce it with (``layer2``, ``bgp``)."""
    found: dict[str, set[str]] = {}
    for protocol, advertisements in (
        (LAYER2, config.l2_advertisements),
        (BGP, config.bgp_advertisements),
    ):
        for advertisement in advertisements:
            for name in advertisement.pools:
                found.setdefault(name, set()).add(protocol)
    return {name: sorted(protocols) for name, protocols in found.items()}


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


@dataclass(frozen=True)
class _Inputs:
    """What every Service's report is made from; ``nodes`` and ``endpoints`` None when not read."""

    config: Config
    index: PoolIndex
    l2_statuses: Sequence[Manifest]
    pending_reasons: Mapping[str, str]
    nodes: Mapping[str, NodeFacts] | None = None
    endpoints: Mapping[str, list[Endpoint]] | None = None
    sessions: Sessions | None = None

    def bgp_plan(self, service: Manifest) -> tuple[Announcement, ...] | None:
        """Every node's BGP announcements of ``service``; None when Nodes or endpoints are unknown."""
        if self.nodes is None or self.endpoints is None:
            return None
        return plan_service(self.config, service_facts(service, self.endpoints), nodes=self.nodes)


def _service(service: Manifest, inputs: _Inputs) -> dict[str, Any]:
    config, index = inputs.config, inputs.index
    namespace, name = _meta(service, "namespace"), _meta(service, "name")
    spec = service.get("spec") or {}
    layer2 = _layer2_reports(namespace, name, inputs.l2_statuses)
    ips = ingress_ips(service)
    planned = inputs.bgp_plan(service) if ips else ()
    facts = service_facts(service, inputs.endpoints or {})
    announcements = []
    for ip in ips:
        announcements.append(
            {
                "ip": str(ip),
                "family": str(family_of(ip)),
                "pool": index.pool_of(ip),
                "layer2": layer2,
                "failback": failback_policy(config, facts, ip),
                "bgp": None
                if planned is None
                else _bgp_reports([item for item in planned if item.ip == ip], inputs.sessions),
            }
        )
    derived = {str(item["pool"]) for item in announcements if item["pool"]}
    pool = allocated_pool(service) or (derived.pop() if len(derived) == 1 else None)
    metadata = service.get("metadata") or {}
    labels = metadata.get("labels") or {}
    return {
        "namespace": namespace,
        "name": name,
        "ips": [str(ip) for ip in ips],
        "pool": pool,
        "load_balancer_class": spec.get("loadBalancerClass"),
        "external_traffic_policy": spec.get("externalTrafficPolicy") or "Cluster",
        "requested_pool": annotation_value(metadata.get("annotations") or {}, ADDRESS_POOL),
        "pending": not ips,
        "pending_reason": None if ips else inputs.pending_reasons.get(f"{namespace}/{name}"),
        "announcements": announcements,
        "unannounced": unannounced(config, pool, labels) if ips else None,
    }


def _bgp_reports(announcements: Sequence[Announcement], sessions: Sessions | None) -> list[dict[str, Any]]:
    """The routes of one address: one per node, peer and prefix, as the speakers send them.

    ``session`` is the BGP state of the node's session to the peer; None when not known.
    """
    return [
        {
            "node": node,
            "peer": peer,
            "prefix": str(route.prefix),
            "local_pref": route.local_pref,
            "communities": [str(community) for community in route.communities],
            "session": _state(session_of(sessions, node, peer)) if sessions is not None else None,
        }
        for (node, peer), routes in sorted(merged_routes(announcements).items())
        for route in routes
    ]


def _state(session: SessionState | None) -> str | None:
    return None if session is None else str(session.bgp)


def _layer2_reports(namespace: str, name: str, statuses: Sequence[Manifest]) -> list[dict[str, Any]]:
    """The nodes whose speakers report announcing the Service in layer 2, and on which interfaces.

    A speaker announces all addresses of a Service from one node (ownership hashes the Service's
    first address), so the reports hold for each of its addresses.
    """
    reports = []
    for obj in statuses:
        service_namespace, service_name, node = reported_service(obj)
        if (service_namespace, service_name) != (namespace, name) or not node:
            continue
        status = obj.get("status")
        reports.append(
            {"node": node, "interfaces": list(L2_STATUS_KIND.where(status)), "conflict": conflict(status)}
        )
    return sorted(reports, key=lambda item: item["node"])
