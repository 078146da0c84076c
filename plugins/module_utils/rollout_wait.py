"""Read Deployments and DaemonSets with their pods, and wait, bounded, until they have rolled out.

The judgement is :mod:`.rollout_state`'s; this module only reads the cluster. When the time is
up, the error names every workload not rolled out with each pod that is not Ready and why, and,
for a container that has exited, the last error line of its log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

try:
    from kubernetes import client
except ImportError:  # modules report the missing library through kubernetes.core's requires()
    client = None  # type: ignore[assignment]

from .rollout_state import JSON, Rollout, last_error_line, missing, not_ready_message, rollout, selector

_POLL_SECONDS = 1.0
_LOG_TAIL = 30


@dataclass(frozen=True)
class Workload:
    """Which workload to read."""

    kind: str  # Deployment or DaemonSet
    namespace: str
    name: str


class NotRolledOut(Exception):
    """A workload does not exist or did not roll out in time; the message says which and why."""

    def __init__(self, message: str, rollouts: Sequence[Rollout]) -> None:
        super().__init__(message)
        self.rollouts = list(rollouts)


def read_object(api: Any, workload: Workload) -> JSON | None:
    """The workload's object as JSON, or None when it does not exist."""
    apps = client.AppsV1Api(api)
    try:
        if workload.kind == "Deployment":
            found: Any = apps.read_namespaced_deployment(workload.name, workload.namespace)
        else:
            found = apps.read_namespaced_daemon_set(workload.name, workload.namespace)
    except client.ApiException as err:
        if err.status == 404:
            return None
        raise
    obj: dict[str, Any] = api.sanitize_for_serialization(found)
    obj.setdefault("kind", workload.kind)
    return obj


def read(api: Any, workload: Workload) -> tuple[Rollout, JSON | None]:
    """The workload's rollout and its object (None when it does not exist)."""
    obj = read_object(api, workload)
    if obj is None:
        return missing(workload.kind, workload.namespace, workload.name), None
    listed = client.CoreV1Api(api).list_namespaced_pod(workload.namespace, label_selector=selector(obj))
    pods: list[JSON] = api.sanitize_for_serialization(listed).get("items") or []
    return rollout(obj, pods), obj


def wait(
    api: Any,
    workloads: Sequence[Workload],
    timeout: float,
    *,
    give_up: Callable[[list[Rollout]], bool] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Rollout]:
    """Poll until every workload has rolled out, or ``give_up`` says stop; return the last reading.

    Raises :class:`NotRolledOut` at once when a workload does not exist, and after ``timeout``
    seconds, its message naming what was not ready and why (see
    :func:`rollout_state.not_ready_message`).
    """
    started = clock()
    while True:
        rollouts = [read(api, workload)[0] for workload in workloads]
        if all(each.done for each in rollouts) or (give_up is not None and give_up(rollouts)):
            return rollouts
        if clock() - started >= timeout or not all(each.found for each in rollouts):
            raise NotRolledOut(
                not_ready_message(rollouts, clock() - started, log_lines(api, rollouts)), rollouts
            )
        sleep(_POLL_SECONDS)


def log_lines(api: Any, rollouts: Sequence[Rollout]) -> dict[str, str]:
    """``pod/container`` -> the last error line of the log of each container that has exited."""
    lines = {}
    for each in rollouts:
        for issue in each.issues:
            if issue.crashed and issue.container:
                log = container_log(api, each.namespace, issue.pod, issue.container, issue.restarts > 0)
                if last_error_line(log):
                    lines[f"{issue.pod}/{issue.container}"] = last_error_line(log)
    return lines


def container_log(api: Any, namespace: str, pod: str, container: str, previous: bool) -> str:
    """The tail of a container's log (of its previous run when ``previous``); "" when there is none."""
    core = client.CoreV1Api(api)
    for earlier in dict.fromkeys((previous, False)):
        try:
            text = core.read_namespaced_pod_log(
                pod, namespace, container=container, previous=earlier, tail_lines=_LOG_TAIL
            )
        except client.ApiException:
            continue
        if text:
            return str(text)
    return ""
