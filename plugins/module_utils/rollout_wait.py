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
    client = None

from .rollout_state import (
    JSON,
    Rollout,
    is_error,
    last_error_line,
    missing,
    not_ready_message,
    rollout,
    selector,
)

_POLL_SECONDS = 1.0
_LOG_TAIL = 30
# What the API server answers, as if it were the log, when the kubelet has no log of a container.
_NO_LOG = "unable to retrieve container logs"


@dataclass(frozen=True)
class Workload:
    """Which workload to read."""

    kind: str  # Deployment or DaemonSet
    namespace: str
    name: str


class NotRolledOut(Exception):
    """A workload does not exist or did not roll out in time; the message says which and why."""

    def __init__(self, message: str, rollouts: Sequence[Rollout], seconds: float = 0.0) -> None:
        super().__init__(message)
        self.rollouts = list(rollouts)
        self.seconds = seconds


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
    settle: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Rollout]:
    """Poll until every workload has rolled out and stayed so, or ``give_up`` says stop.

    See :func:`poll`; this reads the cluster for it and, when it raises :class:`NotRolledOut`,
    adds the last log lines of the containers that are not Ready to the message.
    """
    try:
        return poll(
            lambda: [read(api, workload)[0] for workload in workloads],
            timeout,
            give_up=give_up,
            settle=settle,
            clock=clock,
            sleep=sleep,
        )
    except NotRolledOut as err:
        message = not_ready_message(err.rollouts, err.seconds, log_lines(api, err.rollouts))
        raise NotRolledOut(message, err.rollouts, err.seconds) from None


def poll(
    read_all: Callable[[], list[Rollout]],
    timeout: float,
    *,
    give_up: Callable[[list[Rollout]], bool] | None = None,
    settle: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Rollout]:
    """Read until every workload has rolled out and stayed so, or until ``give_up(rollouts)``.

    Returns the last reading. Rolled out means for ``settle`` seconds in a row: that is for pods
    without a readiness probe (kube-proxy's), which are Ready as soon as their container starts,
    even one that exits a second later. Raises :class:`NotRolledOut` at once when a workload does
    not exist, and after ``timeout`` seconds.
    """
    started = clock()
    done_since: float | None = None
    while True:
        rollouts = read_all()
        if give_up is not None and give_up(rollouts):
            return rollouts
        if all(each.done for each in rollouts):
            done_since = clock() if done_since is None else done_since
            if clock() - done_since >= settle:
                return rollouts
        else:
            done_since = None
        elapsed = clock() - started
        if elapsed >= timeout or not all(each.found for each in rollouts):
            raise NotRolledOut(not_ready_message(rollouts, elapsed, {}), rollouts, elapsed)
        sleep(_POLL_SECONDS)


def log_lines(api: Any, rollouts: Sequence[Rollout], most: int = 5) -> dict[str, str]:
    """``pod/container`` -> the last error line of each container that has run and is not Ready.

    Only ``most`` of them: the message stays short and the wait cheap on a big cluster.
    """
    lines = {}
    issues = [(each.namespace, issue) for each in rollouts for issue in each.issues if issue.ran]
    for namespace, issue in issues[:most]:
        line = last_log_line(api, namespace, issue.pod, issue.container)
        if line:
            lines[f"{issue.pod}/{issue.container}"] = line
    return lines


def last_log_line(api: Any, namespace: str, pod: str, container: str) -> str:
    """The last error line of a container's log, from its current run or the one before.

    "" when neither has a log the kubelet can give.
    """
    core = client.CoreV1Api(api)
    found = []
    for previous in (False, True):
        try:
            # The raw body, decoded here: the client's own decoding of a log differs between its
            # versions (36.x hands back the bytes' repr).
            response = core.read_namespaced_pod_log(
                pod,
                namespace,
                container=container,
                previous=previous,
                tail_lines=_LOG_TAIL,
                _preload_content=False,
            )
        except client.ApiException:
            continue
        line = last_error_line(bytes(response.data or b"").decode("utf-8", "replace"))
        if line and not line.startswith(_NO_LOG):
            found.append(line)
    return next((line for line in found if is_error(line)), found[0] if found else "")
