"""Register the lab's node namespaces as Kubernetes Nodes that kwok keeps Ready."""

from __future__ import annotations

import time

from kubernetes import client

from . import topology

KWOK_ANNOTATION = {"kwok.x-k8s.io/node": "fake"}


def node_manifest(host: topology.LanHost) -> dict[str, object]:
    """A Node object carrying the namespace's real LAN addresses."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": host.name,
            "annotations": dict(KWOK_ANNOTATION),
            "labels": {
                "kubernetes.io/hostname": host.name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "baremetal.lb/lab-netns": host.netns,
            },
        },
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": host.ipv4},
                {"type": "InternalIP", "address": host.ipv6},
                {"type": "Hostname", "address": host.name},
            ],
            "capacity": {"cpu": "32", "memory": "64Gi", "pods": "110"},
            "allocatable": {"cpu": "32", "memory": "64Gi", "pods": "110"},
        },
    }


def register(api: client.ApiClient, plan: topology.Plan) -> list[str]:
    """Create (or keep) a Node per node namespace; return their names."""
    core = client.CoreV1Api(api)
    names = []
    for host in plan.hosts():
        if host.role != "node":
            continue
        try:
            core.create_node(node_manifest(host))  # type: ignore[arg-type]  # the client takes dicts too
        except client.ApiException as err:
            if err.status != 409:
                raise
        names.append(host.name)
    return names


def wait_ready(api: client.ApiClient, names: list[str], timeout: float = 60) -> None:
    """Wait until kwok has marked every named Node Ready."""
    core = client.CoreV1Api(api)
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending and time.monotonic() < deadline:
        for node in core.list_node().items:
            conditions = (node.status.conditions if node.status else None) or []
            if node.metadata and any(c.type == "Ready" and c.status == "True" for c in conditions):
                pending.discard(str(node.metadata.name))
        if pending:
            time.sleep(0.3)
    if pending:
        raise TimeoutError(f"nodes not Ready after {timeout:.0f}s: {sorted(pending)} (is kwok running?)")
