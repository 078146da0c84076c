"""The lab's Kubernetes nodes: a real kubelet per node namespace, plus kwok's simulated nodes on demand.

Real nodes (node_runtime) run pods through containerd, runc and the CNI bridge, registered with
the API server under their own client certificates. kwok stays for what it is good at: many
simulated nodes (simulated_node_manifest), e.g. in scale benches; it manages only Nodes that
carry KWOK_ANNOTATION.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from kubernetes import client

from . import machine_lock, machine_sysctls, netns, node_runtime, process, topology
from .state import LabState

KWOK_ANNOTATION = {"kwok.x-k8s.io/node": "fake"}


def start(
    plan: topology.Plan,
    state: LabState,
    bins: Mapping[str, Path],
    image_names: Sequence[str],
    sandbox_image: str,
) -> list[str]:
    """Start every node's runtime (in parallel) with the named images loaded; return the node names."""
    hosts = [h for h in plan.hosts() if h.role == "node"]
    with machine_lock.held(f"lab {plan.lab_id}: recording the machine's sysctls and mount points"):
        others = bool(node_runtime.stray_cgroup_roots(topology.NAMESPACE_PREFIX))
        state.data["machine_sysctls"] = machine_lock.sysctls_before_labs(machine_sysctls.read(), others)
        machine_lock.record_created(node_runtime.create_mount_points())
    state.data["cgroup_roots"] = [node_runtime.cgroup_root(plan, h.name) for h in hosts]
    state.save()
    server = state.data["api_server"]["from_lab"]
    runtimes = [node_runtime.NodeRuntime(plan, h, state.state_dir, bins) for h in hosts]
    for runtime in runtimes:
        runtime.prepare(server, sandbox_image)

    def one(runtime: node_runtime.NodeRuntime) -> list[process.Started]:
        holder = runtime.start_holder()
        containerd = runtime.start_containerd(holder.pid)
        runtime.import_images(image_names)
        return [holder, containerd, runtime.start_kubelet(holder.pid)]

    with ThreadPoolExecutor(max_workers=len(runtimes)) as pool:
        futures = [pool.submit(one, r) for r in runtimes]
        started = [s for f in futures for s in f.result()]
    for proc in started:
        state.record_process(proc.name, proc.pid, proc.netns, proc.log)
    return [h.name for h in hosts]


def wait_ready(api: client.ApiClient, names: Sequence[str], timeout: float = 120) -> None:
    """Wait until every named Node has registered and reports Ready (bounded; names the laggards)."""
    core = client.CoreV1Api(api)
    deadline = time.monotonic() + timeout
    pending = set(names)
    last: dict[str, str] = {}
    while pending and time.monotonic() < deadline:
        for node in core.list_node().items:
            name = str(node.metadata.name) if node.metadata else ""
            ready = _ready_condition(node)
            if ready is not None:
                last[name] = f"{ready.status} ({ready.reason}: {ready.message})"
                if ready.status == "True":
                    pending.discard(name)
        if pending:
            time.sleep(0.5)
    if pending:
        states = ", ".join(f"{n}: {last.get(n, 'not registered')}" for n in sorted(pending))
        raise TimeoutError(
            f"nodes not Ready after {timeout:.0f}s: {states}; see the kubelet logs in .lab/logs"
        )


LIFECYCLE_TAINTS = frozenset({"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"})
"""Taints the node lifecycle controller puts on Nodes it has not heard from; no new Pod lands there."""


def wait_recovered(
    api: client.ApiClient, names: Sequence[str], since: datetime, timeout: float = 120
) -> None:
    """Wait until every named Node is whole again after the API server was away (bounded).

    Whole: its kubelet renewed its Lease after ``since`` (a timezone-aware time), it reports
    Ready, and it carries none of :data:`LIFECYCLE_TAINTS`, so new Pods are scheduled on it.
    """
    core, leases = client.CoreV1Api(api), client.CoordinationV1Api(api)
    deadline = time.monotonic() + timeout
    state: dict[str, str] = dict.fromkeys(names, "not read yet")
    while time.monotonic() < deadline:
        renewed = {
            str(lease.metadata.name if lease.metadata else ""): lease.spec.renew_time if lease.spec else None
            for lease in leases.list_namespaced_lease("kube-node-lease").items
        }
        for node in core.list_node().items:
            name = str(node.metadata.name) if node.metadata else ""
            if name in state:
                state[name] = _unrecovered(node, renewed.get(name), since)
        if not any(state.values()):
            return
        time.sleep(0.5)
    laggards = ", ".join(f"{name}: {why}" for name, why in sorted(state.items()) if why)
    raise TimeoutError(f"nodes not whole again {timeout:.0f}s after the API server returned: {laggards}")


def _unrecovered(node: Any, renewed: datetime | None, since: datetime) -> str:
    """Why ``node`` is not whole again (its Lease ``renewed`` at that time, None: no Lease), or ""."""
    if renewed is None:
        return "no Lease yet"
    if renewed < since:
        return f"Lease last renewed {renewed.isoformat()}"
    ready = _ready_condition(node)
    if ready is None or ready.status != "True":
        return f"Ready is {ready.status if ready else 'unknown'}"
    taints = sorted(
        t.key for t in (node.spec.taints if node.spec else None) or [] if t.key in LIFECYCLE_TAINTS
    )
    return f"tainted {', '.join(taints)}" if taints else ""


def _ready_condition(node: Any) -> Any:
    """The Node's Ready condition, or None before the kubelet reported one."""
    conditions = (node.status.conditions if node.status else None) or []
    return next((c for c in conditions if c.type == "Ready"), None)


def set_pod_cidrs(api: client.ApiClient, plan: topology.Plan, names: Sequence[str]) -> None:
    """Record each node's pod ranges in spec.podCIDRs (what the CNI configuration hands out)."""
    core = client.CoreV1Api(api)
    for name in names:
        node = core.read_node(name)
        if not (node.spec and node.spec.pod_cidrs):
            cidrs = list(plan.pod_cidrs(name))
            core.patch_node(name, {"spec": {"podCIDR": cidrs[0], "podCIDRs": cidrs}})


def stop(state: LabState) -> list[str]:
    """Remove what the nodes leave beyond their processes: pods' cgroups, mount points, sysctls.

    Called after the recorded processes were stopped: what is left in a node's namespace (the
    containerd shims, hostNetwork pods) is ours and is killed at once. Returns cgroups that
    could not be removed.
    """
    for name, host in state.hosts.items():
        if host["role"] == "node":
            netns.kill_pids(netns.pids_in(host["netns"]), grace=0)
            shutil.rmtree(node_runtime.layout(state.state_dir, name).run_dir, ignore_errors=True)
    busy = [b for root in state.data.get("cgroup_roots", []) for b in node_runtime.remove_cgroups(root)]
    with machine_lock.held(f"lab {state.data['lab_id']}: restoring the machine's sysctls and mount points"):
        if not node_runtime.stray_cgroup_roots(topology.NAMESPACE_PREFIX):  # no other lab's nodes use them
            node_runtime.remove_mount_points(machine_lock.last_lab_gone().created_paths)
        machine_sysctls.restore(state.data.get("machine_sysctls", {}))
    return busy


def simulated_node_manifest(name: str, address: str) -> dict[str, object]:
    """A Node that kwok keeps Ready without any process behind it (for scale benches)."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": dict(KWOK_ANNOTATION),
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"},
        },
        "status": {
            "addresses": [{"type": "InternalIP", "address": address}],
            "capacity": {"cpu": "32", "memory": "64Gi", "pods": "110"},
            "allocatable": {"cpu": "32", "memory": "64Gi", "pods": "110"},
        },
    }
