"""The ``--api`` source of :mod:`bench.l2_plan_scale_bench`: a lab's real API server and kwok Nodes.

Creates the shape's kwok Nodes, Services (selector-less, so no controller writes their
EndpointSlices; IPv6, no NodePorts) with their ingress status, and EndpointSlices; runs the
speaker's informers (list + watch of every Node, Service and EndpointSlice) into
``ClusterFacts`` and ``Layer2Planning`` on a planning thread fed by a work queue, as the
speaker's loop is; then times each change from the API write until the re-plan that took the
informer's notice of it in has finished (notices are numbered as the informers hand them over, and
each re-plan records how many it had when it read them). Everything it created is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ansible_collections.baremetal.lb.daemons.kube.informer import Informer
from ansible_collections.baremetal.lb.daemons.kube.kubeapi import (
    MERGE_PATCH,
    SERVICES,
    ApiError,
    KubeApi,
)
from ansible_collections.baremetal.lb.daemons.kube.workqueue import WorkQueue
from ansible_collections.baremetal.lb.daemons.speaker.app import ENDPOINT_SLICES, NODES
from ansible_collections.baremetal.lb.daemons.speaker.cluster_state import (
    Caches,
    slim_endpoint_slice,
    slim_node,
    slim_service,
)
from ansible_collections.baremetal.lb.daemons.speaker.heap import freeze_long_lived
from bench.l2_plan_scale import (
    IncrementalPlanner,
    Shape,
    Store,
    node_object,
    service_object,
    slice_object,
)
from bench.process_memory import memory_mb

JSON = dict[str, Any]
WRITERS = 8  # set-up and clean-up threads, never timed
_PLAN = "plan"


class InformerStore(Store):
    """The store the planner reads: the informers' caches, and their notices, numbered."""

    def __init__(self, nodes: Informer, services: Informer, slices: Informer) -> None:
        super().__init__()
        self._caches = Caches(service=services.get, endpoint_slice=slices.get, node=nodes.get)
        self._counting = threading.Lock()

    def hand_over(self, kind: str, key: str) -> int:
        """Give the planner an informer's notice; its number (a re-plan that took it in: ``took`` >= it)."""
        self.notify(kind, key)
        with self._counting:
            self.handed_over += 1
            return self.handed_over

    def caches(self) -> Caches:
        """The informers' ``get``."""
        return self._caches


class Replan(NamedTuple):
    """One re-plan of the planning loop: when it started and ended, the notices it took in, its size,
    its CPU time and how long it waited for a core; the rest of its wall-clock time it was blocked
    (the GIL, a lock)."""

    started: float
    ended: float
    took: int  # notices handed over before it read them (it took in every one numbered up to this)
    replanned: int  # Services re-planned
    cpu_ms: float  # the planning thread's
    core_wait_ms: float  # the planning thread's time runnable but on the run queue


def run_queue_ms() -> float:
    """How long this thread has waited on a run queue for a core, in ms (Linux schedstat)."""
    with open("/proc/thread-self/schedstat", encoding="ascii") as stat:
        return int(stat.read().split()[1]) / 1e6


class PlanningLoop:
    """The speaker's loop: re-plan after every change notice, on a thread of its own."""

    def __init__(self, planner: IncrementalPlanner) -> None:
        self.queue = WorkQueue()
        self._planner = planner
        self._lock = threading.Condition()
        self._finished: list[Replan] = []
        self.errors: list[str] = []

    def run(self, stop: threading.Event) -> None:
        """Re-plan on every queued change until ``stop``."""
        while not stop.is_set():
            key = self.queue.get(timeout=0.5)
            if key is None:
                continue
            started, started_cpu, started_queued = time.monotonic(), time.thread_time(), run_queue_ms()
            try:
                self._planner.replan()
            except Exception as error:  # reported as a failed trial by whoever waits
                self.errors.append(f"{type(error).__name__}: {error}")
            finally:
                self.queue.done(key)
            with self._lock:
                cpu_ms = (time.thread_time() - started_cpu) * 1000
                queued_ms = run_queue_ms() - started_queued
                ended = time.monotonic()
                took, replanned = self._planner.took, self._planner.replanned
                self._finished.append(Replan(started, ended, took, replanned, cpu_ms, queued_ms))
                self._lock.notify_all()

    def wait_replan_taking(self, notice: int, timeout: float) -> Replan | None:
        """The first re-plan that took notice number ``notice`` in, once finished; None after ``timeout``."""
        with self._lock:
            found = self._lock.wait_for(
                lambda: next((r for r in self._finished if r.took >= notice), None), timeout=timeout
            )
            self._finished = [r for r in self._finished if r.took >= notice]
            return found


class Sighting(NamedTuple):
    """When the informers saw a change, and the number of the notice they handed the planner."""

    at: float
    notice: int


class Seen:
    """When the informers saw the change a trial waits for (a predicate on (kind, key, new))."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._want: Callable[[str, str, JSON | None], bool] | None = None
        self.sighting: Sighting | None = None

    def expect(self, want: Callable[[str, str, JSON | None], bool]) -> None:
        """Wait for the next event matching ``want``."""
        with self._lock:
            self._want, self.sighting = want, None

    def saw(self, kind: str, key: str, new: JSON | None, notice: int) -> None:
        """An informer handler's notice, numbered ``notice``."""
        with self._lock:
            if self._want is not None and self.sighting is None and self._want(kind, key, new):
                self.sighting = Sighting(time.monotonic(), notice)
                self._lock.notify_all()

    def wait(self, timeout: float) -> Sighting | None:
        """When the change was seen and its notice's number; None after ``timeout``."""
        with self._lock:
            self._lock.wait_for(lambda: self.sighting is not None, timeout=timeout)
            return self.sighting


def connect(state_dir: str) -> KubeApi:
    """A client of the lab's API server, as its admin."""
    return KubeApi.connect(str(Path(state_dir) / "kubeconfig"), pool_size=WRITERS * 2)


def new_namespace() -> str:
    """A namespace name of the bench's own."""
    return f"plan-bench-{uuid.uuid4().hex[:6]}"


def measure(args: argparse.Namespace, shape: Shape) -> int:
    """In a child process of its own (so its RSS is the speaker's half alone): time every change.

    The objects of ``shape`` exist already; prints one JSON line per trial and per fact.
    """
    api = connect(args.api)
    with planning(api, shape, slim=not args.keep_managed_fields) as (loop, seen, facts):
        print(json.dumps(facts), flush=True)
        for change in api_changes(api, shape):
            for rep in range(args.reps):
                print(json.dumps(time_change(change, rep, loop, seen, args.trial_timeout)), flush=True)
        rss, peak = memory_mb()
        print(json.dumps({"rss_mb_end": rss, "peak_mb": peak}), flush=True)
    return 0


def create_objects(api: KubeApi, shape: Shape) -> None:
    """The shape's Nodes, namespace, Services (with status) and EndpointSlices."""
    api.request("POST", "/api/v1/namespaces", body={"metadata": {"name": shape.namespace}})

    def node(i: int) -> None:
        api.request("POST", NODES.collection(), body=without_version(node_object(shape, i)))

    def service(i: int, endpoints: list[str]) -> None:
        manifest = without_version(service_object(shape, i))
        status = manifest.pop("status")
        del manifest["spec"]["selector"]  # no EndpointSlice controller: ours are the only slices
        manifest["spec"]["allocateLoadBalancerNodePorts"] = False
        api.request("POST", f"/api/v1/namespaces/{shape.namespace}/services", body=manifest)
        name = manifest["metadata"]["name"]
        api.request(
            "PATCH",
            f"/api/v1/namespaces/{shape.namespace}/services/{name}/status",
            body={"status": status},
            content_type=MERGE_PATCH,
        )
        piece = without_version(slice_object(shape, i, endpoints))
        api.request(
            "POST", f"/apis/discovery.k8s.io/v1/namespaces/{shape.namespace}/endpointslices", body=piece
        )

    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(node, range(shape.nodes)))
        list(pool.map(service, range(shape.services), shape.endpoint_nodes()))


def node_path(name: str, subresource: str = "") -> str:
    """The URL path of one Node (Nodes are cluster-scoped)."""
    return f"{NODES.collection()}/{name}{subresource}"


def without_version(obj: JSON) -> JSON:
    """``obj`` without ``metadata.resourceVersion`` (the API server sets it)."""
    obj["metadata"].pop("resourceVersion", None)
    return obj


def delete_objects(api: KubeApi, shape: Shape) -> None:
    """Delete the bench's Services, EndpointSlices, namespace and Nodes.

    The Services and slices one by one from several threads: the namespace controller alone
    takes about 20 minutes for 10,000 Services, which other runs would list meanwhile.
    """
    namespace = shape.namespace

    def delete(path: str) -> None:
        try:
            api.request("DELETE", path)
        except ApiError as error:
            if not error.not_found:
                print(f"  clean-up of {path} failed: {error}")

    paths = [f"/api/v1/namespaces/{namespace}/services/svc-{i:05d}" for i in range(shape.services)]
    paths += [
        f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices/svc-{i:05d}-bench"
        for i in range(shape.services)
    ]
    paths += [node_path(shape.node_name(i)) for i in range(shape.nodes)]
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(delete, paths))
    delete(f"/api/v1/namespaces/{namespace}")


@contextmanager
def planning(api: KubeApi, shape: Shape, *, slim: bool) -> Iterator[tuple[PlanningLoop, Seen, JSON]]:
    """The speaker's informers feeding the incremental planner on its own thread.

    ``slim``: cache objects as the speaker does (without: whole, as the speaker did before).
    """
    stop = threading.Event()
    seen = Seen()
    holder: dict[str, Any] = {}

    def handler(kind: str) -> Callable[[str, JSON | None, JSON | None], None]:
        def changed(key: str, _old: JSON | None, new: JSON | None) -> None:
            seen.saw(kind, key, new, holder["store"].hand_over(kind, key))
            holder["loop"].queue.add(_PLAN)

        return changed

    informers = {  # transformed as the speaker's are (without: as they were before)
        "node": Informer(api, NODES, handler("node"), slim_node if slim else None),
        "service": Informer(api, SERVICES, handler("service"), slim_service if slim else None),
        "slice": Informer(api, ENDPOINT_SLICES, handler("slice"), slim_endpoint_slice if slim else None),
    }
    store = holder["store"] = InformerStore(informers["node"], informers["service"], informers["slice"])
    planner = IncrementalPlanner(store, shape.config())
    loop = holder["loop"] = PlanningLoop(planner)
    began = time.monotonic()
    for informer in informers.values():
        informer.list_now()
    listed = time.monotonic()
    planner.replan()
    first = time.monotonic() - listed
    freeze_long_lived()  # as the speaker does after its first plan
    rss, _peak = memory_mb()
    facts: JSON = {"list_s": listed - began, "first_plan_s": first, "rss_mb": rss}
    threads = [threading.Thread(target=i.run, args=(stop,), daemon=True) for i in informers.values()]
    threads.append(threading.Thread(target=loop.run, args=(stop,), daemon=True))
    for thread in threads:
        thread.start()
    try:
        yield loop, seen, facts
    finally:
        stop.set()
        loop.queue.close()
        for thread in threads:
            thread.join(timeout=5)


Shows = Callable[[str, str, JSON | None], bool]  # (kind, key, new object): the event a write causes


@dataclass(frozen=True)
class ApiChange:
    """One change through the API: ``apply`` it (timed), ``undo`` it (untimed), and the events each causes."""

    name: str
    apply: Callable[[], None]
    undo: Callable[[], None]
    shows: Shows
    undone: Shows


def api_changes(api: KubeApi, shape: Shape) -> list[ApiChange]:
    """The bench's changes, written to the API server."""
    endpoints = shape.endpoint_nodes()
    announcer = next(i for i in range(1, shape.nodes) if shape.announcing(i))
    victim = next(
        int(node.split("-")[1])
        for nodes in endpoints
        for node in nodes
        if int(node.split("-")[1])
        and (shape.announcing_nodes == 0 or not shape.announcing(int(node.split("-")[1])))
    )
    slices = f"/apis/discovery.k8s.io/v1/namespaces/{shape.namespace}/endpointslices"
    first_slice = slice_object(shape, 0, endpoints[0])["metadata"]["name"]
    slice_key = f"{shape.namespace}/{first_slice}"
    moved = [*endpoints[0][1:], shape.node_name(announcer)]

    def put_slice(nodes: list[str]) -> None:
        current = api.request("GET", f"{slices}/{first_slice}")
        body = slice_object(shape, 0, nodes)
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        api.request("PUT", f"{slices}/{first_slice}", body=body)

    def node_status(i: int, ready: str) -> None:
        condition = {"type": "Ready", "status": ready, "reason": "BenchNodeStatus"}
        api.request(
            "PATCH",
            node_path(shape.node_name(i), "/status"),
            body={"status": {"conditions": [condition]}},
            content_type=MERGE_PATCH,
        )

    def delete_node(i: int) -> None:
        api.request("DELETE", node_path(shape.node_name(i)))

    def create_node(i: int) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the deleted Node may still be finalizing
            try:
                api.request("POST", NODES.collection(), body=without_version(node_object(shape, i)))
                return
            except ApiError as error:
                if not error.conflict:
                    raise
            time.sleep(0.2)
        raise TimeoutError(f"Node {shape.node_name(i)} could not be created again within 30 s")

    def is_slice(nodes: list[str]) -> Callable[[str, str, JSON | None], bool]:
        return lambda kind, key, new: (
            kind == "slice"
            and key == slice_key
            and new is not None
            and [e.get("nodeName") for e in new.get("endpoints") or []] == nodes
        )

    def node_ready(i: int, ready: str) -> Callable[[str, str, JSON | None], bool]:
        return lambda kind, key, new: (
            kind == "node"
            and key == shape.node_name(i)
            and new is not None
            and any(
                c.get("type") == "Ready" and c.get("status") == ready
                for c in new["status"].get("conditions") or []
            )
        )

    def node_gone(i: int) -> Callable[[str, str, JSON | None], bool]:
        return lambda kind, key, new: kind == "node" and key == shape.node_name(i) and new is None

    return [
        ApiChange(
            "endpoint",
            lambda: put_slice(moved),
            lambda: put_slice(endpoints[0]),
            is_slice(moved),
            is_slice(endpoints[0]),
        ),
        ApiChange(
            "node-notready",
            lambda: node_status(victim, "Unknown"),
            lambda: node_status(victim, "True"),
            node_ready(victim, "Unknown"),
            node_ready(victim, "True"),
        ),
        ApiChange(
            "node-delete",
            lambda: delete_node(victim),
            lambda: create_node(victim),
            node_gone(victim),
            node_ready(victim, "True"),
        ),
        ApiChange(
            "announcer-delete",
            lambda: delete_node(announcer),
            lambda: create_node(announcer),
            node_gone(announcer),
            node_ready(announcer, "True"),
        ),
    ]


def time_change(change: ApiChange, rep: int, loop: PlanningLoop, seen: Seen, timeout: float) -> JSON:
    """One trial: write, wait for the informer to see it, then for the re-plan that took it in; undo alike."""
    trial: JSON = {"change": change.name, "rep": rep}
    try:
        began, sighting, replan = write_and_wait(
            change.name, change.apply, change.shows, loop, seen, timeout=timeout
        )
        trial["ms"] = (replan.ended - began) * 1000
        trial["seen_ms"] = (sighting.at - began) * 1000
        trial["plan_ms"] = (replan.ended - replan.started) * 1000
        trial["replanned"] = replan.replanned
        trial["cpu_ms"] = replan.cpu_ms
        trial["core_wait_ms"] = replan.core_wait_ms
        if loop.errors:
            trial["error"] = loop.errors.pop()
    except Exception as error:  # counted as a failed trial, never dropped
        trial["error"] = f"{type(error).__name__}: {error}"
    try:
        write_and_wait(f"undoing {change.name}", change.undo, change.undone, loop, seen, timeout=timeout)
    except Exception as error:
        trial["error"] = f"{trial.get('error', '')} undo: {type(error).__name__}: {error}".strip()
    return trial


def write_and_wait(
    what: str, write: Callable[[], None], shows: Shows, loop: PlanningLoop, seen: Seen, *, timeout: float
) -> tuple[float, Sighting, Replan]:
    """When the write began, when the informers saw it, and the re-plan that took it in."""
    seen.expect(shows)
    began = time.monotonic()
    write()
    sighting = seen.wait(timeout)
    if sighting is None:
        raise TimeoutError(f"the informers did not see {what} within {timeout:g}s")
    replan = loop.wait_replan_taking(sighting.notice, timeout)
    if replan is None:
        raise TimeoutError(f"no re-plan finished within {timeout:g}s after {what} was seen")
    return began, sighting, replan
