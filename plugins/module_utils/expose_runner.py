"""Apply an exposed Service to the cluster and wait for its LoadBalancer IPs.

The checks and the reading of Events are pure (:mod:`.expose_check`); this module does the I/O.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .api_reach import refused_message
from .expose_check import allocation_failure, answers_request, event_time, request_refusal
from .metallb_cluster import MetallbCluster
from .metallb_kinds import IP_ADDRESS_POOL
from .service_expose import ExposeError, ExposeRequest, manifest, selector_of
from .services import ingress_ips

try:
    from kubernetes import client
except ImportError:  # modules report the missing library through kubernetes.core's requires()
    client = None

_APPLY = "application/apply-patch+yaml"
_FORBIDDEN, _NOT_FOUND = 403, 404


@contextmanager
def _explained(name: str, namespace: str, outcome: str = "") -> Iterator[None]:
    """Turn the API server's refusal into an :class:`ExposeError` naming the Service (plus ``outcome``)."""
    try:
        yield
    except client.ApiException as err:
        raise ExposeError(refused_message(err, f"Service {namespace}/{name}") + outcome) from err


class AllocationFailedError(RuntimeError):
    """The controller reported that it gives the Service no address; the message is its reason."""


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
    """Server-side apply the Service (a dry run when ``dry_run`` is ``All``).

    Raises :class:`.service_expose.ExposeError` with the API server's reason when it refuses.
    """
    with _explained(request.name, request.namespace, "; nothing was changed"):
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


def refusal(api: Any, desired: dict[str, Any], pool_namespace: str) -> tuple[str | None, str | None]:
    """Why the controller would refuse ``desired`` (the dry run's Service), and a warning.

    Reads the IPAddressPools of ``pool_namespace``, every Service and the namespaces' labels.
    When they cannot be read (no CRDs, no permission), there is no refusal, and the warning says
    the check was skipped.
    """
    try:
        pools = MetallbCluster(api, pool_namespace).objects(IP_ADDRESS_POOL)
        core = client.CoreV1Api(api)
        services = api.sanitize_for_serialization(core.list_service_for_all_namespaces()).get("items") or []
        namespaces = api.sanitize_for_serialization(core.list_namespace()).get("items") or []
        labels = {str(ns["metadata"]["name"]): dict(ns["metadata"].get("labels") or {}) for ns in namespaces}
    except client.ApiException as err:
        if err.status not in (_FORBIDDEN, _NOT_FOUND):
            raise
        what = "the metallb.io CRDs are not installed" if err.status == _NOT_FOUND else err.reason
        return None, f"requested IPs not checked before the write: {what} ({err.status})"
    return request_refusal(desired, pools, services, labels), None


def delete(api: Any, name: str, namespace: str, dry_run: str | None) -> Applied:
    """Delete the Service if it exists; :class:`.service_expose.ExposeError` when the server refuses."""
    with _explained(name, namespace):
        before = _read(api, name, namespace)
        if before is not None:
            client.CoreV1Api(api).delete_namespaced_service(name, namespace, dry_run=dry_run)
    return Applied(before, None)


def wait_for_ips(
    api: Any, request: ExposeRequest, timeout: float, *, written_version: str | None
) -> dict[str, Any]:
    """Wait until the Service holds the IPs the controller gives it for ``request``.

    One IP per requested IP (at least one), every requested IP among them, and from the
    requested pool (:func:`.expose_check.answers_request`): what the Service held before this
    run wrote it is not the answer. Raises :class:`AllocationFailedError` as soon as the
    controller's Events say it gives the Service no address (``written_version``: the
    resourceVersion this run's write returned, None when the run changed nothing, so only
    Events about that version count), and ``TimeoutError`` naming the latest Events after
    ``timeout``.
    """
    name, namespace = request.name, request.namespace
    count = len(request.load_balancer_ips) or 1
    deadline = time.monotonic() + timeout
    while True:
        with _explained(name, namespace):
            service = _read(api, name, namespace) or {}
            events = _events(api, name, namespace)
        if len(ingress_ips(service)) >= count and answers_request(
            service, request.load_balancer_ips, request.pool
        ):
            return service
        failure = allocation_failure(events, service, written_version)
        if failure:
            raise AllocationFailedError(f"the controller gives Service {namespace}/{name} no IP: {failure}")
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"Service {namespace}/{name} has no LoadBalancer IP after {timeout:.0f}s"
                + _latest(events)
                + "; is the baremetal.lb controller running, and does a pool match this Service?"
            )
        time.sleep(0.5)


def _events(api: Any, name: str, namespace: str) -> list[dict[str, Any]]:
    events = client.CoreV1Api(api).list_namespaced_event(
        namespace, field_selector=f"involvedObject.kind=Service,involvedObject.name={name}"
    )
    items: list[dict[str, Any]] = api.sanitize_for_serialization(events).get("items") or []
    return items


def _latest(events: list[dict[str, Any]]) -> str:
    recent = sorted(events, key=event_time)[-3:]
    if not recent:
        return " (no Events on it)"
    return " (latest Events: " + "; ".join(f"{e.get('reason')}: {e.get('message')}" for e in recent) + ")"
