"""Benchmark the controller against a lab: N LoadBalancer Services, cold start and restart.

For each N (default 1,000 and 10,000) it
1. creates N IPv6 single-stack Services while no controller runs (the lab's IPv4 Service range
   holds ~250 Services, so large numbers must be IPv6; see design.md);
2. starts the controller and measures the time until every Service shows an IP (cold);
3. restarts it and measures the time until it is ready again and whether any IP moved or any
   status was rewritten (restart re-convergence);
4. stops it and times a plain loop that writes the same number of status updates straight to
   the API server, one after another (raw), and prints cold / raw;
then deletes everything it created. With --start-lab it also starts and removes its own lab.

    sudo .venv/bin/python -m bench.controller_bench --state-dir /tmp/ctllab --counts 1000 10000
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ansible_collections.baremetal.lb.daemons.kube.informer import Informer
from ansible_collections.baremetal.lb.daemons.kube.kubeapi import MERGE_PATCH, KubeApi, Resource
from lab import build, lifecycle
from lab.state import LabState
from tests.lab.controller_harness import (
    Cluster,
    Controller,
    controller_kubeconfig,
    ingress_ips,
    install,
    service_manifest,
    unique,
    wait_for,
)

POOL = "2001:db8:2::/64"
RAW_POOL = "2001:db8:3::"  # raw writes use addresses outside every pool


class _Allocated:
    """Counts the Services of one namespace that show an IP, from a watch."""

    def __init__(self, api: KubeApi, namespace: str) -> None:
        self.ips: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self.informer = Informer(api, Resource("/api/v1", "services", namespace), self._seen)
        self._stop = threading.Event()

    def _seen(self, key: str, _old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        with self._lock:
            ips = ingress_ips(new) if new else []
            if ips:
                self.ips[key] = ips
            else:
                self.ips.pop(key, None)

    def count(self) -> int:
        with self._lock:
            return len(self.ips)

    def snapshot(self) -> dict[str, list[str]]:
        with self._lock:
            return dict(self.ips)

    @contextmanager
    def watching(self) -> Iterator[_Allocated]:
        self.informer.list_now()
        thread = threading.Thread(target=self.informer.run, args=(self._stop,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()


def _kubectl(lab: LabState) -> Callable[..., Any]:
    binary = str(build.ensure_all(log=False)["kubectl"])

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, f"--kubeconfig={lab.kubeconfig}", *args], capture_output=True, text=True, check=check
        )

    return run


def _timed(what: str, check: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    wait_for(what, check, timeout=timeout, interval=0.05)
    return time.monotonic() - started


def _raw_writes(api: KubeApi, namespace: str, names: list[str]) -> float:
    started = time.monotonic()
    for index, name in enumerate(names):
        api.request(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/services/{name}/status",
            body={"status": {"loadBalancer": {"ingress": [{"ip": f"{RAW_POOL}{index + 1:x}"}]}}},
            content_type=MERGE_PATCH,
        )
    return time.monotonic() - started


def _bench(lab: LabState, kubeconfig: Path, workdir: Path, count: int, timeout: float) -> None:
    api = KubeApi.connect(str(lab.kubeconfig), pool_size=32)
    cluster = Cluster(api)
    namespace = unique("bench")
    api.request("POST", "/api/v1/namespaces", body={"metadata": {"name": namespace}})
    controller = Controller(kubeconfig, workdir, "--log-level=warning")
    try:
        cluster.create_pool(unique("bench"), [POOL])
        names = [f"svc-{index:05d}" for index in range(count)]
        started = time.monotonic()
        with ThreadPoolExecutor(32) as pool:
            list(
                pool.map(
                    lambda name: api.request(
                        "POST",
                        f"/api/v1/namespaces/{namespace}/services",
                        body=service_manifest(name, ipv6=True),
                    ),
                    names,
                )
            )
        created = time.monotonic() - started
        with _Allocated(api, namespace).watching() as allocated:
            started = time.monotonic()
            controller.start(wait_ready=False)
            cold = _timed(f"{count} Services to get IPs", lambda: allocated.count() == count, timeout)
            before = allocated.snapshot()
            controller.stop()
            started = time.monotonic()
            controller.start(wait_ready=False)
            ready = _timed("the restarted controller to be ready", controller.ready, timeout)
            time.sleep(2)
            rewrites = controller.metric("metallb_k8s_client_updates_total")
            moved = sum(1 for key, ips in allocated.snapshot().items() if before.get(key) != ips)
            controller.stop()
        raw = _raw_writes(api, namespace, names)
        unique_ips = len({ip for ips in before.values() for ip in ips})
        print(
            f"N={count}: created in {created:.1f}s; cold start to all allocated {cold:.2f}s "
            f"({count / cold:.0f}/s, {unique_ips} distinct IPs); raw sequential status writes {raw:.2f}s "
            f"({count / raw:.0f}/s); controller/raw = {cold / raw:.2f}; restart to ready {ready:.2f}s, "
            f"{moved} IPs moved, {rewrites:.0f} status rewrites",
            flush=True,
        )
    finally:
        controller.stop()
        cluster.cleanup()
        api.request("DELETE", f"/api/v1/namespaces/{namespace}")


def main() -> None:
    """Run the benchmark for each requested N."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--state-dir", type=Path, help="a running lab's state directory")
    parser.add_argument(
        "--start-lab", action="store_true", help="start a lab for the run and remove it after"
    )
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 10000], help="numbers of Services")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed per phase")
    args = parser.parse_args()
    if max(args.counts) > 20000:
        parser.error("at most 20,000 Services: the benchmark must stay bounded")
    with tempfile.TemporaryDirectory(prefix="controller-bench-") as scratch:
        workdir = Path(scratch)
        state_dir = workdir / "lab" if args.start_lab else args.state_dir
        if state_dir is None:
            parser.error("give --state-dir of a running lab, or --start-lab")
        lab = lifecycle.up(state_dir) if args.start_lab else LabState.load(state_dir)
        if lab is None:
            parser.error(f"no lab recorded in {state_dir}")
        try:
            kubectl = _kubectl(lab)
            install(kubectl)
            kubeconfig = controller_kubeconfig(lab, workdir / "kubeconfig")
            for count in args.counts:
                _bench(lab, kubeconfig, workdir, count, args.timeout)
        finally:
            if args.start_lab:
                lifecycle.down(state_dir)


if __name__ == "__main__":
    main()
