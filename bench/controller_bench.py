"""Benchmark the controller against the API server's own write path, doing the same work.

For each size N (``--sizes``, default 1,000 and 10,000) it creates N IPv6 single-stack
LoadBalancer Services (the lab's IPv4 Service range holds ~250, see design.md) and one pool, then
runs ``--reps`` repetitions (default 5) of two trials on those same Services, alternating which
goes first (A B, B A, A B, ...) so that drift of the shared machine hits both alike:

controller (A)
    starts the shipped controller with its default options and times, from the moment the
    process starts, until every Service shows an IP and until its N ``IPAllocated`` Events
    exist; then restarts it and times until it is ready again, counting IPs that moved and
    status rewrites (both should be 0). It reads the controller process's resident memory
    from /proc: VmRSS once every IP and Event is there, and VmRSS and VmHWM (peak) of the
    restarted process 2 s after it is ready (it holds the N Services then).
raw (B)
    the same work sent straight to the API server at the controller's concurrency, with the
    controller's credentials and field manager: list the Services (as the controller does at
    start), then ``--status-writers`` threads (default: the controller's default) each send the
    exact conditional status patch the controller sends (ingress + ``ip-allocated-from-pool``
    annotation + resourceVersion), while one thread posts the same ``IPAllocated`` Event per
    Service through the controller's own Event recorder (one thread, as in the controller).

Both trials are timed on the monotonic clock by the same watch of the Services and Events, so
detection costs the same. Between trials the Services are reset (no ingress, no annotation) and
the Events deleted, untimed. It prints every trial, then per N the median and the spread
(min-max) of each time and of the per-repetition ratio controller/raw, and of the
controller's restart to ready and memory. A failed trial (timeout,
error, duplicate IPs, a moved IP) is printed and counted, and in the median it counts as slower
than every success: never dropped.

    sudo .venv/bin/python -m bench.controller_bench --start-lab
    sudo .venv/bin/python -m bench.controller_bench --state-dir /tmp/ctllab --sizes 1000 --reps 5

``--controller-only`` drops the raw trial (sizes up to 100,000): the controller's memory and its
restart, the issue-14 targets, through the real API server. It waits for every IP, not every
Event: the controller's Event queue holds 20,000, and past that Events are dropped by design
(the trial prints how many IPAllocated Events there were). Its Services have no selector (no
EndpointSlice controller work) and carry ``service.kubernetes.io/service-proxy-name`` so the lab's
kube-proxies skip them: neither changes what the controller does. Creating them stays slow at
large N: kube-apiserver 1.37 recounts every IPAddress object on each ClusterIP allocation
(``ipallocator.Allocator.Used``), so each create costs time in proportion to the Services already
there (about 200 a second at the start, 70 at 10,000 on the 2-core lab).

    sudo .venv/bin/python -m bench.controller_bench --state-dir .lab --sizes 100000 --reps 1 \
        --controller-only --timeout 2400

``--seed-through-etcd`` (with ``--controller-only``) stores the Services and their ClusterIPs'
IPAddress objects straight in the lab's etcd instead (:mod:`bench.etcd_seed`, as a restore from
a backup would), and waits until the API server lists them all: minutes instead of hours at
100,000. Everything the controller reads and writes still goes through the real API server.

    sudo .venv/bin/python -m bench.controller_bench --state-dir .lab --sizes 100000 --reps 1 \
        --controller-only --seed-through-etcd --timeout 2400
"""

from __future__ import annotations

import argparse
import math
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from ipaddress import IPv6Address
from pathlib import Path
from typing import Any

from ansible_collections.baremetal.lb.daemons.controller.app import Options
from ansible_collections.baremetal.lb.daemons.controller.status_writer import Desired
from ansible_collections.baremetal.lb.daemons.kube.events import NORMAL, EventRecorder, go_quote
from ansible_collections.baremetal.lb.daemons.kube.informer import Informer
from ansible_collections.baremetal.lb.daemons.kube.kubeapi import (
    CONTROLLER_FIELD_MANAGER,
    MERGE_PATCH,
    SERVICES,
    ApiError,
    KubeApi,
    Resource,
)
from ansible_collections.baremetal.lb.plugins.module_utils.services import IP_ALLOCATED_FROM_POOL, annotation
from bench import etcd_seed
from bench.figures import median_spread
from bench.process_memory import memory_mb
from lab.state import LabState
from tests.lab.controller_harness import (
    Cluster,
    Controller,
    add_lab_options,
    bench_lab,
    controller_kubeconfig,
    ingress_ips,
    service_manifest,
    unique,
    wait_for,
)

POOL = "2001:db8:2::/64"
FIRST_IP = IPv6Address("2001:db8:2::")
ALLOCATED = "IPAllocated"
ADMIN_THREADS = 32  # set-up and reset only, never timed
PROXY_NAME = "service.kubernetes.io/service-proxy-name"  # kube-proxy skips Services that carry it


class _Progress:
    """Watches one namespace: which Services show an IP, and how many IPAllocated Events exist."""

    def __init__(self, api: KubeApi, namespace: str) -> None:
        self._lock = threading.Lock()
        self._ips: dict[str, list[str]] = {}
        self._events: set[str] = set()
        self._services = Informer(api, Resource("/api/v1", "services", namespace), self._service_seen)
        self._event_informer = Informer(api, Resource("/api/v1", "events", namespace), self._event_seen)
        self._stop = threading.Event()

    def _service_seen(self, key: str, _old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        ips = ingress_ips(new) if new else []
        with self._lock:
            if ips:
                self._ips[key] = ips
            else:
                self._ips.pop(key, None)

    def _event_seen(self, key: str, _old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        with self._lock:
            if new and new.get("reason") == ALLOCATED:
                self._events.add(key)
            else:
                self._events.discard(key)

    def allocated(self) -> int:
        with self._lock:
            return len(self._ips)

    def events(self) -> int:
        with self._lock:
            return len(self._events)

    def snapshot(self) -> dict[str, list[str]]:
        with self._lock:
            return dict(self._ips)

    def services(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._services.items()
        return items

    @contextmanager
    def watching(self, timeout: float) -> Iterator[_Progress]:
        for informer in (self._services, self._event_informer):
            wait_for(f"a list of {informer.resource.plural}", partial(_list_now, informer), timeout, 1.0)
            threading.Thread(target=informer.run, args=(self._stop,), daemon=True).start()
        try:
            yield self
        finally:
            self._stop.set()


@dataclass
class _Trial:
    """One timed run; ``error`` says why it failed (empty: it succeeded)."""

    ips: float = math.inf
    events: float = math.inf
    error: str = ""
    notes: str = ""
    ready: float = math.inf  # restart to ready (controller trials)
    rss_mb: float = math.inf  # after the first start, all IPs and Events there
    restart_rss_mb: float = math.inf  # the restarted process, holding the N Services
    restart_peak_mb: float = math.inf


@dataclass
class _Size:
    count: int
    controller: list[_Trial] = field(default_factory=list)
    raw: list[_Trial] = field(default_factory=list)


@dataclass(frozen=True)
class _Bench:
    admin: KubeApi
    kubeconfig: Path
    workdir: Path
    writers: int
    timeout: float
    trials: tuple[str, ...] = ("controller", "raw")  # which trials each repetition runs
    seed_lab: LabState | None = None  # set: Services are stored in this lab's etcd, not created

    @property
    def against_raw(self) -> bool:
        """Whether the controller is compared with the raw write path (else: measured alone)."""
        return "raw" in self.trials

    def service(self, index: int) -> dict[str, Any]:
        """Service ``index``; measured alone, one kube-proxy and the EndpointSlice controller skip."""
        name = f"svc-{index:05d}"
        if self.against_raw:
            return service_manifest(name, ipv6=True)
        return service_manifest(name, ipv6=True, labels={PROXY_NAME: "none"}, selector=None)


def _until_done(bench: _Bench, progress: _Progress, count: int, started: float, trial: _Trial) -> None:
    """Fill in when all ``count`` Services showed an IP and (with the raw trial) all their Events existed."""
    timeout = bench.timeout
    wait_for(f"{count} Services to show an IP", lambda: progress.allocated() >= count, timeout, 0.02)
    trial.ips = time.monotonic() - started
    if not bench.against_raw:
        return
    wait_for(f"{count} {ALLOCATED} Events", lambda: progress.events() >= count, timeout, 0.02)
    trial.events = time.monotonic() - started


def _controller_trial(bench: _Bench, progress: _Progress, count: int) -> _Trial:
    trial = _Trial()
    changed = () if bench.writers == Options().status_writers else (f"--status-writers={bench.writers}",)
    controller = Controller(bench.kubeconfig, bench.workdir, *changed)  # otherwise the shipped defaults
    try:
        started = time.monotonic()
        controller.start(wait_ready=False)
        _until_done(bench, progress, count, started, trial)
        trial.rss_mb = memory_mb(controller.pid)[0]
        events = progress.events()
        before = progress.snapshot()
        distinct = len({ip for ips in before.values() for ip in ips})
        controller.stop()
        restarted = time.monotonic()
        controller.start(wait_ready=False)
        wait_for("the restarted controller to be ready", controller.ready, bench.timeout)
        ready = trial.ready = time.monotonic() - restarted
        time.sleep(2)  # let any (wrong) rewrite of a re-claimed status land before counting
        trial.restart_rss_mb, trial.restart_peak_mb = memory_mb(controller.pid)
        rewrites = controller.metric("metallb_k8s_client_updates_total") or 0.0
        moved = sum(1 for key, ips in progress.snapshot().items() if before.get(key) != ips)
        trial.notes = (
            f"{events} {ALLOCATED} Events by then; "
            f"restart to ready {ready:.2f}s, {moved} IPs moved, {rewrites:.0f} status rewrites; "
            f"RSS {trial.rss_mb:.0f} MB, restarted {trial.restart_rss_mb:.0f} MB "
            f"(peak {trial.restart_peak_mb:.0f} MB)"
        )
        if distinct != count or moved:
            trial.error = f"{distinct} distinct IPs for {count} Services, {moved} moved on restart"
    except Exception as error:  # a failed trial is reported, never dropped
        trial.error = str(error)
    finally:
        controller.stop()
    return trial


def _raw_trial(bench: _Bench, progress: _Progress, namespace: str, pool: str, count: int) -> _Trial:
    trial = _Trial()
    api = KubeApi.connect(
        str(bench.kubeconfig), pool_size=bench.writers + 8, field_manager=CONTROLLER_FIELD_MANAGER
    )
    writes_done = threading.Event()
    events = EventRecorder(api, idle=writes_done.is_set, component="metallb-controller")
    events.start()
    failures: list[str] = []

    def write(pair: tuple[int, dict[str, Any]]) -> None:
        index, service = pair
        ip = str(FIRST_IP + index)
        patch = Desired((ip,), pool).patch_for(service)
        meta = service["metadata"]
        try:
            api.request(
                "PATCH",
                SERVICES.item(meta["namespace"], meta["name"], "status"),
                body=patch,
                content_type=MERGE_PATCH,
            )
        except Exception as error:  # counted: the trial fails
            failures.append(str(error))
            return
        events.record(service, NORMAL, ALLOCATED, f"Assigned IP {go_quote([ip])}")

    try:
        started = time.monotonic()
        items, _version = api.list_all(SERVICES)
        ours = sorted(
            (item for item in items if item["metadata"]["namespace"] == namespace),
            key=lambda item: str(item["metadata"]["name"]),
        )
        with ThreadPoolExecutor(bench.writers) as writers:
            list(writers.map(write, enumerate(ours)))
        writes_done.set()
        if failures:
            raise RuntimeError(f"{len(failures)} status writes failed, first: {failures[0]}")
        _until_done(bench, progress, count, started, trial)
    except Exception as error:  # a failed trial is reported, never dropped
        trial.error = str(error)
    return trial


def _reset(admin: KubeApi, progress: _Progress, namespace: str, timeout: float) -> None:
    """Untimed: no Service shows an IP or our annotation, and no Event is left."""
    cleared = {
        "metadata": {"annotations": {annotation(IP_ALLOCATED_FROM_POOL): None}},
        "status": {"loadBalancer": {"ingress": []}},
    }

    def clear(service: dict[str, Any]) -> None:  # unconditional: the watch may lag behind the last write
        name = service["metadata"]["name"]
        admin.request(
            "PATCH", SERVICES.item(namespace, name, "status"), body=cleared, content_type=MERGE_PATCH
        )

    with ThreadPoolExecutor(ADMIN_THREADS) as pool:
        list(pool.map(clear, progress.services()))
    admin.request("DELETE", f"/api/v1/namespaces/{namespace}/events")
    wait_for("the reset", lambda: progress.allocated() == 0 and progress.events() == 0, timeout)


def _print_trial(count: int, rep: int, name: str, trial: _Trial) -> None:
    if trial.error:
        print(f"N={count} rep {rep} {name}: FAILED: {trial.error[:300]}", flush=True)
        return
    notes = f"; {trial.notes}" if trial.notes else ""
    events = f", all IPs and Events {trial.events:.2f}s" if math.isfinite(trial.events) else ""
    print(f"N={count} rep {rep} {name}: all IPs {trial.ips:.2f}s{events}{notes}", flush=True)


def _seed_services(admin: KubeApi, lab: LabState, namespace: str, bench: _Bench, count: int) -> None:
    """Untimed set-up: ``count`` Services stored in ``lab``'s etcd, then listed by the API server."""
    started = time.monotonic()
    etcd_seed.seed(lab, namespace, (bench.service(index) for index in range(count)))
    print(f"N={count}: stored in etcd in {time.monotonic() - started:.1f}s (untimed set-up)", flush=True)
    wait_for(
        f"the API server to list the {count} Services stored in etcd",
        lambda: etcd_seed.listed(admin, namespace) == count,
        bench.timeout,
        0.5,
    )
    print(f"N={count}: listed by the API server after {time.monotonic() - started:.1f}s", flush=True)


def _create_services(admin: KubeApi, namespace: str, bench: _Bench, count: int) -> None:
    """Untimed set-up: ``count`` Services created through the API server, a progress line at every tenth."""
    started = time.monotonic()
    step = max(count // 10, 1)

    def create(index: int) -> None:
        admin.request("POST", f"/api/v1/namespaces/{namespace}/services", body=bench.service(index))

    with ThreadPoolExecutor(ADMIN_THREADS) as creators:
        for done, _created in enumerate(creators.map(create, range(count)), start=1):
            if done % step == 0 or done == count:
                elapsed = time.monotonic() - started
                print(f"N={count}: {done} Services created in {elapsed:.1f}s (untimed set-up)", flush=True)


def _list_now(informer: Informer) -> bool:
    """List for ``informer``; False while the API server's cache is behind etcd (504), to ask again."""
    try:
        informer.list_now()
    except ApiError as error:
        if etcd_seed.cache_behind(error):
            return False
        raise
    return True


def _run_size(bench: _Bench, count: int, reps: int) -> _Size:
    admin = bench.admin
    cluster = Cluster(admin)
    namespace = unique("bench")
    admin.request("POST", "/api/v1/namespaces", body={"metadata": {"name": namespace}})
    result = _Size(count)
    try:
        pool = cluster.create_pool(unique("bench"), [POOL])
        if bench.seed_lab is None:
            _create_services(admin, namespace, bench, count)
        else:
            _seed_services(admin, bench.seed_lab, namespace, bench, count)
        with _Progress(admin, namespace).watching(bench.timeout) as progress:
            trials: dict[str, Callable[[], _Trial]] = {
                "controller": lambda: _controller_trial(bench, progress, count),
                "raw": lambda: _raw_trial(bench, progress, namespace, pool, count),
            }
            for rep in range(1, reps + 1):
                order = bench.trials if rep % 2 else bench.trials[::-1]
                for name in order:
                    trial = trials[name]()
                    getattr(result, name).append(trial)
                    _print_trial(count, rep, name, trial)
                    if rep < reps or name != order[-1]:  # after the last, the namespace goes
                        _reset(admin, progress, namespace, bench.timeout)
    finally:
        admin.request("DELETE", f"/api/v1/namespaces/{namespace}")
        cluster.cleanup()
    return result


def _spread(values: list[float]) -> str:
    return median_spread(values, "{:.2f}".format)


def _summary(size: _Size, writers: int) -> None:
    reps = len(size.controller)
    how = (
        f"orders alternating (A B, B A, ...), {writers} status writer threads in both"
        if size.raw
        else f"the controller only, {writers} status writer threads"
    )
    print(f"\nN={size.count}, {reps} repetitions, {how}:", flush=True)
    for name, trials in (("controller", size.controller), ("raw", size.raw)):
        if not trials:
            continue
        events = f"all IPs and Events s: {_spread([t.events for t in trials])}; " if size.raw else ""
        print(
            f"  {name:<10} all IPs s: {_spread([t.ips for t in trials])}; {events}"
            f"failed trials: {sum(1 for t in trials if t.error)} of {len(trials)}",
            flush=True,
        )
    held = size.controller
    print(
        f"  controller restart to ready s: {_spread([t.ready for t in held])}; "
        f"RSS MB: {_spread([t.rss_mb for t in held])}; "
        f"restarted RSS MB: {_spread([t.restart_rss_mb for t in held])}, "
        f"peak {_spread([t.restart_peak_mb for t in held])}",
        flush=True,
    )
    if not size.raw:
        return
    pairs = [(a, b) for a, b in zip(size.controller, size.raw, strict=True) if not a.error and not b.error]
    print(
        f"  controller/raw  IPs: {_spread([a.ips / b.ips for a, b in pairs])}; "
        f"IPs and Events: {_spread([a.events / b.events for a, b in pairs])} "
        f"({reps - len(pairs)} repetitions with a failed trial have no ratio)",
        flush=True,
    )


def main() -> None:
    """Run the benchmark for each requested size."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_lab_options(parser)
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1000, 10000],
        help="numbers of Services (at most 20,000; 100,000 with --controller-only)",
    )
    parser.add_argument("--reps", type=int, default=5, help="repetitions of each trial per size (default 5)")
    parser.add_argument(
        "--status-writers",
        type=int,
        default=Options().status_writers,
        help="writer threads of the controller and of the raw baseline (default: the controller's default)",
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed per phase")
    parser.add_argument(
        "--controller-only",
        action="store_true",
        help="no raw baseline: the controller's memory and restart only (the targets at 100,000)",
    )
    parser.add_argument(
        "--seed-through-etcd",
        action="store_true",
        help="with --controller-only: store the Services in the lab's etcd instead of creating them",
    )
    args = parser.parse_args()
    if args.seed_through_etcd and not args.controller_only:
        parser.error("--seed-through-etcd needs --controller-only (the raw trial's Services are created)")
    most = 100_000 if args.controller_only else 20_000
    if max(args.sizes) > most or min(args.sizes) < 1:
        parser.error(f"sizes from 1 to {most:,} Services: the benchmark must stay bounded")
    if not 1 <= args.reps <= 50:
        parser.error("--reps from 1 to 50")
    with tempfile.TemporaryDirectory(prefix="controller-bench-") as scratch:
        workdir = Path(scratch)
        with bench_lab(args, workdir) as lab:
            bench = _Bench(
                admin=KubeApi.connect(str(lab.kubeconfig), pool_size=ADMIN_THREADS + 8),
                kubeconfig=controller_kubeconfig(lab, workdir / "kubeconfig"),
                workdir=workdir,
                writers=args.status_writers,
                timeout=args.timeout,
                trials=("controller",) if args.controller_only else ("controller", "raw"),
                seed_lab=lab if args.seed_through_etcd else None,
            )
            for count in args.sizes:
                _summary(_run_size(bench, count, args.reps), args.status_writers)


if __name__ == "__main__":
    main()
