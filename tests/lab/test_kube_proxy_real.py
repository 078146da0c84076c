"""The kube_proxy module against the lab's real kube-proxy (kubeadm's DaemonSet on the kubelets).

While the module restarts kube-proxy, the lab's client keeps requesting a NodePort Service on
every node's address, and every request must be answered: kube-proxy's nftables rules stay in
place while its pod is replaced. Then IPVS, which this machine's kernel does not have: the module
must notice the new pods exiting, put nftables back, leave kube-proxy Ready everywhere, say which
node lacks what, and not try again on a later run. Each test starts from, and leaves, kube-proxy
as kubeadm installed it.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from ansible_collections.baremetal.lb.plugins.module_utils.kube_proxy_failure import ANNOTATION
from lab import images, kubeadm, walkthrough
from lab.ansible_env import VENV_BIN, ansible_env
from lab.http_loop import Reply
from lab.state import LabState
from tests.lab.controller_harness import wait_for

REPO = Path(__file__).resolve().parents[2]
KUBE_SYSTEM = "kube-system"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
BACKEND_PORT = 8080


def _kube_proxy(lab: LabState, check: bool = False, **args: Any) -> dict[str, Any]:
    """Run the kube_proxy module once (ad hoc, JSON output); its result."""
    env = ansible_env(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    argv = [str(VENV_BIN / "ansible"), "localhost", "-m", "baremetal.lb.kube_proxy"]
    argv += ["-a", json.dumps({"kubeconfig": str(lab.kubeconfig), **args}), *(["--check"] if check else [])]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
    try:
        result: dict[str, Any] = json.loads(done.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        pytest.fail(f"ansible ({done.returncode}) said:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}")
    return result


def _daemonset(kube: client.ApiClient) -> Any:
    return client.AppsV1Api(kube).read_namespaced_daemon_set("kube-proxy", KUBE_SYSTEM)


def _rolled_out(kube: client.ApiClient) -> bool:
    ds = _daemonset(kube)
    status = ds.status
    return (
        (status.observed_generation or 0) >= (ds.metadata.generation or 0)
        and status.desired_number_scheduled > 0
        and status.updated_number_scheduled == status.desired_number_scheduled
        and status.number_ready == status.desired_number_scheduled
    )


@pytest.fixture(scope="module")
def kube_proxy(lab: LabState, kube: client.ApiClient) -> None:
    """kube-proxy Ready on every real node of the lab."""
    wait_for("kube-proxy Ready on every node", lambda: _rolled_out(kube), timeout=180)


def _as_kubeadm_installed_it(kube: client.ApiClient) -> None:
    """kube-proxy's ConfigMap as kubeadm wrote it (no failure recorded), and kube-proxy running it."""
    core = client.CoreV1Api(kube)
    original = next(o for o in kubeadm.kube_proxy_objects() if o["kind"] == "ConfigMap")["data"]
    now = core.read_namespaced_config_map("kube-proxy", KUBE_SYSTEM)
    if now.data == original and ANNOTATION not in (now.metadata.annotations or {}):
        return
    core.patch_namespaced_config_map(
        "kube-proxy", KUBE_SYSTEM, {"metadata": {"annotations": {ANNOTATION: None}}, "data": original}
    )
    stamp = {RESTARTED_AT: f"{time.time():.6f}"}
    client.AppsV1Api(kube).patch_namespaced_daemon_set(
        "kube-proxy", KUBE_SYSTEM, {"spec": {"template": {"metadata": {"annotations": stamp}}}}
    )
    wait_for("kube-proxy Ready with kubeadm's configuration", lambda: _rolled_out(kube), timeout=180)


@pytest.fixture()
def kubeadms_kube_proxy(kube: client.ApiClient, kube_proxy: None) -> Iterator[None]:
    """kube-proxy as kubeadm installed it, before the test and after it (whatever ran before)."""
    _as_kubeadm_installed_it(kube)
    yield
    _as_kubeadm_installed_it(kube)


@pytest.fixture()
def nodeport(lab: LabState, kube: client.ApiClient, namespace: str) -> int:
    """A NodePort Service in front of two HTTP pods (the daemons' image, which every node has)."""
    labels = {"app": "backend"}
    image = images.recorded()["daemons"].ref
    client.AppsV1Api(kube).create_namespaced_deployment(
        namespace,
        {
            "metadata": {"name": "backend"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "http",
                                "image": image,
                                "imagePullPolicy": "Never",
                                "command": ["python", "-m", "http.server", str(BACKEND_PORT)],
                                "readinessProbe": {"httpGet": {"path": "/", "port": BACKEND_PORT}},
                            }
                        ]
                    },
                },
            },
        },
    )
    service = client.CoreV1Api(kube).create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "backend"},
            "spec": {
                "type": "NodePort",
                "selector": labels,
                "ports": [{"port": 80, "targetPort": BACKEND_PORT}],
            },
        },
    )
    apps = client.AppsV1Api(kube)
    wait_for(
        "two Ready backend pods",
        lambda: (apps.read_namespaced_deployment("backend", namespace).status.ready_replicas or 0) == 2,
        timeout=120,
    )
    return int(service.spec.ports[0].node_port)


def _answered_on_every_node(lab: LabState, port: int) -> None:
    walk = walkthrough.Walkthrough(lab)
    for node in lab.nodes:
        url = f"http://{lab.hosts[node]['ipv4']}:{port}/"
        wait_for(f"{url} ({node}) to answer", lambda url=url: walk.requests(url, 1)[0].ok, timeout=30)


def _kube_proxy_pods(kube: client.ApiClient) -> dict[str, str]:
    pods = client.CoreV1Api(kube).list_namespaced_pod(KUBE_SYSTEM, label_selector="k8s-app=kube-proxy").items
    return {p.metadata.uid: p.spec.node_name for p in pods if not p.metadata.deletion_timestamp}


def test_a_restart_replaces_every_kube_proxy_pod_and_keeps_services_answering(
    lab, kube, kubeadms_kube_proxy, nodeport
):
    _answered_on_every_node(lab, nodeport)
    before = _kube_proxy_pods(kube)
    loops = {
        node: walkthrough.BackgroundLoop(lab, f"http://{lab.hosts[node]['ipv4']}:{nodeport}/", 2400, 0.05)
        for node in lab.nodes
    }
    try:
        for node, loop in loops.items():
            loop.wait_for(
                lambda rs: sum(r.ok for r in rs) >= 3, 30, f"answers through {node} before the restart"
            )
        started = time.monotonic()
        result = _kube_proxy(lab, strict_arp=True, wait_timeout=240)
        finished = time.monotonic()
        for node, loop in loops.items():
            loop.wait_for(
                lambda rs: sum(r.ok and r.t > finished for r in rs) >= 3,
                30,
                f"answers through {node} after it",
            )
    finally:
        replies = {node: loop.finish() for node, loop in loops.items()}

    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] and result["restarted"] and not result["would_restart"]
    assert result["changes"] == [{"path": "ipvs.strictARP", "before": False, "after": True}]
    assert result["rollout"]["ready"], result["rollout"]
    after = _kube_proxy_pods(kube)
    assert not set(before) & set(after), "every kube-proxy pod was replaced"
    assert sorted(after.values()) == sorted(lab.nodes)
    during = {node: [r for r in rs if started <= r.t <= finished] for node, rs in replies.items()}
    failed = {node: [r for r in rs if not r.ok] for node, rs in replies.items()}
    print(
        f"\nrestart took {finished - started:.1f}s; requests during it per node: "
        + ", ".join(f"{node} {len(rs)}" for node, rs in during.items())
    )
    assert all(during.values()), "requests ran while kube-proxy restarted"
    assert not any(failed.values()), f"requests failed while kube-proxy restarted: {_summary(failed)}"


def _summary(failed: dict[str, list[Reply]]) -> str:
    return "; ".join(f"{node}: {len(rs)} failed, first {rs[0].body}" for node, rs in failed.items() if rs)


def test_ipvs_on_a_kernel_without_it_is_undone_reported_and_not_retried(
    lab, kube, kubeadms_kube_proxy, nodeport
):
    assert not Path("/proc/net/ip_vs").exists(), "this test needs a kernel without IPVS"

    failed = _kube_proxy(lab, mode="ipvs", strict_arp=True, wait_timeout=240)

    assert failed.get("failed") is True
    message = failed["msg"]
    print(f"\n{message}")
    failure = failed["mode_failure"]
    assert failure["mode"] == "ipvs" and failure["previous_mode"] == "nftables"
    assert failure["node"] in lab.nodes
    assert f"kube-proxy cannot run in ipvs mode on node {failure['node']}" in message
    assert "can't use the IPVS proxier" in failure["log_line"]
    assert "ip_vs" in message and "Restored mode nftables" in message
    assert failed["rollout"]["ready"], failed["rollout"]
    assert failed["changes"] == [{"path": "ipvs.strictARP", "before": False, "after": True}]
    configmap = client.CoreV1Api(kube).read_namespaced_config_map("kube-proxy", KUBE_SYSTEM)
    assert "mode: nftables" in configmap.data["config.conf"]
    assert "strictARP: true" in configmap.data["config.conf"]
    assert json.loads(configmap.metadata.annotations[ANNOTATION])["node"] == failure["node"]
    assert _rolled_out(kube)
    _answered_on_every_node(lab, nodeport)

    restarted = _daemonset(kube).spec.template.metadata.annotations[RESTARTED_AT]
    assert _daemonset(kube).spec.min_ready_seconds in (None, 0), "minReadySeconds put back"
    again = _kube_proxy(lab, mode="ipvs", strict_arp=True)
    checked = _kube_proxy(lab, check=True, mode="ipvs", strict_arp=True, on_mode_failure="warn")
    warned = _kube_proxy(lab, mode="ipvs", strict_arp=True, on_mode_failure="warn")
    assert again.get("failed") is True and again["msg"].startswith("Not switching kube-proxy to ipvs mode")
    for result in (again, checked, warned):
        assert not result["changed"] and not result["restarted"] and not result["would_restart"], result
    assert any("Not switching kube-proxy to ipvs mode" in w for w in warned.get("warnings", []))
    assert _daemonset(kube).spec.template.metadata.annotations[RESTARTED_AT] == restarted, "no restart since"
