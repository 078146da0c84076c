"""The Kubernetes half of the speaker: watch, plan, hand the plan to the engine, report.

Lists Services, EndpointSlices, Nodes and the metallb.io configuration, then keeps them current
with watches; rtnetlink tells it when links and addresses change. Every change re-plans
(coalesced by a work queue): which IPs of which Services this node would announce, on which
interfaces, and which nodes may announce them. The engine
(:mod:`.engine`) decides ownership from the plan and its own live membership, so nothing here
is on the failover path.
"""

from __future__ import annotations

import base64
import logging
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from ansible_collections.baremetal.lb.plugins.module_utils.config_errors import InvalidConfigError
from ansible_collections.baremetal.lb.plugins.module_utils.config_model import Config
from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import IPClaim, plan_service

from ..kube.config_loader import ConfigSources
from ..kube.events import EventRecorder
from ..kube.health import HealthServer
from ..kube.informer import Informer
from ..kube.kubeapi import (
    JSON,
    SERVICES,
    SPEAKER_FIELD_MANAGER,
    KubeApi,
    Resource,
)
from ..kube.workqueue import WorkQueue
from . import facts
from .engine_client import EngineProcess
from .interfaces import interface_of, suitable_interfaces
from .l2status import L2StatusWriter
from .link_events import watch_links
from .logs import configure_logs
from .metrics import SpeakerMetrics
from .protocol import StartOrder
from .reporter import Reporter

NODES = Resource("/api/v1", "nodes")
ENDPOINT_SLICES = Resource("/apis/discovery.k8s.io/v1", "endpointslices")
_PLAN = "plan"
_REPLAN_SECONDS = 10.0  # a safety net; links and addresses coming and going wake us at once
_RETRY_SECONDS = 2.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Options:
    """The speaker's command-line options."""

    node_name: str
    namespace: str = "metallb-system"
    kubeconfig: str | None = None
    lb_class: str = ""
    ignore_exclude_lb: bool = False
    metrics_port: int = 7472
    health_port: int = 7473
    bind_address: str = "0.0.0.0"
    log_level: str = "info"
    ml_bind_addr: str = ""
    ml_bind_port: int = 7946
    ml_secret_name: str = "memberlist"
    ml_secret_key_path: str = ""
    ml_interval: float = 0.1
    ml_dead_after: float = 0.3


def run(options: Options) -> int:
    """Run the speaker until SIGTERM or SIGINT; return the exit status."""
    configure_logs(options.log_level)
    speaker = _Speaker(options)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: handing over and stopping", signum)
        speaker.stop.set()
        speaker.queue.close()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    speaker.start()
    speaker.loop()
    return speaker.shutdown()


class _Speaker:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.stop = threading.Event()
        self.queue = WorkQueue()
        self._exit_status = 0
        self._config: Config | None = None
        api = KubeApi.connect(options.kubeconfig, field_manager=SPEAKER_FIELD_MANAGER)
        self._api = api
        self._metrics = SpeakerMetrics()
        self._health = (
            HealthServer(options.health_port, options.bind_address) if options.health_port else None
        )
        self._services = Informer(api, SERVICES, self._changed)
        self._slices = Informer(api, ENDPOINT_SLICES, self._changed)
        self._nodes = Informer(api, NODES, self._changed)
        self._config_sources = ConfigSources(api, options.namespace, lambda: self.queue.add(_PLAN))
        self._informers = [self._nodes, *self._config_sources.informers, self._services, self._slices]
        self._events = EventRecorder(api, idle=lambda: True, component="metallb-speaker")
        self._statuses = L2StatusWriter(api, options.namespace, options.node_name)
        self._reporter = Reporter(
            options.node_name,
            service=self._services.get,
            events=self._events,
            statuses=self._statuses,
            metrics=self._metrics,
        )
        self._engine = EngineProcess(self._reporter.handle, self._engine_exited)

    def start(self) -> None:
        if self._health:
            self._health.start()
        if self.options.metrics_port:
            self._metrics.serve(self.options.metrics_port, self.options.bind_address)
        started = time.monotonic()
        for informer in self._informers:
            self._retry(f"listing {informer.resource.plural}", informer.list_now)
        key = self._retry("reading the membership key", self._membership_key)
        if self.stop.is_set():
            return
        order = self._start_order(key)
        self._engine.start(order)  # from the main thread: the engine dies with it
        self._events.start()
        self._statuses.start(self.stop)
        for informer in self._informers:
            threading.Thread(
                target=informer.run, args=(self.stop,), name=f"watch-{informer.resource.plural}", daemon=True
            ).start()
        threading.Thread(
            target=watch_links, args=(lambda: self.queue.add(_PLAN), self.stop), name="links", daemon=True
        ).start()
        self._replan()
        log.info(
            "initial sync done in %.2fs; membership on %s:%d, watching %s",
            time.monotonic() - started,
            *order.bind,
            ",".join(order.watch_links) or "no link",
            extra={"node": self.options.node_name},
        )
        if self._health:
            self._health.mark_ready()

    def loop(self) -> None:
        """Re-plan whenever something changed (and every few seconds), until told to stop."""
        next_replan = time.monotonic() + _REPLAN_SECONDS
        while not self.stop.is_set():
            key = self.queue.get(timeout=max(0.0, next_replan - time.monotonic()))
            try:
                self._replan()
            except Exception:
                log.exception("planning failed; retrying")
                self.stop.wait(_RETRY_SECONDS)
            finally:
                if key is not None:
                    self.queue.done(key)
            if key is None:
                next_replan = time.monotonic() + _REPLAN_SECONDS

    def shutdown(self) -> int:
        """Hand over (the engine sends LEAVE), then withdraw this node's reports."""
        self.stop.set()
        self._engine.stop()
        self._statuses.delete_all()
        return self._exit_status

    # -- planning ----------------------------------------------------------------------------

    def _replan(self) -> None:
        config = self._load_config()
        if config is None:
            return
        nodes = {str(n["metadata"]["name"]): facts.node_facts(n) for n in self._nodes.items()}
        endpoints = facts.endpoints_by_service(self._slices.items())
        interfaces = suitable_interfaces()
        claims: list[IPClaim] = []
        for service in self._services.items():
            if not facts.served(service, self.options.lb_class) or not facts.ingress_ips(service):
                continue
            claims += plan_service(
                facts.l2_service(service, endpoints),
                config=config,
                nodes=nodes,
                me=self.options.node_name,
                suitable_interfaces=interfaces,
                ignore_exclude_label=self.options.ignore_exclude_lb,
            )
        self._engine.peers(self._peers())
        if self._engine.plan(claims):
            log.debug("new plan: %d IPs", len(claims))

    def _load_config(self) -> Config | None:
        try:
            self._config = self._config_sources.load()
        except InvalidConfigError as error:
            log.error(
                "invalid configuration, keeping the last good one: %s", error, extra={"reason": "invalid"}
            )
        return self._config

    def _peers(self) -> dict[str, tuple[str, int]]:
        version = 6 if ":" in self._bind_host() else 4
        return facts.peers(self._nodes.items(), version, self.options.ml_bind_port)

    def _bind_host(self) -> str:
        if self.options.ml_bind_addr:
            return self.options.ml_bind_addr
        node = self._nodes.get(self.options.node_name) or {}
        address = facts.internal_ip(node, 4) or facts.internal_ip(node, 6)
        if not address:
            raise RuntimeError(f"node {self.options.node_name} has no InternalIP; set --ml-bind-addr")
        return address

    def _start_order(self, key: bytes) -> StartOrder:
        host = self._bind_host()
        link = interface_of(host)
        return StartOrder(
            node=self.options.node_name,
            key=key,
            bind=(host, self.options.ml_bind_port),
            peers=self._peers(),
            interval=self.options.ml_interval,
            dead_after=self.options.ml_dead_after,
            watch_links=(link,) if link else (),
        )

    def _membership_key(self) -> bytes:
        if self.options.ml_secret_key_path:
            return Path(self.options.ml_secret_key_path).read_bytes().strip()
        path = f"/api/v1/namespaces/{self.options.namespace}/secrets/{self.options.ml_secret_name}"
        data: Mapping[str, Any] = self._api.request("GET", path).get("data") or {}
        if not data.get("secretkey"):
            raise RuntimeError(f"Secret {self.options.ml_secret_name} has no key secretkey")
        return base64.b64decode(data["secretkey"])

    # -- plumbing ------------------------------------------------------------------------------

    def _retry(self, what: str, call: Any) -> Any:
        while not self.stop.is_set():
            try:
                return call()
            except Exception as error:  # the API server, a CRD or the Secret may not be there yet
                log.warning("%s failed: %s; retrying", what, error)
                self.stop.wait(_RETRY_SECONDS)
        return None

    def _changed(self, _key: str, _old: JSON | None, _new: JSON | None) -> None:
        self.queue.add(_PLAN)

    def _engine_exited(self, status: int) -> None:
        if not self.stop.is_set():
            log.error("the engine exited with status %d; stopping so the speaker restarts", status)
            self._exit_status = 1
            self.stop.set()
            self.queue.close()
