"""The collection as users run it: `molecule test` of the default scenario, then its lab checked
from outside: site.yml installed the daemons as pods on real nodes.

The scenario (molecule/default) starts a lab of its own (the session lab's tests run daemons as
processes, which would answer for the same pools) and runs `playbooks/site.yml` with the lab
inventory, as `make demo` does, then again (idempotence), then verify.yml. It runs with
`--destroy never`, so the lab it converged is the one the tests below check: the controller
Deployment and speaker DaemonSet run from the daemons' image on the kubelets, kube-proxy forwards
the LoadBalancer IPs' traffic to the echo pods, and the client checks it with HTTP: on the LAN
(layer 2) and through the FRR router that learnt the BGP pool's IP from the nodes. After the last
test, `molecule destroy` must remove the lab (it is taken down from its record even if not).
Every run gets its own MOLECULE_EPHEMERAL_DIRECTORY, so runs in parallel never share a lab.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.engine_child import rt_budget_is_zero
from ansible_collections.baremetal.lb.daemons.speaker.membership.service import REALTIME_PRIORITY
from lab import build, lifecycle, node_runtime, probe, process, rib, walkthrough
from lab.ansible_env import VENV_BIN, ansible_env
from lab.http_loop import Reply
from lab.state import LabState
from tests.lab.conftest import LAB_VARS
from tests.lab.controller_harness import wait_for
from tests.lab.speaker_harness import UNPLANNED_LIMIT

REPO = Path(__file__).resolve().parents[2]
REQUEST_TIMEOUT = 0.3  # each request of the failover loop; a request lost to the dead node costs this much

# Linux capability numbers (include/uapi/linux/capability.h) of the ones the speaker may hold:
# raw sockets for ARP/NDP, interface addresses, (if ever needed) binding ports below 1024, and the
# layer-2 engine's real-time priority.
CAPABILITIES = {"NET_BIND_SERVICE": 10, "NET_ADMIN": 12, "NET_RAW": 13, "SYS_NICE": 23}


@dataclass(frozen=True)
class MoleculeRun:
    """The scenario's `molecule test --destroy never`: its exit status and where its lab lives."""

    returncode: int
    lab_dir: Path


def _molecule(command: str, ephemeral: Path, *args: str) -> int:
    """Run `molecule COMMAND` on the default scenario in EPHEMERAL; return its exit status."""
    # Only the scenario's inventory may point at a cluster.
    env = ansible_env(
        drop=("MOLECULE_",),
        MOLECULE_EPHEMERAL_DIRECTORY=str(ephemeral),
        ANSIBLE_FORCE_COLOR="0",
        NO_COLOR="1",
    )
    argv = [str(VENV_BIN / "molecule"), command, "--scenario-name", "default", *args]
    return subprocess.run(argv, cwd=REPO, env=env, check=False, timeout=1200).returncode


@pytest.fixture(scope="module")
def molecule_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MoleculeRun]:
    """`molecule test --destroy never`; afterwards `molecule destroy`, which must remove the lab."""
    assert (VENV_BIN / "molecule").is_file(), f"{VENV_BIN / 'molecule'} is missing: run `make venv`"
    link = REPO / ".build" / "collections" / "ansible_collections" / "baremetal" / "lb"
    assert link.resolve() == REPO, f"{link} must link to this checkout: run `make venv`"
    ephemeral = tmp_path_factory.mktemp("molecule")
    lab_dir = ephemeral / "lab"
    try:
        yield MoleculeRun(_molecule("test", ephemeral, "--destroy", "never"), lab_dir)
        destroyed = _molecule("destroy", ephemeral)
        assert destroyed == 0, "molecule destroy failed (its output is above)"
        assert not lab_dir.exists(), f"molecule destroy left the lab's record in {lab_dir}"
    finally:
        lifecycle.down(lab_dir)


@pytest.fixture(scope="module")
def installed(molecule_run: MoleculeRun) -> LabState:
    """The scenario's lab, as site.yml (molecule's converge) left it."""
    state = LabState.load(molecule_run.lab_dir)
    assert molecule_run.returncode == 0 and state, "molecule test failed (its output is above)"
    return state


@pytest.fixture(scope="module")
def walk(installed: LabState) -> walkthrough.Walkthrough:
    """The walk-through's helpers (kubectl, requests from the client) on the installed lab."""
    return walkthrough.Walkthrough(installed)


def _json(walk: walkthrough.Walkthrough, *args: str) -> dict:
    return json.loads(walk.kubectl(*args, "-o", "json", show=False))


def test_molecule_converges_idempotently_and_verifies(molecule_run):
    assert molecule_run.returncode == 0, "molecule test failed (its output is above)"


def test_the_controller_is_a_ready_pod_using_its_service_account(walk):
    pods = _json(walk, "-n", "metallb-system", "get", "pods", "-l", "component=controller")["items"]
    assert len(pods) == 1
    pod = pods[0]
    assert any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"]["conditions"])
    assert pod["spec"]["serviceAccountName"] == "controller"
    container = pod["spec"]["containers"][0]
    assert not any("kubeconfig" in a for a in container.get("args", []) + container.get("command", []))
    mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
    assert "/var/run/secrets/kubernetes.io/serviceaccount" in mounts, "the in-cluster token is mounted"


def test_speaker_pods_hold_exactly_the_capabilities_they_declare(installed, walk):
    daemonset = _json(walk, "-n", "metallb-system", "get", "daemonset", "speaker")
    status = daemonset["status"]
    assert status["numberReady"] == status["desiredNumberScheduled"] == len(installed.nodes)
    security = daemonset["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    assert security["capabilities"]["drop"] == ["ALL"]
    assert set(security["capabilities"]["add"]) <= set(CAPABILITIES), security["capabilities"]
    declared = {CAPABILITIES[c] for c in security["capabilities"]["add"]}
    for node in installed.nodes:
        status = _proc_status(_container_pid(installed, node, "speaker"))
        for field in ("CapEff", "CapPrm", "CapBnd"):
            held = _capabilities(status[field])
            assert held == declared, (
                f"speaker on {node}: {field} holds capabilities {sorted(held)}, declared {sorted(declared)}"
            )
        assert status["NoNewPrivs"] == "1", f"speaker on {node} could gain privileges (no_new_privs unset)"


def test_each_speakers_layer2_engine_runs_under_sched_fifo_where_its_cgroup_allows(installed, walk):
    """The role grants SYS_NICE, so in the pod the layer-2 engine (answers, heartbeats) gets its
    priority, unless the kernel gives the container's cgroup no real-time budget (cgroup v1 with
    real-time group scheduling, as on this machine kind): then it runs at normal priority and says
    why. The speaker's other processes stay at normal priority."""
    for node in installed.nodes:
        speaker = _container_pid(installed, node, "speaker")
        layer2 = wait_for(
            f"the speaker on {node} to start its layer-2 engine",
            lambda pid=speaker: [c for c in _children(pid) if _cmdline(c).endswith("speaker.layer2.engine")],
            timeout=30,
        )[0]
        others = [speaker, *(c for c in _children(speaker) if c != layer2)]
        assert all(os.sched_getscheduler(pid) == os.SCHED_OTHER for pid in others), f"speaker on {node}"
        policy = (os.sched_getscheduler(layer2), os.sched_getparam(layer2).sched_priority)
        if not rt_budget_is_zero(layer2):
            assert policy == (os.SCHED_FIFO, REALTIME_PRIORITY), f"layer-2 engine on {node}: {policy}"
            continue
        assert policy == (os.SCHED_OTHER, 0), f"layer-2 engine on {node}: {policy}"
        pod = _json(
            walk,
            "-n",
            "metallb-system",
            "get",
            "pods",
            "-l",
            "component=speaker",
            "--field-selector",
            f"spec.nodeName={node}",
        )["items"][0]["metadata"]["name"]
        wait_for(
            f"the speaker on {node} to log why its layer-2 engine runs at normal priority",
            lambda pod=pod: (
                "no real-time budget: cpu.rt_runtime_us is 0"
                in walk.kubectl("-n", "metallb-system", "logs", pod, show=False)
            ),
            timeout=10,
        )


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(child) for child in found.stdout.split()]


def _capabilities(mask: str) -> set[int]:
    """The capability numbers set in a /proc/<pid>/status mask (hex)."""
    bits = int(mask, 16)
    return {bit for bit in range(64) if bits >> bit & 1}


def _daemon_pods(installed: LabState, walk: walkthrough.Walkthrough, component: str) -> list[tuple[str, int]]:
    """(node, host PID) of the running container of each of a component's pods."""
    pods = _json(walk, "-n", "metallb-system", "get", "pods", "-l", f"component={component}")["items"]
    nodes = sorted(str(pod["spec"]["nodeName"]) for pod in pods)
    return [(node, _container_pid(installed, node, component)) for node in nodes]


@pytest.mark.parametrize("component", ["controller", "speaker"])
def test_daemons_root_filesystem_is_read_only_in_the_spec_and_in_the_running_container(
    installed, walk, component
):
    kind = "deployment/controller" if component == "controller" else "daemonset/speaker"
    spec = _json(walk, "-n", "metallb-system", "get", kind)["spec"]["template"]["spec"]
    security = spec["containers"][0]["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    for node, pid in _daemon_pods(installed, walk, component):
        # the container's own mount tree, seen through /proc: its read-only mount flag applies
        probe_file = Path(f"/proc/{pid}/root/bmlb-write-probe")
        try:
            probe_file.write_text("x")
        except OSError as refused:
            assert refused.errno == errno.EROFS, f"{component} on {node}: {refused}"
        else:
            probe_file.unlink()
            raise AssertionError(f"{component} on {node}: / is writable in the running container")


def test_controller_runs_as_non_root_without_capabilities(installed, walk):
    spec = _json(walk, "-n", "metallb-system", "get", "deployment/controller")["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert spec["containers"][0]["securityContext"]["capabilities"]["drop"] == ["ALL"]
    ((node, pid),) = _daemon_pods(installed, walk, "controller")
    status = _proc_status(pid)
    uids, gids = status["Uid"].split(), status["Gid"].split()  # real, effective, saved, filesystem
    assert all(int(uid) == spec["securityContext"]["runAsUser"] for uid in uids), (
        f"controller on {node}: Uid {uids}"
    )
    groups = status["Groups"].split()  # supplementary
    assert "0" not in gids + groups, f"controller on {node}: Gid {gids}, Groups {groups}"
    for field in ("CapEff", "CapPrm", "CapBnd"):
        assert not _capabilities(status[field]), f"controller on {node}: {field} {status[field]}"
    assert status["NoNewPrivs"] == "1", f"controller on {node} could gain privileges (no_new_privs unset)"


def _container_pid(state: LabState, node: str, name: str) -> int:
    """The host PID of a container's main process on a node, asked from the node's runtime."""
    crictl = str(build.ensure_all(log=False)["crictl"])
    config = f"--config={node_runtime.layout(state.state_dir, node).crictl_config}"
    ids = subprocess.run(
        [crictl, config, "ps", "--name", f"^{name}$", "--state", "running", "-q"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()
    assert len(ids) == 1, f"{node} runs {len(ids)} {name} containers"
    inspect = subprocess.run(
        [crictl, config, "inspect", ids[0]], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return int(json.loads(inspect)["info"]["pid"])


def _proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def test_curl_to_the_ip_returns_the_pods_names(walk):
    vip = walk.vip(walkthrough.CLUSTER_APP)
    replies = walk.requests(f"http://{vip}/", 12)
    pods = {
        p["metadata"]["name"]
        for p in _json(
            walk, "-n", walkthrough.NAMESPACE, "get", "pods", "-l", f"app={walkthrough.CLUSTER_APP}"
        )["items"]
    }
    assert all(r.ok for r in replies), [r.body for r in replies if not r.ok]
    answered = {r.body for r in replies}
    assert answered <= pods, f"answers {answered} are not pod names {pods}"
    assert len(answered) > 1, "kube-proxy spreads the requests over the pods"


def test_local_policy_answers_from_the_announcing_node_and_keeps_the_client_address(installed, walk):
    vip = walk.vip(walkthrough.LOCAL_APP)
    _mac, owner = probe.who_answers(installed, vip)
    replies = walk.requests(f"http://{vip}/", 8)
    assert all(r.ok for r in replies), [r.body for r in replies if not r.ok]
    client_ip = installed.hosts["client"]["ipv4"]
    for reply in replies:
        answer = walkthrough.fields(reply)
        assert answer["source"].rsplit(":", 1)[0] == client_ip, f"the client's address is kept: {reply.body}"
        assert walk.node_of_pod_ip(answer["pod_ip"]) == owner, f"a pod on {owner} answers: {reply.body}"


def _declared_communities() -> tuple[set[str], set[str]]:
    """(classic, large) communities the inventory's BGPAdvertisement declares, aliases resolved."""
    aliases = {a["name"]: a["value"] for c in LAB_VARS["config_communities"] for a in c["communities"]}
    (advertisement,) = LAB_VARS["config_bgp_advertisements"]
    values = [aliases.get(c, c) for c in advertisement["communities"]]
    return {v for v in values if not v.startswith("large:")}, {
        v.removeprefix("large:") for v in values if v.startswith("large:")
    }


def test_every_router_carries_the_bgp_ip_through_every_node_with_the_declared_communities(installed, walk):
    vip = walk.vip(walkthrough.BGP_SERVICE)
    assert not walkthrough.on_lan(vip), f"{vip} is from the BGP pool"
    nodes = {installed.hosts[n]["ipv4"] for n in installed.nodes}  # Cluster policy: every node announces

    def hops(found: list[rib.RibPath]) -> set[str]:
        return {hop for path in found for hop in path.next_hops}

    found: dict[str, list[rib.RibPath]] = {}

    def complete() -> bool:
        found.update(rib.lab_paths(installed, vip))
        return all(hops(paths) == nodes for paths in found.values())

    try:
        process.wait_until(f"every router to hold {vip} via {sorted(nodes)}", complete, 60)
    except TimeoutError as late:
        raise AssertionError(f"{late}; the routers hold {found}") from None
    communities, large = _declared_communities()
    assert set(found) == {"bird", "frr", "gobgp"}
    for router, paths in found.items():
        assert len(paths) == len(nodes), f"{router}: one path per node (ECMP candidates): {paths}"
        for path in paths:
            assert path.communities == communities, f"{router}: {path}"
            assert path.large_communities == large, f"{router}: {path}"
            assert path.as_path == (LAB_VARS["config_bgp_peers"][0]["my_asn"],), f"{router}: {path}"


def test_curl_to_the_bgp_ip_goes_through_frr_and_reaches_the_pods(installed, walk):
    vip = walk.vip(walkthrough.BGP_SERVICE)
    route = json.loads(installed.exec("frr", ["ip", "-j", "route", "show", vip]))
    gateways = {hop["gateway"] for r in route for hop in r.get("nexthops", [r])}
    assert gateways == {installed.hosts[n]["ipv4"] for n in installed.nodes}, f"FRR's ECMP route: {route}"
    replies = walk.requests(f"http://{vip}/", 12)
    assert all(r.ok for r in replies), [r.body for r in replies if not r.ok]
    pods = walk.pod_nodes()
    assert {r.body for r in replies} <= set(pods), f"answers are pod names {sorted(pods)}"


def test_cutting_the_owners_link_moves_the_ip_and_curl_works_again_within_the_bound(installed, walk):
    vip = walk.vip(walkthrough.LOCAL_APP)
    _mac, owner = probe.who_answers(installed, vip)
    loop = walkthrough.BackgroundLoop(installed, f"http://{vip}/", 200, 0.05)
    try:
        loop.wait_for(lambda rs: sum(r.ok for r in rs) >= 5, 10, "5 answers before the cut")
        cut = time.monotonic()
        installed.set_cable(owner, plugged=False)
        loop.wait_for(
            lambda rs: _answered_elsewhere(walk, rs, cut, owner) is not None, 10, "another node's answer"
        )
    finally:
        installed.set_cable(owner, plugged=True)
        replies = loop.finish()
    last_before = max(r.t for r in replies if r.ok and r.t < cut)
    first_after = _answered_elsewhere(walk, replies, cut, owner)
    assert first_after is not None
    outage = first_after.t - last_before
    print(f"\nHTTP outage after cutting {owner}'s link: {outage * 1000:.0f} ms")
    assert outage < UNPLANNED_LIMIT + REQUEST_TIMEOUT


def _answered_elsewhere(
    walk: walkthrough.Walkthrough, replies: list[Reply], since: float, owner: str
) -> Reply | None:
    return next((r for r in replies if r.ok and r.t > since and walk.answered_by(r) != owner), None)
