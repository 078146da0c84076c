"""Apply a kube-proxy configuration edit to a cluster and restart kube-proxy when it changed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

try:
    from kubernetes import client
except ImportError:  # modules report the missing library through kubernetes.core's requires()
    client = None  # type: ignore[assignment]

from .kube_proxy_config import CONFIG_KEY, Change, edit

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


@dataclass(frozen=True)
class Target:
    """Where kube-proxy's configuration and pods live."""

    namespace: str = "kube-system"
    configmap: str = "kube-proxy"
    daemonset: str = "kube-proxy"


class KubeProxyNotFound(LookupError):
    """The cluster has no kubeadm-style kube-proxy ConfigMap."""


@dataclass
class Outcome:
    """What the rollout did (or, in a dry run, would do)."""

    before: str
    after: str
    changes: tuple[Change, ...]
    rewritten: bool
    restarted: bool = False
    warnings: list[str] = field(default_factory=list)


def not_found_message(namespace: str, name: str) -> str:
    """Explain a missing ConfigMap the way an operator needs to hear it."""
    return (
        f"ConfigMap {namespace}/{name} not found: this cluster does not configure kube-proxy through a "
        "kubeadm-style ConfigMap (k3s, RKE2 and OpenShift configure it elsewhere or do not run it). "
        "Set kube-proxy's mode and ipvs.strictARP in your distribution's configuration, or skip this "
        "step (role variable kube_proxy_manage: false)."
    )


def configure(
    api: client.ApiClient,
    target: Target,
    *,
    mode: str | None,
    strict_arp: bool | None,
    restart: bool,
    dry_run: str | None = None,
    field_manager: str = "baremetal.lb",
) -> Outcome:
    """Edit the ConfigMap's config.conf and, if it changed and `restart`, restart the DaemonSet."""
    core = client.CoreV1Api(api)
    namespace, configmap = target.namespace, target.configmap
    try:
        current = core.read_namespaced_config_map(configmap, namespace)
    except client.ApiException as err:
        if err.status == 404:
            raise KubeProxyNotFound(not_found_message(namespace, configmap)) from err
        raise
    data = current.data or {}
    if CONFIG_KEY not in data:
        raise KubeProxyNotFound(f"ConfigMap {namespace}/{configmap} has no {CONFIG_KEY} key")
    result = edit(data[CONFIG_KEY], mode=mode, strict_arp=strict_arp)
    outcome = Outcome(data[CONFIG_KEY], result.text, result.changes, result.rewritten)
    if not result.changes:
        return outcome
    if result.rewritten:
        outcome.warnings.append(f"{CONFIG_KEY} could not be edited line by line and was re-serialised")
    patch = {
        "metadata": {"resourceVersion": current.metadata.resource_version if current.metadata else None},
        "data": {CONFIG_KEY: result.text},
    }
    core.patch_namespaced_config_map(
        configmap, namespace, patch, dry_run=dry_run, field_manager=field_manager
    )
    if restart:
        outcome.restarted = _restart(api, target, dry_run, field_manager, outcome.warnings)
    return outcome


def _restart(
    api: client.ApiClient, target: Target, dry_run: str | None, field_manager: str, warnings: list[str]
) -> bool:
    """Restart a DaemonSet as `kubectl rollout restart` does: a new pod-template annotation."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
    try:
        client.AppsV1Api(api).patch_namespaced_daemon_set(
            target.daemonset, target.namespace, patch, dry_run=dry_run, field_manager=field_manager
        )
    except client.ApiException as err:
        if err.status != 404:
            raise
        warnings.append(
            f"DaemonSet {target.namespace}/{target.daemonset} not found: restart kube-proxy to apply this"
        )
        return False
    return True


def wait_rolled_out(api: client.ApiClient, target: Target, timeout: float) -> dict[str, Any]:
    """Wait until every kube-proxy pod runs the current template and is available."""
    apps = client.AppsV1Api(api)
    deadline = time.monotonic() + timeout
    namespace, name = target.namespace, target.daemonset
    while True:
        ds = apps.read_namespaced_daemon_set(name, namespace)
        status = ds.status or client.V1DaemonSetStatus(
            current_number_scheduled=0, desired_number_scheduled=0, number_misscheduled=0, number_ready=0
        )
        desired = status.desired_number_scheduled or 0
        done = (
            (status.observed_generation or 0) >= ((ds.metadata.generation if ds.metadata else 0) or 0)
            and (status.updated_number_scheduled or 0) >= desired
            and (status.number_available or 0) >= desired
        )
        if done:
            return {
                "desired": desired,
                "updated": status.updated_number_scheduled,
                "available": status.number_available,
            }
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"DaemonSet {namespace}/{name} not rolled out after {timeout:.0f}s: "
                f"{status.updated_number_scheduled or 0}/{desired} updated, "
                f"{status.number_available or 0}/{desired} available"
            )
        time.sleep(1)
