"""The single owner of the allocator: turns Service and pool changes into allocation decisions.

One thread runs :meth:`Reconciler.handle` for one key at a time, so decisions are serialized;
writing them is left to the :class:`.status_writer.StatusWriter`. A Service that cannot get an
address is remembered as pending and retried only when addresses free up or the pools change,
instead of reprocessing every Service on every deletion as MetalLB does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPAddress, parse_address
from ansible_collections.baremetal.lb.plugins.module_utils.allocator import (
    Allocation,
    AllocationError,
    Allocator,
    PoolConfigError,
    RequestRefusedError,
)
from ansible_collections.baremetal.lb.plugins.module_utils.announcement import describe, unannounced
from ansible_collections.baremetal.lb.plugins.module_utils.config_errors import InvalidConfigError
from ansible_collections.baremetal.lb.plugins.module_utils.config_model import Config
from ansible_collections.baremetal.lb.plugins.module_utils.failback import (
    FAILBACK_IGNORED,
    service_annotation_problem,
)
from ansible_collections.baremetal.lb.plugins.module_utils.services import (
    ALLOCATION_FAILED,
    LOAD_BALANCER_FAILED,
    NOT_ANNOUNCED,
    Service,
    ServiceRequestError,
    service_from_manifest,
)

from ..kube.config_loader import ConfigHistory, ConfigSources
from ..kube.events import NORMAL, WARNING, EventRecorder, go_quote
from ..kube.informer import Informer, object_key
from ..kube.kubeapi import JSON
from .metrics import ControllerMetrics
from .pool_status import PoolStatusWriter
from .service_view import ServiceView
from .status_writer import Desired, StatusWriter

CONFIG_KEY = "\x00config"
"""The work-queue key that stands for "the pools changed"."""
_GUARD_SUFFIX = "/shown-until-rewritten"

log = logging.getLogger(__name__)


class Reconciler:
    """Decides, for one Service or the configuration at a time, who holds which addresses."""

    def __init__(
        self,
        *,
        lb_class: str,
        services: Informer,
        namespaces: Informer,
        config: ConfigSources,
        writer: StatusWriter,
        events: EventRecorder,
        metrics: ControllerMetrics,
        pool_status: PoolStatusWriter,
        requeue: Callable[[list[str]], None],
    ) -> None:
        self._lb_class = lb_class
        self._services = services
        self._namespaces = namespaces
        self._config = config
        self._writer = writer
        self._events = events
        self._metrics = metrics
        self._pool_status = pool_status
        self._requeue = requeue
        self._allocator = Allocator()
        self._configured = False
        self._pending: set[str] = set()
        self._failures: dict[str, str] = {}
        self._pool_names: set[str] = set()
        self._loaded = Config()
        self._history = ConfigHistory()
        self._unannounced: dict[str, str] = {}
        self._failback_ignored: dict[str, str] = {}  # Service -> why its failback annotation is ignored

    @property
    def configured(self) -> bool:
        """True once a configuration has loaded."""
        return self._configured

    def handle(self, key: str) -> None:
        """Bring one Service (or, for :data:`CONFIG_KEY`, the pools) up to date."""
        if key == CONFIG_KEY:
            self._load_config()
        else:
            self._reconcile(key)

    def reclaim_all(self, first: bool = True) -> int:
        """Assign every address that Services already hold, oldest Service first; return how many kept.

        Run before any new allocation (at start and after the pools change), so a held
        address is never handed to another Service. After a change (not ``first``) the count is
        logged only when some Service re-claimed, so a change is not logged twice.
        """
        kept = 0
        for obj in sorted(self._services.items(), key=_age):
            view = ServiceView.of(obj)
            held = self._held(view)
            if not view.served_by(self._lb_class) or not held or self._allocator.allocation_of(view.key):
                continue
            try:
                self._allocator.assign(self._service(obj), held)
                kept += 1
            except (RequestRefusedError, ServiceRequestError) as error:
                log.info(
                    "service %s cannot keep %s: %s", view.key, _ips(held), error, extra={"service": view.key}
                )
        self._publish_usage()
        level = logging.INFO if kept or first else logging.DEBUG
        log.log(level, "re-claimed the addresses of %d services before allocating anything new", kept)
        return kept

    # -- configuration -------------------------------------------------------------------------

    def _load_config(self) -> None:
        try:
            loaded = self._config.load()
            pools = loaded.pools
            lost = self._allocator.set_pools(pools)
        except (InvalidConfigError, PoolConfigError) as error:
            self._metrics.config.refused()
            if not self._history.rejected(error):
                return
            log.error(
                "configuration rejected, keeping the last good one: %s", error, extra={"reason": str(error)}
            )
            if isinstance(error, InvalidConfigError):
                for obj in self._config.culprits(error):
                    self._events.record(
                        obj, WARNING, "InvalidConfiguration", f"configuration not loaded: {error}"
                    )
            return
        first = not self._configured
        self._configured = True
        self._loaded = loaded
        self._metrics.config.accepted()
        if self._history.loaded(loaded):
            log.info("configuration loaded: pools %s", ", ".join(pool.name for pool in pools) or "(none)")
        for item in lost:
            if item.service.endswith(_GUARD_SUFFIX):
                continue
            log.warning(
                "service %s loses %s of pool %s: %s",
                item.service,
                ", ".join(_ips(item.ips)),
                item.pool,
                item.reason,
                extra={
                    "service": item.service,
                    "ips": _ips(item.ips),
                    "pool": item.pool,
                    "reason": item.reason,
                },
            )
        self.reclaim_all(first)
        self._requeue([object_key(obj) for obj in self._services.items()])  # no view: 100,000 parses

    # -- Services ------------------------------------------------------------------------------

    def _reconcile(self, key: str) -> None:
        obj = self._services.get(key)
        guarded = self._allocator.release(_guard_key(key))  # the Service may take back what it shows
        self._decide(key, obj)
        still_guarded = self._guard_shown(key, obj)
        if guarded != still_guarded:
            self._publish_usage()
        if guarded and not still_guarded:
            self._freed()

    def _guard_shown(self, key: str, obj: JSON | None) -> bool:
        """Keep what the Service shows but no longer holds from others; True when some is kept.

        The addresses stay taken until its status no longer shows them.

        Until the status write lands the API server shows them as the Service's: handing them to
        another Service whose write lands first would leave two Services showing one address if
        the controller crashed in between, and the restarted controller would move one of them.
        """
        if obj is None or not self._configured:
            return False
        held = self._allocator.allocation_of(key)
        leaving = tuple(ip for ip in ServiceView.of(obj).held_ips if held is None or ip not in held.ips)
        if not leaving:
            return False
        try:
            guard = replace(self._service(obj), name=_guard_key(key).partition("/")[2])
        except ServiceRequestError:  # a malformed request: its status is cleared right away
            return False
        # None: in no pool (nobody can take them) or contested already (nothing left to keep).
        return self._allocator.reserve(guard, leaving) is not None

    def _decide(self, key: str, obj: JSON | None) -> None:
        if obj is None:
            self._writer.forget(key)
            self._release(key, "service deleted")
            return
        view = ServiceView.of(obj)
        if not view.served_by(self._lb_class):
            self._release(key, "service is not a LoadBalancer of our class")
            if not view.is_load_balancer and (view.held_ips or view.allocated_from):
                self._writer.desire(key, Desired((), ""))
            return
        if not self._configured:
            self._pending.add(key)
            return
        try:
            service = self._service(obj)
        except ServiceRequestError as error:
            message = f"invalid requested loadbalancer IPs: {error}"
            self._fail(obj, LOAD_BALANCER_FAILED, message, retry=False, freed=self._allocator.release(key))
            return
        self._try_keep_held(obj, view, service)
        before = self._allocator.allocation_of(key)
        try:
            allocation = self._allocator.allocate(service)
        except AllocationError as error:
            message = f"Failed to allocate IP for {go_quote(key)}: {error}"
            self._fail(obj, ALLOCATION_FAILED, message, retry=True, freed=before is not None)
            return
        self._succeeded(obj, before, allocation)

    def _try_keep_held(self, obj: JSON, view: ServiceView, service: Service) -> None:
        """Re-claim what the status shows when the allocator holds nothing (pools changed, say)."""
        held = self._held(view)
        if self._allocator.allocation_of(view.key) or not held:
            return
        if service.requested_ips and set(service.requested_ips) != set(held):
            return
        try:
            self._allocator.assign(service, held)
        except RequestRefusedError as error:
            came_from = f" (it came from pool {go_quote(view.allocated_from)})" if view.allocated_from else ""
            message = (
                f"current IP for {go_quote(view.key)} not allowed by config, "
                f"will attempt for new IP assignment: {error}{came_from}"
            )
            log.info(message, extra={"service": view.key, "ips": _ips(held), "pool": view.allocated_from})
            self._events.record(obj, NORMAL, "ClearAssignment", message)

    def _succeeded(self, obj: JSON, before: Allocation | None, allocation: Allocation) -> None:
        key = ServiceView.of(obj).key
        self._pending.discard(key)
        self._failures.pop(key, None)
        ips = _ips(allocation.ips)
        if allocation != before:
            log.info(
                "service %s gets %s from pool %s",
                key,
                ", ".join(ips),
                allocation.pool,
                extra={"service": key, "ips": ips, "pool": allocation.pool},
            )
            self._events.record(obj, NORMAL, "IPAllocated", f"Assigned IP {go_quote(ips)}")
            self._publish_usage()
            if before is not None and set(before.ips) - set(allocation.ips):
                self._freed()
        self._writer.desire(key, Desired(tuple(ips), allocation.pool))
        self._check_announced(obj, ips, allocation.pool)
        self._check_failback(obj)

    def _check_failback(self, obj: JSON) -> None:
        """Warn once (log and Event) while the Service's failback annotation names no policy."""
        problem = service_annotation_problem((obj.get("metadata") or {}).get("annotations"))
        self._warn_while(self._failback_ignored, obj, FAILBACK_IGNORED, problem, problem)

    def _check_announced(self, obj: JSON, ips: list[str], pool: str) -> None:
        """Warn once (log and Event) when no advertisement announces what the Service got."""
        labels = (obj.get("metadata") or {}).get("labels") or {}
        reason = unannounced(self._loaded, pool, labels)
        message = describe(ips, pool, reason) if reason is not None else None
        self._warn_while(
            self._unannounced, obj, NOT_ANNOUNCED, reason, message, extra={"ips": ips, "pool": pool}
        )

    def _warn_while(
        self,
        seen: dict[str, str],
        obj: JSON,
        reason: str,
        problem: str | None,
        message: str | None,
        *,
        extra: dict[str, object] | None = None,
    ) -> None:
        """Log and record (Event ``reason``) ``message`` once per ``problem`` of the Service.

        ``seen`` remembers each Service's current problem, so the same one is not repeated and
        one that went away (None) is forgotten, to be warned of again should it come back.
        """
        key = ServiceView.of(obj).key
        if problem == seen.get(key):
            return
        if problem is None or message is None:
            seen.pop(key, None)
            return
        seen[key] = problem
        log.warning("service %s: %s", key, message, extra={"service": key, **(extra or {})})
        self._events.record(obj, WARNING, reason, message)

    def _fail(self, obj: JSON, reason: str, message: str, *, retry: bool, freed: bool) -> None:
        """Record a Service that gets no address; ``freed`` says it gave some up on the way."""
        key = ServiceView.of(obj).key
        if self._failures.get(key) != message:
            self._failures[key] = message
            log.warning(message, extra={"service": key, "reason": reason})
            self._events.record(obj, WARNING, reason, message)
        self._writer.desire(key, Desired((), ""))
        if freed:
            self._publish_usage()
            self._freed()
        if retry:
            self._pending.add(key)

    def _release(self, key: str, why: str) -> None:
        self._pending.discard(key)
        self._unannounced.pop(key, None)
        self._failback_ignored.pop(key, None)
        self._failures.pop(key, None)
        allocation = self._allocator.allocation_of(key)
        if allocation is None or not self._allocator.release(key):
            return
        log.info(
            "service %s releases %s of pool %s: %s",
            key,
            ", ".join(_ips(allocation.ips)),
            allocation.pool,
            why,
            extra={"service": key, "ips": _ips(allocation.ips), "pool": allocation.pool},
        )
        self._publish_usage()
        self._freed()

    def _freed(self) -> None:
        """Addresses came free: give the pending Services (and only those) another try."""
        if self._pending:
            self._requeue(sorted(self._pending))

    # -- helpers -------------------------------------------------------------------------------

    def _service(self, obj: JSON) -> Service:
        namespace = self._namespaces.get(str(obj["metadata"]["namespace"])) or {}
        return service_from_manifest(obj, (namespace.get("metadata") or {}).get("labels") or {})

    def _held(self, view: ServiceView) -> tuple[IPAddress, ...]:
        """What the Service shows, counting a status write we queued but have not made yet."""
        pending = self._writer.pending(view.key)
        if pending is None:
            return view.held_ips
        return tuple(parse_address(ip) for ip in pending.ips)

    def _publish_usage(self) -> None:
        usage = self._allocator.usage()
        for name in self._pool_names - usage.keys():
            self._metrics.forget_pool(name)
        for name, pool in usage.items():
            self._metrics.set_pool(
                name, pool.ipv4.in_use + pool.ipv6.in_use, pool.ipv4.total + pool.ipv6.total
            )
        self._pool_names = set(usage)
        self._pool_status.publish(usage)


def _guard_key(key: str) -> str:
    """The allocator key that holds what Service ``key`` shows but no longer has.

    See :meth:`Reconciler._guard_shown`; a Service name has no ``/``, so it names no Service.
    """
    return f"{key}{_GUARD_SUFFIX}"


def _ips(ips: tuple[IPAddress, ...] | list[IPAddress]) -> list[str]:
    return [str(ip) for ip in ips]


def _age(obj: JSON) -> tuple[str, str]:
    meta = obj["metadata"]
    return str(meta.get("creationTimestamp") or ""), f"{meta['namespace']}/{meta['name']}"
