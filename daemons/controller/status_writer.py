"""Write what the allocator decided onto Services: ingress IPs and the pool annotation.

One merge patch on the ``status`` subresource carries both ``status.loadBalancer.ingress`` and
the ``metallb.io/ip-allocated-from-pool`` annotation (the API server keeps metadata changes made
through the status subresource of a Service), so the two are never seen apart. Every patch
names the resourceVersion it was computed from: when someone changed the Service meanwhile the
API server answers 409, the write is dropped and the Service goes back to the reconciler, which
decides again from the fresh object. A few threads write in parallel; a Service is only ever
written by one of them at a time. A write that fails otherwise (the API server unreachable, a
5xx) is retried with a capped backoff per Service, logged with the wait, until it lands or a
newer decision replaces it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ansible_collections.baremetal.lb.plugins.module_utils.services import (
    IP_ALLOCATED_FROM_POOL,
    annotation,
    ingress,
)

from ..kube.backoff import Backoff
from ..kube.informer import Informer
from ..kube.kubeapi import JSON, MERGE_PATCH, SERVICES, ApiError, KubeApi
from ..kube.workqueue import WorkQueue
from .metrics import ControllerMetrics

_POOL_ANNOTATION = annotation(IP_ALLOCATED_FROM_POOL)
_DEPRECATED_POOL_ANNOTATION = annotation(IP_ALLOCATED_FROM_POOL, deprecated=True)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Desired:
    """The state a Service should show: its ingress IPs and the pool they came from ('' = none)."""

    ips: tuple[str, ...]
    pool: str

    def patch_for(self, service: JSON) -> JSON | None:
        """Return the merge patch that brings ``service`` to this state, or None when it is there."""
        meta = service["metadata"]
        annotations = meta.get("annotations") or {}
        current_ips = tuple(str(entry.get("ip") or "") for entry in ingress(service))  # as written
        wanted_annotations: dict[str, str | None] = {}
        if annotations.get(_POOL_ANNOTATION, "") != self.pool:
            wanted_annotations[_POOL_ANNOTATION] = self.pool or None
        if _DEPRECATED_POOL_ANNOTATION in annotations:
            wanted_annotations[_DEPRECATED_POOL_ANNOTATION] = None
        if current_ips == self.ips and not wanted_annotations:
            return None
        patch: JSON = {"metadata": {"resourceVersion": meta["resourceVersion"]}}
        if wanted_annotations:
            patch["metadata"]["annotations"] = wanted_annotations
        if current_ips != self.ips:
            patch["status"] = {"loadBalancer": {"ingress": [{"ip": ip} for ip in self.ips]}}
        return patch


class StatusWriter:
    """Parallel, per-Service-exclusive, resourceVersion-conditional status writes."""

    def __init__(
        self,
        api: KubeApi,
        services: Informer,
        metrics: ControllerMetrics,
        on_conflict: Callable[[str], None],
        workers: int = 8,
    ) -> None:
        self._api = api
        self._services = services
        self._metrics = metrics
        self._on_conflict = on_conflict
        self._queue = WorkQueue()
        self._desired: dict[str, Desired] = {}
        self._backoffs: dict[str, Backoff] = {}
        self._lock = threading.Lock()
        self._workers = workers

    def start(self) -> None:
        """Start the writer threads."""
        for index in range(self._workers):
            threading.Thread(target=self._run, name=f"status-writer-{index}", daemon=True).start()

    def desire(self, key: str, desired: Desired) -> None:
        """Make Service ``key`` show ``desired`` (queued; repeated calls coalesce)."""
        with self._lock:
            self._desired[key] = desired
        self._queue.add(key)

    def pending(self, key: str) -> Desired | None:
        """Return the state queued for Service ``key`` and not yet written, if any."""
        with self._lock:
            return self._desired.get(key)

    def forget(self, key: str) -> None:
        """Drop any pending write for a Service that is gone or no longer ours."""
        with self._lock:
            self._desired.pop(key, None)
            self._backoffs.pop(key, None)

    def idle(self) -> bool:
        """True when no write waits or runs."""
        return self._queue.idle()

    def _run(self) -> None:
        while True:
            key = self._queue.get()
            if key is None:
                return
            try:
                self._write(key)
            finally:
                self._queue.done(key)

    def _write(self, key: str) -> None:
        with self._lock:
            desired = self._desired.get(key)
        service = self._services.get(key)
        patch = desired.patch_for(service) if desired and service else None
        if desired is None or service is None or patch is None:
            self._settle(key, desired)
            return
        namespace, name = key.split("/", 1)
        # With the "gets" decision line before it and the "wrote" line after, this debug line
        # says which write a crash interrupted (bench/chaos counts kills that land there).
        _log_write(logging.DEBUG, "writing", key, desired)
        try:
            written = self._api.request(
                "PATCH", SERVICES.item(namespace, name, "status"), body=patch, content_type=MERGE_PATCH
            )
        except ApiError as error:
            self._failed(key, error)
            return
        except Exception as error:  # a dropped connection is retried like a 5xx
            self._failed(key, ApiError(0, "request failed", str(error)))
            return
        self._metrics.updates.inc()
        self._services.store(written)
        _log_write(logging.INFO, "wrote", key, desired)
        self._settle(key, desired)

    def _settle(self, key: str, desired: Desired | None) -> None:
        with self._lock:
            self._backoffs.pop(key, None)
            if self._desired.get(key) == desired:
                self._desired.pop(key, None)

    def _failed(self, key: str, error: ApiError) -> None:
        self._metrics.update_errors.inc()
        if error.not_found:
            self._settle(key, self._desired.get(key))
            return
        if error.conflict:
            log.info("service %s changed while we wrote it; deciding again", key, extra={"service": key})
            self._settle(key, self._desired.get(key))
            self._refresh(key)
            self._on_conflict(key)
            return
        with self._lock:
            backoff = self._backoffs.setdefault(key, Backoff())
            delay = backoff.next_delay()
        log.warning(
            "writing status of service %s failed: %s; retrying in %.1fs (attempt %d)",
            key,
            error,
            delay,
            backoff.attempts,
            extra={"service": key, "attempt": backoff.attempts},
        )
        timer = threading.Timer(delay, self._queue.add, (key,))
        timer.daemon = True
        timer.start()

    def _refresh(self, key: str) -> None:
        namespace, name = key.split("/", 1)
        try:
            self._services.store(self._api.request("GET", SERVICES.item(namespace, name)))
        except ApiError as error:
            log.info("re-reading service %s failed: %s", key, error, extra={"service": key})


def _log_write(level: int, verb: str, key: str, desired: Desired) -> None:
    """Log ``<verb> status of service <key>: ingress <ips> from pool <pool>`` with its fields."""
    log.log(
        level,
        "%s status of service %s: ingress %s from pool %s",
        verb,
        key,
        ",".join(desired.ips) or "(none)",
        desired.pool or "(none)",
        extra={"service": key, "ips": list(desired.ips), "pool": desired.pool},
    )
