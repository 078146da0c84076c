"""Whether a Deployment or DaemonSet has rolled out with Ready pods, and if not, why not.

Pure functions over the API's JSON (camelCase dicts): the workload and its pods in, a
:class:`Rollout` out, with one :class:`PodIssue` per pod that is not Ready saying what holds it
(unschedulable, an image that cannot be pulled, a container that keeps exiting, a failing
readiness probe). :mod:`.rollout_wait` reads the cluster and polls; the messages are made here.

- A Deployment is rolled out when the controller has seen its current spec and every wanted
  replica runs the current template and is Ready, with no old pod left.
- A DaemonSet is rolled out when the controller has seen its current spec and every node that
  should run a pod runs one of the current template, Ready (``updatedNumberScheduled`` and
  ``numberReady`` equal ``desiredNumberScheduled``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

JSON = Mapping[str, Any]

KINDS = ("Deployment", "DaemonSet")
# How many times a DaemonSet's pod template changed (the API server keeps the count in this
# annotation), and the labels the DaemonSet controller puts on each pod: that count when the pod
# was made, and its template's hash.
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
TEMPLATE_GENERATION = "pod-template-generation"
TEMPLATE_HASH = "controller-revision-hash"

_SEVERITY = re.compile(
    r'^[EFW]\d{4} |"level": ?"(error|warning|critical)"|level=(error|warning)|\berror\b|\bfailed\b',
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PodIssue:
    """Why one pod is not Ready."""

    pod: str
    node: str  # "" while unscheduled
    reason: str  # ErrImagePull, CrashLoopBackOff, Error, Unschedulable, NotReady, ContainerCreating, ...
    detail: str = ""  # the API's message, an exit code, a probe failure
    container: str = ""
    restarts: int = 0
    crashed: bool = False  # the container exited at least once (now or before its last restart)
    ran: bool = False  # the container has run, so it has a log to look at

    def describe(self, log_line: str = "") -> str:
        """One line for a person: pod, node, reason, detail and, when given, its last log line."""
        where = f"pod {self.pod}" + (f" on {self.node}" if self.node else "")
        what = self.reason + (f" ({self.restarts} restarts)" if self.restarts else "")
        text = f"{where}: {what}" + (f": {self.detail}" if self.detail else "")
        return text + (f"; last log line: {log_line}" if log_line else "")


@dataclass(frozen=True)
class Rollout:
    """A workload's rollout as last read."""

    kind: str
    namespace: str
    name: str
    done: bool
    progress: str  # e.g. "2/3 updated, 1/3 ready"
    issues: tuple[PodIssue, ...] = ()
    found: bool = True

    @property
    def label(self) -> str:
        """``Kind namespace/name``."""
        return f"{self.kind} {self.namespace}/{self.name}"

    def as_dict(self) -> dict[str, Any]:
        """The module result's view of it."""
        return {
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "ready": self.done,
            "progress": self.progress,
            "issues": [issue.describe() for issue in self.issues],
        }


def missing(kind: str, namespace: str, name: str) -> Rollout:
    """The rollout of a workload that does not exist."""
    return Rollout(kind, namespace, name, False, "not found", found=False)


def selector(workload: JSON) -> str:
    """The workload's ``spec.selector.matchLabels`` as a label selector string."""
    labels = ((workload.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def rollout(workload: JSON, pods: Iterable[JSON]) -> Rollout:
    """The rollout of a Deployment or DaemonSet from its object and the pods its selector matches."""
    kind = str(workload.get("kind") or "")
    if kind == "Deployment":
        done, progress = _deployment_progress(workload)
        current = list(_alive(pods))
    elif kind == "DaemonSet":
        done, progress = _daemonset_progress(workload)
        current = current_daemon_pods(workload, pods)
    else:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    meta = workload.get("metadata") or {}
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    issues = () if done else tuple(issue for pod in current for issue in pod_issues(pod))
    return Rollout(kind, namespace, name, done, progress, issues)


def current_daemon_pods(daemonset: JSON, pods: Iterable[JSON]) -> list[JSON]:
    """A DaemonSet's pods of its current template (not being deleted).

    The API server counts the DaemonSet's template changes in an annotation, and the DaemonSet
    controller labels each pod with that count; without the annotation, the pods of the template
    of the most recently made pod.
    """
    alive = list(_alive(pods))
    annotations = (daemonset.get("metadata") or {}).get("annotations") or {}
    template = annotations.get(TEMPLATE_GENERATION_ANNOTATION)
    if template is not None:
        return [pod for pod in alive if _labels(pod).get(TEMPLATE_GENERATION) == str(template)]
    if not alive:
        return []
    newest = _labels(max(alive, key=_generation)).get(TEMPLATE_HASH)
    return [pod for pod in alive if _labels(pod).get(TEMPLATE_HASH) == newest]


def _labels(pod: JSON) -> JSON:
    return (pod.get("metadata") or {}).get("labels") or {}


def _generation(pod: JSON) -> int:
    value = str(_labels(pod).get(TEMPLATE_GENERATION) or "")
    return int(value) if value.isdigit() else -1


def _alive(pods: Iterable[JSON]) -> Iterable[JSON]:
    return (pod for pod in pods if not (pod.get("metadata") or {}).get("deletionTimestamp"))


def _observed(workload: JSON) -> bool:
    generation = int((workload.get("metadata") or {}).get("generation") or 0)
    return int((workload.get("status") or {}).get("observedGeneration") or 0) >= generation


def _deployment_progress(deployment: JSON) -> tuple[bool, str]:
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    wanted = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    ready = int(status.get("readyReplicas") or 0)
    total = int(status.get("replicas") or 0)
    done = _observed(deployment) and updated >= wanted and ready >= wanted and total <= updated
    progress = f"{updated}/{wanted} updated, {ready}/{wanted} ready"
    if total > updated:
        progress += f", {total - updated} old pods left"
    return done, progress if _observed(deployment) else progress + ", new spec not yet seen"


def _daemonset_progress(daemonset: JSON) -> tuple[bool, str]:
    status = daemonset.get("status") or {}
    desired = int(status.get("desiredNumberScheduled") or 0)
    updated = int(status.get("updatedNumberScheduled") or 0)
    ready = int(status.get("numberReady") or 0)
    done = _observed(daemonset) and updated == desired and ready == desired
    progress = f"{updated}/{desired} updated, {ready}/{desired} ready"
    return done, progress if _observed(daemonset) else progress + ", new spec not yet seen"


def pod_issues(pod: JSON) -> list[PodIssue]:
    """Why ``pod`` is not Ready: one issue per container that is not, or one for the pod."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    name, node = str(meta.get("name") or ""), str(spec.get("nodeName") or "")
    if _condition(status, "Ready") == "True":
        return []
    if status.get("phase") in ("Succeeded", "Failed"):
        detail = status.get("message") or status.get("reason") or ""
        return [PodIssue(name, node, f"pod {status['phase']}", str(detail))]
    if not node:
        scheduled = _condition_of(status, "PodScheduled")
        return [
            PodIssue(
                name,
                node,
                str(scheduled.get("reason") or "Pending"),
                str(scheduled.get("message") or "not scheduled to a node yet"),
            )
        ]
    statuses = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    issues = [issue for each in statuses if (issue := _container_issue(name, node, each)) is not None]
    if issues:
        return issues
    return [PodIssue(name, node, "NotReady", str(_condition_of(status, "Ready").get("message") or ""))]


def _container_issue(pod: str, node: str, status: JSON) -> PodIssue | None:
    if status.get("ready"):
        return None
    state, last = status.get("state") or {}, (status.get("lastState") or {}).get("terminated")
    container, restarts = str(status.get("name") or ""), int(status.get("restartCount") or 0)
    terminated = state.get("terminated")
    crashed = bool(last) or bool(terminated and terminated.get("exitCode"))
    ran = crashed or terminated is not None or "running" in state
    if "waiting" in state:
        waiting = state["waiting"] or {}
        reason = str(waiting.get("reason") or "Waiting")
        detail = str(waiting.get("message") or "") or _exit(last)
    elif terminated is not None:
        reason = str(terminated.get("reason") or "Terminated")
        detail = _exit(terminated)
    elif "running" in state:
        if status.get("started") is False:
            reason, detail = "NotStarted", "running, startup probe not passed yet"
        else:
            reason, detail = "NotReady", "running, readiness probe not passed"
        if last:
            detail += f"; before its last restart: {_exit(last)}"
    else:
        reason, detail = "Unknown", ""
    return PodIssue(pod, node, reason, detail, container, restarts, crashed, ran)


def _exit(terminated: JSON | None) -> str:
    if not terminated:
        return ""
    text = f"exit code {terminated.get('exitCode')}"
    if terminated.get("reason") and terminated.get("reason") != "Error":
        text += f" ({terminated['reason']})"
    message = str(terminated.get("message") or "").strip()
    return f"{text}: {message}" if message else text


def _condition_of(status: JSON, kind: str) -> JSON:
    return next((c for c in status.get("conditions") or [] if c.get("type") == kind), {})


def _condition(status: JSON, kind: str) -> str:
    return str(_condition_of(status, kind).get("status") or "")


def last_error_line(log: str) -> str:
    """The line of a container's log that best says why it stopped: the last error, else the last line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if is_error(line)]
    return (errors or lines or [""])[-1][:500]


def is_error(line: str) -> bool:
    """Whether a log line reports an error or a warning (klog E/W/F lines, JSON or logfmt levels)."""
    return bool(_SEVERITY.search(line))


def not_ready_message(rollouts: Sequence[Rollout], seconds: float, log_lines: Mapping[str, str]) -> str:
    """Say which workloads were not rolled out after ``seconds``, and why, pod by pod.

    ``log_lines`` maps ``pod/container`` to the last log line worth showing.
    """
    parts = []
    for each in rollouts:
        if each.done:
            continue
        if not each.found:
            parts.append(f"{each.label} not found")
            continue
        text = f"{each.label} not ready after {seconds:.0f}s: {each.progress}"
        if each.issues:
            text += "; " + "; ".join(
                issue.describe(log_lines.get(f"{issue.pod}/{issue.container}", "")) for issue in each.issues
            )
        parts.append(text)
    return ". ".join(parts)
