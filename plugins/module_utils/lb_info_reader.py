"""The Ansible side of module ``lb_info``: read the objects its report is made of.

:func:`unannounced_warnings` gives other modules (``expose``) the report's warnings for one
Service: its addresses are announced by nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

try:
    from kubernetes import client
except ImportError:  # modules report the missing library through kubernetes.core's requires()
    client = None

from .expose_check import latest_failure
from .lb_report import build_report
from .metallb_cluster import MetallbCluster
from .metallb_kinds import BGP_ADVERTISEMENT, BGP_SESSION_STATE, SERVICE_L2_STATUS
from .metallb_resources import DEFAULT_NAMESPACE
from .services import ingress_ips

_FORBIDDEN, _NOT_FOUND = 403, 404


@dataclass(frozen=True)
class ClusterObjects:
    """The metallb.io configuration, the Services and the ServiceL2Status objects, as dicts.

    ``nodes``, ``endpoint_slices`` and ``session_states`` (the speakers' BGPSessionState
    objects) are read when some BGPAdvertisement exists (the BGP planner needs the first two);
    None when not read.
    """

    config: list[dict[str, Any]]
    services: list[dict[str, Any]]
    l2_statuses: list[dict[str, Any]]
    pending_reasons: dict[str, str]
    nodes: list[dict[str, Any]] | None = None
    endpoint_slices: list[dict[str, Any]] | None = None
    session_states: list[dict[str, Any]] | None = None


def read_cluster(module: Any, api: Any, namespace: str, service_namespace: str | None) -> ClusterObjects:
    """Read everything ``lb_info`` reports on; fails the module on API errors."""
    try:
        cluster = MetallbCluster(api, namespace)
        config = cluster.list_all()
        services = _services(module, api, service_namespace)
        statuses = _l2_statuses(module, cluster)
        reasons = _pending_reasons(api, services, service_namespace)
        nodes = slices = sessions = None
        if any(item.get("kind") == BGP_ADVERTISEMENT.kind for item in config):
            nodes = _listed(module, api, "Nodes", lambda: client.CoreV1Api(api).list_node())
            slices = _endpoint_slices(module, api, service_namespace)
            sessions = _session_states(module, cluster)
    except client.ApiException as err:
        what = "the metallb.io CRDs are not installed" if err.status == _NOT_FOUND else err.reason
        module.fail_json(msg=f"cannot read the cluster: {what} ({err.status})", status=err.status)
    return ClusterObjects(config, services, statuses, reasons, nodes, slices, sessions)


def _listed(module: Any, api: Any, what: str, call: Callable[[], Any]) -> list[dict[str, Any]] | None:
    """The items ``call`` lists, as dicts; None, with a warning, when listing them is forbidden."""
    try:
        listed = call()
    except client.ApiException as err:
        if err.status != _FORBIDDEN:
            raise
        module.warn(f"may not list {what}: the BGP announcements are not reported")
        return None
    items: list[dict[str, Any]] = api.sanitize_for_serialization(listed).get("items") or []
    return items


def _endpoint_slices(module: Any, api: Any, service_namespace: str | None) -> list[dict[str, Any]] | None:
    discovery = client.DiscoveryV1Api(api)
    if service_namespace is None:
        return _listed(module, api, "EndpointSlices", discovery.list_endpoint_slice_for_all_namespaces)
    return _listed(
        module,
        api,
        f"the EndpointSlices of namespace {service_namespace}",
        lambda: discovery.list_namespaced_endpoint_slice(service_namespace),
    )


def _services(module: Any, api: Any, service_namespace: str | None) -> list[dict[str, Any]]:
    core = client.CoreV1Api(api)
    try:
        listed = core.list_service_for_all_namespaces()
    except client.ApiException as err:
        if err.status != _FORBIDDEN or service_namespace is None:
            raise
        module.warn(
            "may not list Services in all namespaces: pool usage counts only the Services of "
            f"namespace {service_namespace}"
        )
        listed = core.list_namespaced_service(service_namespace)
    items: list[dict[str, Any]] = api.sanitize_for_serialization(listed).get("items") or []
    return items


def _pending_reasons(
    api: Any, services: list[dict[str, Any]], service_namespace: str | None
) -> dict[str, str]:
    """``namespace/name`` -> the controller's latest reason, for reported Services without an address."""
    core = client.CoreV1Api(api)
    reasons = {}
    for service in services:
        metadata = service.get("metadata") or {}
        namespace, name = str(metadata.get("namespace")), str(metadata.get("name"))
        pending = (service.get("spec") or {}).get("type") == "LoadBalancer" and not ingress_ips(service)
        if not pending or service_namespace not in (None, namespace):
            continue
        events = core.list_namespaced_event(
            namespace, field_selector=f"involvedObject.kind=Service,involvedObject.name={name}"
        )
        failure = latest_failure(api.sanitize_for_serialization(events).get("items") or [], service)
        if failure:
            reasons[f"{namespace}/{name}"] = str(failure.get("message"))
    return reasons


def _l2_statuses(module: Any, cluster: MetallbCluster) -> list[dict[str, Any]]:
    try:
        return cluster.objects(SERVICE_L2_STATUS)
    except client.ApiException as err:
        if err.status != _NOT_FOUND:
            raise
        module.warn("the ServiceL2Status CRD is not installed: no layer-2 announcers are reported")
        return []


def _session_states(module: Any, cluster: MetallbCluster) -> list[dict[str, Any]] | None:
    """The BGPSessionState objects; None, with a warning, when they cannot be read."""
    try:
        return cluster.objects(BGP_SESSION_STATE)
    except client.ApiException as err:
        if err.status not in (_NOT_FOUND, _FORBIDDEN):
            raise
        why = "CRD is not installed" if err.status == _NOT_FOUND else "objects may not be listed"
        module.warn(f"the {BGP_SESSION_STATE.kind} {why}: BGP session states are not reported")
        return None


def unannounced_warnings(api: Any, service: dict[str, Any], namespace: str = DEFAULT_NAMESPACE) -> list[str]:
    """``lb_info``'s warnings for ``service`` when no node announces its addresses.

    ``namespace`` is the metallb.io configuration's; nothing is said when it cannot be read.
    """
    try:
        config = MetallbCluster(api, namespace).list_all()
    except client.ApiException:
        return []
    unannounced: list[str] = build_report(config, [service])["unannounced"]
    return unannounced
