"""What a kubeadm cluster in use has and the bare control plane lacks.

kube-proxy exactly as ``kubeadm init`` installs it (its ServiceAccount and RBAC, the ConfigMap
with the complete ``config.conf`` and ``kubeconfig.conf``, the DaemonSet), from
``manifests/kube-proxy/``, kubeadm's own output: the real kube-proxy runs on the lab's
kubelets, and the collection's kube_proxy step meets in the lab what it meets in users' clusters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, utils

KUBE_PROXY_MANIFESTS = Path(__file__).with_name("manifests") / "kube-proxy"


def kube_proxy_objects() -> list[dict[str, Any]]:
    """The objects kubeadm creates for kube-proxy, in its order (the files are numbered)."""
    return [yaml.safe_load(path.read_text()) for path in sorted(KUBE_PROXY_MANIFESTS.glob("*.yaml"))]


def install_kube_proxy(api: client.ApiClient) -> None:
    """Create kube-proxy's ServiceAccount, RBAC, ConfigMap and DaemonSet unless they exist."""
    for obj in kube_proxy_objects():
        create_if_missing(functools.partial(utils.create_from_dict, api, obj))


def create_if_missing(create: Callable[[], object]) -> None:
    """Run a create call; an object that already exists (409) is fine."""
    try:
        create()
    except client.ApiException as err:
        if err.status != 409:
            raise
    except utils.FailToCreateError as err:
        if any(each.status != 409 for each in err.api_exceptions):
            raise
