"""The lab's nodes are real: kubelet, containerd and the CNI bridge in each node namespace.

Pods here are real processes in their own network namespaces, with addresses from their node's
pod ranges, reachable across nodes; kubelet serves logs and exec; each node has its own runtime.
kwok still simulates extra nodes when asked.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import time
from collections.abc import Callable

import pytest
from kubernetes import client

from lab import build, images, node_runtime, nodes

WEB_PORT = 8080


def _web_pod(name: str, node: str) -> dict:
    """A pod on `node` serving HTTP with Python's http.server (the daemons' image has Python)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "nodes-test"}},
        "spec": {
            "nodeName": node,
            "containers": [
                {
                    "name": "web",
                    "image": images.recorded()["daemons"].ref,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["python", "-m", "http.server", "--bind", "::", str(WEB_PORT)],
                }
            ],
        },
    }


@pytest.fixture()
def web_pods(kube, kubectl, namespace) -> dict[str, client.V1Pod]:
    """One web pod on node1 and one on node2, Ready; keyed by node."""
    core = client.CoreV1Api(kube)
    for node in ("node1", "node2"):
        core.create_namespaced_pod(namespace, _web_pod(f"web-{node}", node))
    pods = ["pod/web-node1", "pod/web-node2"]
    kubectl("wait", "-n", namespace, "--for=condition=Ready", *pods, "--timeout=90s")
    return {node: core.read_namespaced_pod(f"web-{node}", namespace) for node in ("node1", "node2")}


def test_every_node_is_a_kubelet_with_containerd(lab, kube):
    version = lab.data["kubernetes_version"]
    for node in client.CoreV1Api(kube).list_node(label_selector="!type").items:
        info = node.status.node_info
        assert info.kubelet_version == version, node.metadata.name
        assert info.container_runtime_version.startswith("containerd://2."), node.metadata.name
        assert nodes.KWOK_ANNOTATION.keys().isdisjoint(node.metadata.annotations or {})
        assert node.spec.pod_cidrs == lab.data["pod_cidrs"][node.metadata.name]


def test_pods_get_addresses_from_their_node_and_reach_each_other(lab, kubectl, namespace, web_pods):
    for node, pod in web_pods.items():
        ranges = [ipaddress.ip_network(c) for c in lab.data["pod_cidrs"][node]]
        addresses = [ipaddress.ip_address(p.ip) for p in pod.status.pod_ips]
        assert sorted(a.version for a in addresses) == [4, 6], f"{node}: a dual-stack pod"
        assert all(any(a in r for r in ranges) for a in addresses), f"{node}: {addresses} not in {ranges}"

    # node1's pod fetches from node2's pod over both families: pod routes between nodes work.
    for target in web_pods["node2"].status.pod_ips:
        host = f"[{target.ip}]" if ":" in target.ip else target.ip
        url = f"http://{host}:{WEB_PORT}/"
        fetch = f"import urllib.request; print(urllib.request.urlopen('{url}', timeout=5).status)"
        out = kubectl("exec", "-n", namespace, "web-node1", "--", "python", "-c", fetch).stdout
        assert out.strip() == "200", target.ip
    logs = kubectl("logs", "-n", namespace, "web-node2").stdout
    assert logs.count('"GET / HTTP/1.1" 200') == 2, logs


def test_each_node_runs_its_own_runtime(lab, namespace, web_pods):
    crictl = build.ensure_all(log=False)["crictl"]

    def pods_on(node: str) -> set[str]:
        config = node_runtime.layout(lab.state_dir, node).crictl_config
        out = subprocess.run(
            [str(crictl), f"--config={config}", "pods", f"--namespace={namespace}", "--output=json"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
        return {p["metadata"]["name"] for p in json.loads(out)["items"]}

    assert pods_on("node1") == {"web-node1"}
    assert pods_on("node2") == {"web-node2"}
    assert pods_on("node3") == set()


def test_kwok_still_simulates_nodes_beside_the_real_ones(kube):
    core = client.CoreV1Api(kube)
    name = "kwok-sim1"
    core.create_node(nodes.simulated_node_manifest(name, "192.0.2.250"))
    try:
        _wait(f"kwok to mark {name} Ready", lambda: _ready(core.read_node(name)), 60)
    finally:
        core.delete_node(name)


def _ready(node: client.V1Node) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (node.status.conditions or []))


def _wait(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
