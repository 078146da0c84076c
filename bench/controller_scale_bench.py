"""Benchmark the controller holding and re-claiming N Services: memory and restart-to-ready time.

What it runs: the controller's own :class:`~daemons.controller.app.Controller` (informers,
reconciler, allocator, status and pool writers, Event recorder) in a child process of its own, so
the resident memory is the controller's alone; only the API server is replaced. A
:class:`ServedApi` (a :class:`KubeApi` whose transport answers from memory) serves the lists page
by page (500 a page, as the controller asks) as JSON bytes that the controller decodes as it
would an answer from the network; watches stay open and silent. So everything after the bytes
arrive is the daemon's code path; nothing of the API server's own cost (etcd, serialization on
the server) is in the figures, except the pages' JSON encoding, which this process does on the
controller's clock and which is printed apart (``serving``).

The objects are shaped as kube-apiserver 1.3x returns them for the bench's Services in the lab
(``bench/controller_bench.py``): IPv6 single-stack LoadBalancer Services with uid, timestamps,
cluster IPs, three managedFields entries (the creator's, and the controller's annotation and
status writes), the pool annotation and ``status.loadBalancer.ingress`` with the IP a previous
controller gave; one IPAddressPool whose status already shows them assigned, one
L2Advertisement. That is the controller's restart: every Service holds an IP.

Each repetition (``--reps``, default 5) is one fresh child, timed from building the controller to:

ready
    :meth:`Controller.start` returned: every collection listed, the pools loaded, every held
    address re-claimed; the daemon answers /readyz 200 at this moment. Also printed: the same
    from the child's exec (interpreter start and imports added) and the CPU time the child used
    until then (all threads, the page serving included), which the machine's load does not
    stretch as it stretches the wall-clock figures;
settled
    every Service has been decided once more after ready and no decision or write is left.

and counting what a restart must not do: status rewrites (PATCH of a Service's status), IPs moved
(a rewrite showing another IP), Events, pool status writes, and how many Services the re-claim
kept (must be N). Memory: VmRSS at ready and once settled ("holds"), and VmHWM (peak).

It prints every repetition, then the median and spread (min-max) of each figure; a repetition
that fails (an error, over ``--timeout``, a moved IP, a re-claim short of N) is printed and
counted, never dropped. The target (issue 14): 100,000 Services held in <= 500 MB, ready again
in <= 60 s, no IP moved. ``bench/controller_bench.py`` measures through the lab's real API
server (up to 20,000 Services).

    .venv/bin/python -m bench.controller_scale_bench                     # 100,000 Services, 5 reps
    .venv/bin/python -m bench.controller_scale_bench --services 10000 --reps 5
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv6Address
from typing import Any
from urllib.parse import urlparse

from ansible_collections.baremetal.lb.daemons.controller import reconciler
from ansible_collections.baremetal.lb.daemons.controller.app import Controller, Options
from ansible_collections.baremetal.lb.daemons.kube.access import ClusterAccess
from ansible_collections.baremetal.lb.daemons.kube.kubeapi import CONTROLLER_FIELD_MANAGER, JSON, KubeApi
from ansible_collections.baremetal.lb.daemons.kube.logs import configure_logs
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import (
    IP_ADDRESS_POOL,
    L2_ADVERTISEMENT,
)
from ansible_collections.baremetal.lb.plugins.module_utils.services import IP_ALLOCATED_FROM_POOL, annotation
from bench.figures import median_spread
from bench.process_memory import memory_mb

NAMESPACE = "bench"
CONFIG_NAMESPACE = Options().namespace
POOL = "bench"
POOL_RANGE = "2001:db8:2::/104"  # 16,777,216 documentation addresses
FIRST_IP = IPv6Address("2001:db8:2::")
CLUSTER_IP = IPv6Address("fd00:10:96::1000")
CREATED = "2026-12-03T12:00:00Z"
LIST_VERSION = "9000000"
MAX_SERVICES = 200_000

# -- what the API server holds ---------------------------------------------------------------------


def service_object(i: int) -> JSON:
    """Service ``i`` as kube-apiserver lists it after a controller gave it its IP."""
    name = f"svc-{i:06d}"
    cluster_ip = str(CLUSTER_IP + i)

    def managed(manager: str, fields: JSON, subresource: str = "") -> JSON:
        entry: JSON = {
            "manager": manager,
            "operation": "Update",
            "apiVersion": "v1",
            "time": CREATED,
            "fieldsType": "FieldsV1",
            "fieldsV1": fields,
        }
        if subresource:
            entry["subresource"] = subresource
        return entry

    port_fields: JSON = {".": {}, "f:name": {}, "f:port": {}, "f:protocol": {}, "f:targetPort": {}}
    spec_fields: JSON = {
        f"f:{key}": {}
        for key in (
            "allocateLoadBalancerNodePorts",
            "externalTrafficPolicy",
            "internalTrafficPolicy",
            "ipFamilies",
            "ipFamilyPolicy",
            "sessionAffinity",
            "type",
        )
    }
    return {
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": f"0b5e{i:08x}-7a1d-4c3e-9f00-{i:012x}",
            "resourceVersion": str(1000 + i),
            "creationTimestamp": CREATED,
            "annotations": {annotation(IP_ALLOCATED_FROM_POOL): POOL},
            "managedFields": [
                managed(
                    "OpenAPI-Generator",
                    {
                        "f:spec": {
                            **spec_fields,
                            "f:ports": {".": {}, 'k:{"port":80,"protocol":"TCP"}': port_fields},
                            "f:selector": {},
                        }
                    },
                ),
                managed(
                    CONTROLLER_FIELD_MANAGER,
                    {"f:metadata": {"f:annotations": {".": {}, "f:metallb.io/ip-allocated-from-pool": {}}}},
                ),
                managed(
                    CONTROLLER_FIELD_MANAGER, {"f:status": {"f:loadBalancer": {"f:ingress": {}}}}, "status"
                ),
            ],
        },
        "spec": {
            "ports": [{"name": "p80", "protocol": "TCP", "port": 80, "targetPort": 80}],
            "selector": {"app": name},
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "type": "LoadBalancer",
            "sessionAffinity": "None",
            "externalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv6"],
            "ipFamilyPolicy": "SingleStack",
            "allocateLoadBalancerNodePorts": False,
            "internalTrafficPolicy": "Cluster",
        },
        "status": {"loadBalancer": {"ingress": [{"ip": str(FIRST_IP + i), "ipMode": "VIP"}]}},
    }


def config_objects(count: int) -> dict[str, list[JSON]]:
    """The metallb.io objects by plural: one L2Advertisement and one pool showing ``count`` assigned."""
    pool = {
        "apiVersion": IP_ADDRESS_POOL.api_version,
        "kind": IP_ADDRESS_POOL.kind,
        "metadata": {"name": POOL, "namespace": CONFIG_NAMESPACE, "resourceVersion": "10", "uid": "p-1"},
        "spec": {"addresses": [POOL_RANGE]},
        "status": {
            "assignedIPv4": 0,
            "assignedIPv6": count,
            "availableIPv4": 0,
            "availableIPv6": 2 ** (128 - int(POOL_RANGE.rsplit("/", 1)[1])) - count,
        },
    }
    l2 = {
        "apiVersion": L2_ADVERTISEMENT.api_version,
        "kind": L2_ADVERTISEMENT.kind,
        "metadata": {"name": POOL, "namespace": CONFIG_NAMESPACE, "resourceVersion": "11", "uid": "l-1"},
        "spec": {"ipAddressPools": [POOL]},
    }
    return {IP_ADDRESS_POOL.plural: [pool], L2_ADVERTISEMENT.plural: [l2]}


def namespace_objects() -> list[JSON]:
    """The namespaces, labelled as the API server labels them."""
    return [
        {"metadata": {"name": name, "resourceVersion": "1", "labels": {"kubernetes.io/metadata.name": name}}}
        for name in ("default", "kube-system", CONFIG_NAMESPACE, NAMESPACE)
    ]


class _Answer:
    """One HTTP answer as :class:`KubeApi` reads it (status, body; a watch streams until stopped)."""

    def __init__(self, status: int, body: bytes = b"", stop: threading.Event | None = None) -> None:
        self.status = status
        self.reason = "OK" if status < 300 else "Not Found"
        self.data = body
        self._stop = stop

    def read(self) -> bytes:
        return self.data

    def stream(self, _amount: int, decode_content: bool = True) -> Iterator[bytes]:
        assert self._stop is not None and decode_content
        self._stop.wait()  # a watch that sees no change until the controller stops
        yield b""

    def release_conn(self) -> None:
        """Nothing to give back."""


@dataclass
class Writes:
    """What the controller wrote while restarting: none of it should be needed."""

    status: dict[str, list[str]] = field(default_factory=dict)  # Service -> IPs its status patch shows
    events: int = 0
    pool_status: list[JSON] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)


class ServedApi(KubeApi):  # type: ignore[misc]  # mypy sees the collection as Any
    """A :class:`KubeApi` whose transport answers from memory, as the API server would (see the module)."""

    def __init__(self, count: int, stop: threading.Event) -> None:
        super().__init__(_NOWHERE, CONTROLLER_FIELD_MANAGER)
        self._count = count
        self._stop = stop
        self._config = config_objects(count)
        self._lock = threading.Lock()
        self.writes = Writes()
        self.serving_s = 0.0
        self.pages_served = 0

    def _send(
        self, method: str, path: str, query: Mapping[str, str | int] | None, *, body: JSON | None, **_how: Any
    ) -> Any:
        """Answer from memory (``_how``: content type and timeout, which do not matter here)."""
        began = time.monotonic()
        try:
            return self._answer(method, urlparse(path).path, dict(query or {}), body)
        finally:
            with self._lock:
                self.serving_s += time.monotonic() - began

    def _answer(  # noqa: PLR0911 - one answer per kind of request, as a router reads
        self, method: str, path: str, query: dict[str, str | int], body: JSON | None
    ) -> _Answer:
        parts = path.strip("/").split("/")
        if method == "GET" and "watch" in query:
            return _Answer(200, stop=self._stop)
        if method == "GET" and parts[-1] == "services":
            return _Answer(200, self._services_page(int(query.get("continue") or 0), int(query["limit"])))
        if method == "GET" and path == "/api/v1/namespaces":
            return _Answer(200, _list(namespace_objects()))
        if method == "GET" and parts[-2] == CONFIG_NAMESPACE:
            return _Answer(200, _list(self._config.get(parts[-1], [])))
        with self._lock:
            if method == "PATCH" and parts[-3] == "services" and parts[-1] == "status":
                return self._status_written(parts[-2], body or {})
            if method == "PATCH" and parts[-3] == IP_ADDRESS_POOL.plural:
                self.writes.pool_status.append((body or {}).get("status") or {})
                pool = {**self._config[IP_ADDRESS_POOL.plural][0], **(body or {})}
                return _Answer(200, json.dumps(pool).encode())
            if method == "POST" and parts[-1] == "events":
                self.writes.events += 1
                return _Answer(201, json.dumps(body).encode())
            self.writes.unexpected.append(f"{method} {path}")
        return _Answer(404, b"{}")

    def _services_page(self, start: int, limit: int) -> bytes:
        self.pages_served += 1
        end = min(start + limit, self._count)
        metadata: JSON = {"resourceVersion": LIST_VERSION}
        if end < self._count:
            metadata["continue"] = str(end)
        items = [service_object(i) for i in range(start, end)]
        return json.dumps(
            {"kind": "ServiceList", "apiVersion": "v1", "metadata": metadata, "items": items}
        ).encode()

    def _status_written(self, name: str, patch: JSON) -> _Answer:
        ingress = ((patch.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        self.writes.status[name] = [str(entry.get("ip")) for entry in ingress]
        written = service_object(int(name.rsplit("-", 1)[1]))
        written["metadata"]["resourceVersion"] = str(int(LIST_VERSION) + len(self.writes.status))
        if "status" in patch:
            written["status"] = patch["status"]
        return _Answer(200, json.dumps(written).encode())


_NOWHERE = ClusterAccess("http://api-server.invalid", tls=None)
"""Where :class:`ServedApi` would connect, if it ever sent a request instead of answering it."""


def _list(items: list[JSON]) -> bytes:
    return json.dumps({"metadata": {"resourceVersion": LIST_VERSION}, "items": items}).encode()


class _Reclaimed(logging.Handler):
    """Picks the count out of the reconciler's "re-claimed the addresses of N services" line."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.kept: int | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("re-claimed the addresses of"):
            self.kept = int(str(record.args[0]))  # type: ignore[index]


# -- one restart in a child process ------------------------------------------------------------------


def restart(count: int, timeout: float) -> JSON:
    """Start the controller over ``count`` Services that hold their IPs; return the figures."""
    stop = threading.Event()
    api = ServedApi(count, stop)
    reclaimed = _Reclaimed()
    decisions = logging.getLogger(reconciler.__name__)
    decisions.addHandler(reclaimed)
    level = decisions.level
    decisions.setLevel(logging.INFO)  # the line is logged at info, as by default
    result: JSON = {"services": count}
    began = time.monotonic()
    controller = Controller(Options(metrics_port=0, health_port=0), stop, api)
    controller.start()
    result["ready_s"] = time.monotonic() - began
    result["cpu_at_ready_s"] = time.process_time()  # all threads, from exec: load-independent
    result["process_age_at_ready_s"] = _process_age()
    decisions.removeHandler(reclaimed)
    decisions.setLevel(level)
    result["serving_at_ready_s"] = api.serving_s
    result["rss_ready_mb"] = memory_mb()[0]
    loop = threading.Thread(target=controller.loop, name="decide", daemon=True)
    loop.start()
    try:
        deadline = began + timeout
        while not controller.idle() and time.monotonic() < deadline:
            time.sleep(0.05)  # bounded by --timeout; the signal is the controller's own idle()
        if not controller.idle():
            result["error"] = f"not settled within {timeout:g}s"
        result["settled_s"] = time.monotonic() - began
        result["rss_mb"], peak = memory_mb()
        result["peak_mb"] = max(peak, result["rss_mb"], result["rss_ready_mb"])  # VmHWM may lag
    finally:
        stop.set()
        loop.join(5)
    shown = {f"svc-{i:06d}": [str(FIRST_IP + i)] for i in range(count)}
    writes = api.writes
    result.update(
        serving_s=api.serving_s,
        reclaimed=reclaimed.kept,
        rewrites=len(writes.status),
        moved=sum(1 for name, ips in writes.status.items() if shown.get(name) != ips),
        events=writes.events,
        pool_writes=len(writes.pool_status),
        unexpected=writes.unexpected[:5],
    )
    problems = []
    if result["moved"]:
        problems.append(f"{result['moved']} IPs moved")
    if reclaimed.kept != count:
        problems.append(f"re-claimed {reclaimed.kept} of {count}")
    if writes.unexpected:
        problems.append(f"unexpected requests {writes.unexpected[:3]}")
    if problems and "error" not in result:
        result["error"] = "; ".join(problems)
    return result


def _process_age() -> float:
    """Seconds since this process was started (exec, interpreter start and imports included)."""
    with open("/proc/self/stat", encoding="ascii") as stat:
        started_ticks = int(stat.read().rpartition(")")[2].split()[19])
    return time.clock_gettime(time.CLOCK_BOOTTIME) - started_ticks / os.sysconf("SC_CLK_TCK")


# -- the parent: one child per repetition, then the table ----------------------------------------------

FIGURES = (
    ("ready_s", "restart to ready s", "{:.2f}"),
    ("serving_at_ready_s", "  of it serving pages s", "{:.2f}"),
    ("process_age_at_ready_s", "  same from exec s", "{:.2f}"),
    ("cpu_at_ready_s", "  CPU time from exec s", "{:.2f}"),
    ("settled_s", "restart to settled s", "{:.2f}"),
    ("rss_ready_mb", "RSS at ready MB", "{:.0f}"),
    ("rss_mb", "RSS settled MB", "{:.0f}"),
    ("peak_mb", "RSS peak MB", "{:.0f}"),
)


def run_rep(count: int, timeout: float) -> JSON:
    """One repetition in a fresh child; a failure is returned as ``{"error": ...}``, never raised."""
    command = [sys.executable, "-m", "bench.controller_scale_bench", "--child", "--services", str(count)]
    command += ["--timeout", str(timeout)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout + 60, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"child over {timeout + 60:g}s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        return {"error": f"child exited {done.returncode}: {done.stderr.strip()[-300:]}"}
    result: JSON = json.loads(lines[-1])
    return result


def describe(result: JSON) -> str:
    """One repetition on one line."""
    if "ready_s" not in result:
        return f"FAILED: {result['error']}"
    figures = ", ".join(f"{name.strip()} {form.format(result[key])}" for key, name, form in FIGURES)
    counts = (
        f"re-claimed {result['reclaimed']}, {result['moved']} moved, {result['rewrites']} status rewrites, "
        f"{result['events']} Events, {result['pool_writes']} pool writes"
    )
    failed = f" FAILED: {result['error']}" if "error" in result else ""
    return f"{figures}; {counts}{failed}"


def summary(results: list[JSON], count: int) -> list[str]:
    """Median and spread (min-max) of each figure; a failed repetition counts as worse than any."""
    lines = [f"N={count}, {len(results)} repetitions, failed: {sum(1 for r in results if 'error' in r)}"]
    for key, name, form in FIGURES:
        values = [float(r[key]) if key in r and "error" not in r else math.inf for r in results]
        lines.append(f"  {name:26} {median_spread(values, form.format)}")
    return lines


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--services", type=int, default=100_000, help="Services held (default 100,000)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions, one child each (default 5)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds allowed per repetition")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.services <= MAX_SERVICES:
        parser.error(f"--services from 1 to {MAX_SERVICES:,}: the benchmark must stay bounded")
    if not 1 <= args.reps <= 20:
        parser.error("--reps from 1 to 20")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the repetitions (or, with ``--child``, one restart) and print the figures."""
    args = arguments(argv)
    if args.child:
        configure_logs("info")  # as the daemon runs by default
        print(json.dumps(restart(args.services, args.timeout)), flush=True)
        return 0
    results = []
    for rep in range(1, args.reps + 1):
        result = run_rep(args.services, args.timeout)
        results.append(result)
        print(f"N={args.services} rep {rep}: {describe(result)}", flush=True)
    print("\n".join(summary(results, args.services)), flush=True)
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
