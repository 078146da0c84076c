"""The applications the lab ships for the walk-through: demo/echo-hname and demo/echo-ip.

Two Deployments of three replicas from the lab's echo images (built locally, so
`imagePullPolicy: IfNotPresent` finds them on every node): echo-hname answers with its pod's
name, echo-ip with the request's source and the pod's address. `make demo`'s playbook exposes
them (inventories/lab), echo-ip with externalTrafficPolicy Local.
"""

from __future__ import annotations

import functools
from typing import Any

from kubernetes import client, utils

from . import images, kubeadm

NAMESPACE = "demo"
APPS = ("echo-hname", "echo-ip")
REPLICAS = 3
PORT = 8080  # the echo images listen here as nobody; Services map port 80 to it


def deployment(
    name: str,
    *,
    namespace: str = NAMESPACE,
    replicas: int = REPLICAS,
    image: str = APPS[0],
    node: str | None = None,
    one_per_node: bool = False,
) -> dict[str, Any]:
    """A Deployment `name` (label app=NAME) of one echo image.

    Optionally pinned to one node, or spread with at most one pod per node (``one_per_node``).
    """
    labels = {"app": name}
    probe = {"httpGet": {"path": "/", "port": PORT}, "periodSeconds": 2}
    pod_spec: dict[str, Any] = {
        "terminationGracePeriodSeconds": 2,
        "containers": [
            {
                "name": image,
                "image": images.echo_ref(image),
                "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": PORT, "name": "http"}],
                "readinessProbe": probe,
            }
        ],
    }
    if node:
        pod_spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    if one_per_node:
        pod_spec["affinity"] = {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": labels}, "topologyKey": "kubernetes.io/hostname"}
                ]
            }
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": pod_spec,
            },
        },
    }


def install(api: client.ApiClient) -> None:
    """Create the demo namespace and both Deployments unless they exist."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    for obj in [namespace, *(deployment(app, image=app) for app in APPS)]:
        kubeadm.create_if_missing(functools.partial(utils.create_from_dict, api, obj))
