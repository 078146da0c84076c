"""Wire the controller together and run it: list everything, re-claim, then watch and decide.

Start-up order matters: every collection is listed before anything is decided, the pools are
loaded, every address that Services hold is re-claimed, and only then is the controller ready
and are new addresses handed out.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from types import FrameType

from ..kube.backoff import Backoff
from ..kube.config_loader import ConfigSources
from ..kube.events import EventRecorder
from ..kube.health import HealthServer
from ..kube.informer import Informer
from ..kube.kubeapi import CONTROLLER_FIELD_MANAGER, JSON, NAMESPACES, SERVICES, KubeApi
from ..kube.logs import configure_logs
from ..kube.workqueue import WorkQueue
from .metrics import ControllerMetrics
from .pool_status import PoolStatusWriter
from .reconciler import CONFIG_KEY, Reconciler
from .service_view import slim_service
from .status_writer import StatusWriter

_RETRY_SECONDS = 2.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Options:
    """The controller's command-line options."""

    namespace: str = "metallb-system"
    lb_class: str = ""
    kubeconfig: str | None = None
    metrics_port: int = 7472
    health_port: int = 7473
    bind_address: str = "0.0.0.0"
    status_writers: int = 8
    log_level: str = "info"


def run(options: Options) -> int:
    """Run the controller until SIGTERM or SIGINT; return the exit status."""
    configure_logs(options.log_level)
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    api = KubeApi.connect(
        options.kubeconfig, pool_size=options.status_writers + 8, field_manager=CONTROLLER_FIELD_MANAGER
    )
    controller = Controller(options, stop, api)
    controller.start()
    controller.loop()
    return 0


class Controller:
    """The controller's parts over one API connection: :meth:`start`, then :meth:`loop` until ``stop``.

    :func:`run` builds it over the configured API server; ``bench/controller_scale_bench.py``
    builds it over Service objects served from memory.
    """

    def __init__(self, options: Options, stop: threading.Event, api: KubeApi) -> None:
        self._options = options
        self._stop = stop
        self._queue = WorkQueue()
        self._live = False
        self._metrics = ControllerMetrics()
        self._health = (
            HealthServer(options.health_port, options.bind_address) if options.health_port else None
        )
        # The largest cache: kept to what the controller reads (see slim_service).
        self._services = Informer(api, SERVICES, self._on_service, slim_service)
        self._namespaces = Informer(api, NAMESPACES, self._on_namespace)
        self._config = ConfigSources(api, options.namespace, self._on_config)
        self._writer = StatusWriter(
            api, self._services, self._metrics, self._queue.add, workers=options.status_writers
        )
        self._events = EventRecorder(api, idle=self._writer.idle, component="metallb-controller")
        self._pool_status = PoolStatusWriter(api, self._config.informer("IPAddressPool"))
        self._reconciler = Reconciler(
            lb_class=options.lb_class,
            services=self._services,
            namespaces=self._namespaces,
            config=self._config,
            writer=self._writer,
            events=self._events,
            metrics=self._metrics,
            pool_status=self._pool_status,
            requeue=self._queue.add_all,
        )

    def start(self) -> None:
        """List everything, load the pools, re-claim every held address, then watch: ready."""
        if self._health:
            self._health.start()
        if self._options.metrics_port:
            self._metrics.serve(self._options.metrics_port, self._options.bind_address)
        started = time.monotonic()
        informers = [self._namespaces, *self._config.informers, self._services]
        for informer in informers:
            self._list_until_done(informer)
        self._reconciler.handle(CONFIG_KEY)  # loads the pools, then re-claims held addresses
        services = self._services.items()
        log.info("initial sync done in %.2fs: %d services", time.monotonic() - started, len(services))
        self._live = True
        self._events.start()
        self._writer.start()
        self._pool_status.start()
        for informer in informers:
            threading.Thread(
                target=informer.run, args=(self._stop,), name=f"watch-{informer.resource.plural}", daemon=True
            ).start()
        self._queue.add_all(f"{s['metadata']['namespace']}/{s['metadata']['name']}" for s in services)
        if self._health:
            self._health.mark_ready()

    def loop(self) -> None:
        """Decide, one key at a time, until told to stop."""
        while not self._stop.is_set():
            key = self._queue.get(timeout=0.5)
            if key is None:
                continue
            try:
                self._reconciler.handle(key)
            except Exception:
                log.exception("handling %s failed; retrying", key.strip("\x00"))
                threading.Timer(_RETRY_SECONDS, self._queue.add, (key,)).start()
            finally:
                self._queue.done(key)

    def idle(self) -> bool:
        """True when no decision and no status write waits or runs."""
        return self._queue.idle() and self._writer.idle()

    def _list_until_done(self, informer: Informer) -> None:
        backoff = Backoff()
        while not self._stop.is_set():
            try:
                informer.list_now()
                return
            except Exception as error:  # the API server or a CRD may not be there yet
                delay = backoff.next_delay()
                log.warning(
                    "listing %s failed: %s; retrying in %.1fs (attempt %d)",
                    informer.resource.plural,
                    error,
                    delay,
                    backoff.attempts,
                )
                self._stop.wait(delay)

    def _on_service(self, key: str, _old: JSON | None, _new: JSON | None) -> None:
        if self._live:
            self._queue.add(key)

    def _on_config(self) -> None:
        if self._live:
            self._queue.add(CONFIG_KEY)

    def _on_namespace(self, name: str, old: JSON | None, new: JSON | None) -> None:
        labels_before = ((old or {}).get("metadata") or {}).get("labels")
        labels_after = ((new or {}).get("metadata") or {}).get("labels")
        if self._live and labels_before != labels_after:
            self._queue.add_all(
                f"{name}/{s['metadata']['name']}"
                for s in self._services.items()
                if s["metadata"]["namespace"] == name
            )
