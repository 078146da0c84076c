"""Bring a lab up, report on it and take it down again.

`up` is idempotent (a healthy lab is left as it is, a broken one is replaced) and leaves nothing
behind when it fails half-way; `down` removes every namespace, process and address a lab made,
also after a crash, because lab.json is written before anything is created.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from kubernetes import client, config

from . import (
    build,
    controlplane,
    images,
    kubeadm,
    machine_lock,
    machine_sysctls,
    netns,
    network,
    node_runtime,
    nodes,
    process,
    routers,
    topology,
    workloads,
)
from .state import LabState


def _say(message: str) -> None:
    print(f"==> {message}", flush=True)


def check_prerequisites() -> None:
    """Fail with one clear message naming everything the lab needs and does not have."""
    problems = []
    if os.geteuid() != 0:
        problems.append("the lab creates network namespaces and must run as root (try: sudo make lab-up)")
    if not shutil.which("ip"):
        problems.append("iproute2 (`ip`) is not installed: run `make deps`")
    missing = routers.missing_binaries()
    if missing:
        problems.append(f"router daemons missing ({', '.join(missing)}): run `make deps`")
    if problems:
        raise SystemExit("Cannot start the lab:\n  - " + "\n  - ".join(problems))
    build.check_go()


def api_client(state: LabState) -> client.ApiClient:
    """A Kubernetes API client using the lab's admin kubeconfig."""
    api: client.ApiClient = config.new_client_from_config(config_file=str(state.kubeconfig))
    return api


def healthy(state: LabState) -> bool:
    """Tell whether every recorded daemon runs and the API server is ready."""
    if state.data.get("status") != "ready" or state.dead_processes():
        return False
    return api_ready(state)


def api_ready(state: LabState) -> bool:
    """Tell whether the lab's API server answers /readyz with ok."""
    return controlplane.ControlPlane(_plan(state), state.state_dir, {}).ready()


def _plan(state: LabState) -> topology.Plan:
    return topology.Plan(
        lab_id=state.data["lab_id"],
        nodes=int(state.data["node_count"]),
        host_link_slot=int(state.data["host_link_slot"]),
    )


def up(state_dir: Path, node_count: int = 3) -> LabState:
    """Start a lab in `state_dir`, or keep the healthy one already recorded there."""
    check_prerequisites()
    topology.check_node_count(node_count)
    existing = LabState.load(state_dir)
    if existing and healthy(existing) and existing.data["node_count"] == node_count:
        _say(f"lab {existing.data['lab_id']} is already up")
        write_env(existing, build.ensure_all(log=False))
        existing.save()
        return existing
    if existing:
        _say("replacing the recorded lab, which is not healthy or has another size")
        down(state_dir)
    bins = build.ensure_all()
    built = images.ensure_all(exclude=("ee",))  # the AWX test builds its execution environment
    lab_id = topology.new_lab_id()
    with machine_lock.held(f"lab {lab_id}: starting", machine_lock.STARTING):
        state = _up(state_dir, lab_id, node_count, bins, built)
    _say(f"lab {lab_id} up in {state.data['start_seconds']}s; kubeconfig: {state.kubeconfig}")
    return state


def _up(
    state_dir: Path, lab_id: str, node_count: int, bins: dict[str, Path], built: images.Result
) -> LabState:
    started = time.monotonic()
    try:
        with machine_lock.held(f"lab {lab_id}: taking a host link"):
            plan = topology.Plan(
                lab_id=lab_id,
                nodes=node_count,
                host_link_slot=topology.free_host_link_slot(network.root_addresses()),
            )
            state = LabState(state_dir.resolve(), _initial_facts(plan, state_dir.resolve()))
            state.save()
            _say(f"creating lab {plan.lab_id}: {plan.nodes} nodes, a client and {len(plan.routers)} routers")
            state.data["hosts"] = network.build(plan)
            state.save()
        _start(plan, state, bins, built)
    except BaseException:
        print("lab start failed; removing what was created", file=sys.stderr)
        down(state_dir)
        raise
    state.data["status"] = "ready"
    state.data["start_seconds"] = round(time.monotonic() - started, 1)
    write_env(state, bins)
    state.save()
    return state


ENV_BINARIES = ("kubectl", "crictl")


def write_env(state: LabState, bins: dict[str, Path]) -> Path:
    """Write ``env`` beside lab.json: ``source`` it for the lab's KUBECONFIG, kubectl and crictl.

    Records its path as ``env_file`` in lab.json (the caller saves).
    """
    dirs = list(dict.fromkeys(str(bins[name].parent) for name in ENV_BINARIES if name in bins))
    path = state.state_dir / "env"
    path.write_text(
        "# The lab's shell environment: source this file (. .lab/env), then use kubectl and crictl.\n"
        f"export KUBECONFIG={state.kubeconfig}\n"
        f'export PATH="{":".join(dirs)}:$PATH"\n'
    )
    state.data["env_file"] = str(path)
    return path


def _initial_facts(plan: topology.Plan, state_dir: Path) -> dict[str, Any]:
    return {
        "status": "starting",
        "lab_id": plan.lab_id,
        "prefix": plan.prefix,
        "node_count": plan.nodes,
        "host_link_slot": plan.host_link_slot,
        "root_interface": plan.root_ifname,
        "host_link": {"root": plan.host_link[0], "control_plane": plan.host_link[1]},
        "state_dir": str(state_dir),
        "runtime_dir": str(plan.runtime_dir),
        "kubeconfig": str(state_dir / "kubeconfig"),
        "kubeconfig_in_lab": str(state_dir / "kubeconfig-lab"),
        "api_server": {
            "from_host": f"https://{plan.host_link[1]}:{topology.API_PORT}",
            "from_lab": f"https://{plan.host('cp').ipv4}:{topology.API_PORT}",
        },
        "lan": {
            "ipv4": str(topology.LAN4),
            "ipv6": str(topology.LAN6),
            "bridge": {"netns": plan.switch_netns, "name": network.BRIDGE},
        },
        "node_asn": topology.NODE_ASN,
        "service_cidrs": topology.SERVICE_CIDRS.split(","),
        "pod_cidr": topology.POD_CIDR,
        "pod_cidrs": {h.name: list(plan.pod_cidrs(h.name)) for h in plan.hosts() if h.role == "node"},
        "suggested_pools": {
            "layer2": [topology.L2_POOL4, topology.L2_POOL6],
            "bgp": [topology.BGP_POOL4, topology.BGP_POOL6],
        },
    }


def _start(plan: topology.Plan, state: LabState, bins: dict[str, Path], built: images.Result) -> None:
    cp = controlplane.ControlPlane(plan, state.state_dir, bins)
    cp.prepare()
    _say("starting etcd, kube-apiserver, controller-manager, scheduler and kwok")
    for proc in cp.start():
        state.record_process(proc.name, proc.pid, proc.netns, proc.log)
    state.data["kubernetes_version"] = cp.version()
    _say("starting routers: " + ", ".join(plan.routers))
    procs, router_facts = routers.start(plan, state.state_dir)
    for proc in procs:
        state.record_process(proc.name, proc.pid, proc.netns, proc.log)
    state.data["routers"] = router_facts
    state.save()
    api = api_client(state)
    refs = ", ".join(built.images[name].ref for name in images.NODE_IMAGES)
    _say(f"starting {plan.nodes} nodes (containerd, kubelet) with images: {refs}")
    began = time.monotonic()
    names = nodes.start(plan, state, bins, images.NODE_IMAGES, built.images["pause"].ref)
    kubelets = time.monotonic()
    nodes.wait_ready(api, names)
    # How long the runtimes took to start with their images, and the kubelets to join as Ready.
    state.data["node_runtime_seconds"] = round(kubelets - began, 1)
    state.data["node_ready_seconds"] = round(time.monotonic() - kubelets, 1)
    nodes.set_pod_cidrs(api, plan, names)
    machine_sysctls.restore(state.data["machine_sysctls"])
    _say("waiting for the controller-manager to create the default ServiceAccount")
    process.wait_until("the default ServiceAccount", lambda: _has_default_sa(api), 60)
    kubeadm.install_kube_proxy(api)
    workloads.install(api)
    dead = state.dead_processes()
    if dead:
        raise RuntimeError(
            f"lab daemons exited during start: {', '.join(dead)}; see {state.state_dir / 'logs'}"
        )


def _has_default_sa(api: client.ApiClient) -> bool:
    try:
        client.CoreV1Api(api).read_namespaced_service_account("default", "default")
    except client.ApiException:
        return False
    return True


def down(state_dir: Path, everything: bool = False) -> list[str]:
    """Remove the recorded lab (with `everything`, every lab namespace on the machine)."""
    state = LabState.load(state_dir)
    removed: list[str] = []
    if state:
        # The API server drains its watches for long after SIGTERM; nothing of a lab is kept, so 2 s do.
        process.stop(state.pids(), grace=2)
        nodes.stop(state)
        removed += network.teardown(state.prefix, state.data.get("root_interface"))
        shutil.rmtree(state.data.get("runtime_dir", "/nonexistent"), ignore_errors=True)
    if everything:
        with machine_lock.held("removing every lab"):
            removed += _remove_every_lab()
    if state_dir.is_dir():
        shutil.rmtree(state_dir)
    return removed


def _remove_every_lab() -> list[str]:
    removed = []
    for name in netns.list_namespaces(topology.NAMESPACE_PREFIX):
        netns.delete(name)
        removed.append(name)
    for root in node_runtime.stray_cgroup_roots(topology.NAMESPACE_PREFIX):
        node_runtime.remove_cgroups(root)
    for runtime_dir in Path("/run").glob(f"{topology.NAMESPACE_PREFIX}*"):
        shutil.rmtree(runtime_dir, ignore_errors=True)
    before = machine_lock.last_lab_gone()
    node_runtime.remove_mount_points(before.created_paths)
    machine_sysctls.restore(before.sysctls)
    return removed
