"""Apply an exposed Service to the cluster and wait for its LoadBalancer IPs."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .service_expose import ExposeError, ExposeRequest, manifest, selector_of
from .services import ingress_ips

try:
    from kubernetes import client
except ImportError:  # modules report the missing library through kubernetes.core's requires()
    client = None  # type: ignore[assignment]

_APPLY = "application/apply-patch+yaml"


@dataclass
class Applied:
    """Before and after of one apply (after is None when the Service was deleted)."""

    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @property
    def changed(self) -> bool:
        """Whether spec, labels or annotations differ between before and after."""
        return bool(_comparable(self.before) != _comparable(self.after))


def _comparable(service: dict[str, Any] | None) -> Any:
    if service is None:
        return None
    meta = service.get("metadata") or {}
    return (service.get("spec"), meta.get("labels"), meta.get("annotations"))


def _read(api: Any, name: str, namespace: str) -> dict[str, Any] | None:
    core = client.CoreV1Api(api)
    try:
        return dict(api.sanitize_for_serialization(core.read_namespaced_service(name, namespace)))
    except client.ApiException as err:
        if err.status == 404:
            return None
        raise


def deployment_selector(api: Any, name: str, namespace: str) -> dict[str, str]:
    """The selector `kubectl expose deployment NAME` would use."""
    try:
        deployment = client.AppsV1Api(api).read_namespaced_deployment(name, namespace)
    except client.ApiException as err:
        if err.status == 404:
            raise ExposeError(f"deployment: Deployment {namespace}/{name} not found") from err
        raise
    return selector_of(api.sanitize_for_serialization(deployment))


def apply(api: Any, request: ExposeRequest, dry_run: str | None, field_manager: str) -> Applied:
    """Server-side apply the Service."""
    before = _read(api, request.name, request.namespace)
    after = client.CoreV1Api(api).patch_namespaced_service(
        request.name,
        request.namespace,
        manifest(request),
        field_manager=field_manager,
        force=True,
        dry_run=dry_run,
        _content_type=_APPLY,
    )
    return Applied(before, dict(api.sanitize_for_serialization(after)))


def delete(api: Any, name: str, namespace: str, dry_run: str | None) -> Applied:
    """Delete the Service if it exists."""
    before = _read(api, name, namespace)
    if before is not None:
        client.CoreV1Api(api).delete_namespaced_service(name, namespace, dry_run=dry_run)
    return Applied(before, None)


def wait_for_ips(api: Any, name: str, namespace: str, count: int, timeout: float) -> dict[str, Any]:
    """Wait until the Service has `count` ingress IPs; on timeout say why, from its Events."""
    deadline = time.monotonic() + timeout
    while True:
        service = _read(api, name, namespace) or {}
        if len(ingress_ips(service)) >= count:
            return service
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"Service {namespace}/{name} has no LoadBalancer IP after {timeout:.0f}s"
                + _latest_events(api, name, namespace)
                + "; is the baremetal.lb controller running, and does a pool match this Service?"
            )
        time.sleep(0.5)


def _latest_events(api: Any, name: str, namespace: str) -> str:
    events = client.CoreV1Api(api).list_namespaced_event(
        namespace, field_selector=f"involvedObject.kind=Service,involvedObject.name={name}"
    )
    recent = sorted(events.items, key=lambda e: str(e.last_timestamp or e.event_time or ""))[-3:]
    if not recent:
        return " (no Events on it)"
    return " (latest Events: " + "; ".join(f"{e.reason}: {e.message}" for e in recent) + ")"
