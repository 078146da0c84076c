"""The Kubernetes half of the speaker: watch, reduce to a situation, hand it to each protocol.

Lists Services, EndpointSlices, Nodes and the metallb.io configuration, then keeps them current
with watches; rtnetlink tells it when links and addresses change. Every change (coalesced by a
work queue) reduces what it knows to a :class:`.handler.Situation` and hands it to every
protocol of :mod:`.registry`, each of which plans and feeds its own timing-critical process
(layer 2: :mod:`.layer2.engine`, which decides ownership from the plan and its own live
membership, so nothing here is on the failover path).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from ..kube.config_loader import ConfigSources, LastGoodConfig
from ..kube.events import EventRecorder
from ..kube.health import HealthServer
from ..kube.informer import Handler, Informer
from ..kube.kubeapi import (
    JSON,
    SERVICES,
    SPEAKER_FIELD_MANAGER,
    KubeApi,
    Resource,
)
from ..kube.logs import configure_logs
from ..kube.workqueue import WorkQueue
from .cluster_state import Caches, ClusterFacts, slim_endpoint_slice, slim_node, slim_service
from .handler import Situation, SpeakerContext
from .heap import freeze_long_lived
from .link_events import watch_links
from .metrics import SpeakerMetrics
from .options import Options
from .registry import PROTOCOLS
from .unannounced import UnannouncedWarnings

NODES = Resource("/api/v1", "nodes")
ENDPOINT_SLICES = Resource("/apis/discovery.k8s.io/v1", "endpointslices")
_PLAN = "plan"
_RETRY_SECONDS = 2.0

log = logging.getLogger(__name__)


def secret_data_changed(old: JSON | None, new: JSON | None) -> bool:
    """Whether a Secret event can change a password: it came, went, or its data changed.

    A write of its labels or annotations alone re-plans nothing.
    """
    return old is None or new is None or old.get("data") != new.get("data")


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
        self._unannounced = UnannouncedWarnings()
        api = KubeApi.connect(options.kubeconfig, field_manager=SPEAKER_FIELD_MANAGER)
        self._metrics = SpeakerMetrics()
        self._health = (
            HealthServer(options.health_port, options.bind_address) if options.health_port else None
        )
        self._facts = ClusterFacts(options.lb_class)
        # The largest caches, kept to what the speaker reads (managedFields are no part of it).
        self._services = Informer(api, SERVICES, self._noting(self._facts.service_changed), slim_service)
        self._slices = Informer(
            api, ENDPOINT_SLICES, self._noting(self._facts.slice_changed), slim_endpoint_slice
        )
        self._nodes = Informer(api, NODES, self._noting(self._facts.node_changed), slim_node)
        self._caches = Caches(
            service=self._services.get, endpoint_slice=self._slices.get, node=self._nodes.get
        )
        self._config_sources = ConfigSources(api, options.namespace, lambda: self.queue.add(_PLAN))
        self._config = LastGoodConfig(self._config_sources.load, self._metrics.config)
        # The Secrets of our own namespace only (RBAC allows no more): BGPPeer passwords are read
        # from this cache, and a changed one re-plans, so the peers using it reset with the new key.
        self._secrets = Informer(api, Resource("/api/v1", "secrets", options.namespace), self._secret_changed)
        self._informers = [
            self._nodes,
            *self._config_sources.informers,
            self._secrets,
            self._services,
            self._slices,
        ]
        self._events = EventRecorder(api, idle=lambda: True, component="metallb-speaker")
        context = SpeakerContext(
            options=options,
            api=api,
            nodes=self._nodes.items,
            service=self._services.get,
            secret=lambda name: self._secrets.get(f"{options.namespace}/{name}"),
            events=self._events,
            metrics=self._metrics,
            stop=self.stop,
            retry=self._retry,
            failed=self._failed,
        )
        self._protocols = [create(context) for create in PROTOCOLS]

    def start(self) -> None:
        if self._health:
            self._health.start()
        if self.options.metrics_port:
            self._metrics.serve(self.options.metrics_port, self.options.bind_address)
        started = time.monotonic()
        for informer in self._informers:
            self._retry(f"listing {informer.resource.plural}", informer.list_now)
        started_protocols = []
        for protocol in self._protocols:  # from the main thread: their processes die with it
            description = protocol.start()
            if description is None:
                return
            started_protocols.append(f"{protocol.name}: {description}")
        self._events.start()
        for informer in self._informers:
            threading.Thread(
                target=informer.run, args=(self.stop,), name=f"watch-{informer.resource.plural}", daemon=True
            ).start()
        threading.Thread(
            target=watch_links, args=(lambda: self.queue.add(_PLAN), self.stop), name="links", daemon=True
        ).start()
        self._replan("start")
        freeze_long_lived()  # the caches and the first plan: no collection walks them again
        log.info(
            "initial sync done in %.2fs; %s",
            time.monotonic() - started,
            "; ".join(started_protocols),
            extra={"node": self.options.node_name},
        )
        if self._health:
            self._health.mark_ready()

    def loop(self) -> None:
        """Re-plan whenever something changed (and every few seconds), until told to stop."""
        next_replan = time.monotonic() + self.options.replan_interval
        while not self.stop.is_set():
            key = self.queue.get(timeout=max(0.0, next_replan - time.monotonic()))
            try:
                self._replan("periodic" if key is None else "change")
            except Exception:
                log.exception("planning failed; retrying")
                self.stop.wait(_RETRY_SECONDS)
            finally:
                if key is not None:
                    self.queue.done(key)
            if key is None:
                next_replan = time.monotonic() + self.options.replan_interval

    def shutdown(self) -> int:
        """Have every protocol hand over and withdraw this node's reports."""
        self.stop.set()
        for protocol in self._protocols:
            protocol.shutdown()
        return self._exit_status

    # -- planning ----------------------------------------------------------------------------

    def _replan(self, reason: str) -> None:
        """Plan every protocol from what the informers hold now.

        ``reason`` (one of :data:`.metrics.REPLAN_REASONS`) is counted in
        ``baremetal_lb_speaker_replans_total``.
        """
        config = self._config.current()
        if config is None:
            return
        self._metrics.replans.labels(reason).inc()
        self._facts.refresh(self._caches)
        situation = Situation(
            config=config,
            nodes=dict(self._facts.nodes),
            services=list(self._facts.services.values()),
            me=self.options.node_name,
            ignore_exclude_label=self.options.ignore_exclude_lb,
            drain_aware=self.options.drain_aware,
        )
        for protocol in self._protocols:
            protocol.apply(situation)
        self._unannounced.update(situation.config, situation.services)

    # -- plumbing ------------------------------------------------------------------------------

    def _retry(self, what: str, call: Callable[[], Any]) -> Any:
        while not self.stop.is_set():
            try:
                return call()
            except Exception as error:  # the API server, a CRD or the Secret may not be there yet
                log.warning("%s failed: %s; retrying", what, error)
                self.stop.wait(_RETRY_SECONDS)
        return None

    def _noting(self, note: Handler) -> Handler:
        """An informer handler: tell ``note`` (a :class:`.cluster_state.ClusterFacts` method), re-plan."""

        def changed(key: str, old: JSON | None, new: JSON | None) -> None:
            note(key, old, new)
            self.queue.add(_PLAN)

        return changed

    def _secret_changed(self, _key: str, old: JSON | None, new: JSON | None) -> None:
        if secret_data_changed(old, new):
            self.queue.add(_PLAN)  # never logged: the data is a key

    def _failed(self, what: str, status: int) -> None:
        if not self.stop.is_set():
            log.error("%s exited with status %d; stopping so the speaker restarts", what, status)
            self._exit_status = 1
            self.stop.set()
            self.queue.close()
