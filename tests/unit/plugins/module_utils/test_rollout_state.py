"""When a Deployment or DaemonSet counts as rolled out, and how a pod that is not Ready is explained."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.rollout_state import (
    PodIssue,
    Rollout,
    current_daemon_pods,
    last_error_line,
    not_ready_message,
    pod_issues,
    rollout,
    selector,
)
from ansible_collections.baremetal.lb.plugins.module_utils.rollout_wait import NotRolledOut, poll


def _pod(
    name: str = "speaker-abc",
    node: str = "node1",
    ready: bool = False,
    phase: str = "Running",
    containers: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    generation: int = 2,
    template: str = "b",
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions if conditions is not None else [{"type": "Ready", "status": str(ready)}],
    }
    if containers is not None:
        status["containerStatuses"] = containers
    return {
        "metadata": {
            "name": name,
            "labels": {"pod-template-generation": str(generation), "controller-revision-hash": template},
        },
        "spec": {"nodeName": node},
        "status": status,
    }


def _container(state: dict[str, Any], restarts: int = 0, last: dict[str, Any] | None = None, **extra: Any):
    status = {"name": "speaker", "ready": False, "restartCount": restarts, "state": state, **extra}
    if last is not None:
        status["lastState"] = {"terminated": last}
    return status


CRASH = {"exitCode": 1, "reason": "Error"}
UNSCHEDULABLE = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."

POD_CASES = [
    ("a Ready pod has nothing to explain", _pod(ready=True), []),
    (
        "unschedulable",
        _pod(
            node="",
            phase="Pending",
            conditions=[
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": UNSCHEDULABLE,
                }
            ],
        ),
        [
            PodIssue(
                "speaker-abc",
                "",
                "Unschedulable",
                UNSCHEDULABLE,
            )
        ],
    ),
    (
        "an image that cannot be pulled",
        _pod(
            containers=[
                _container({"waiting": {"reason": "ErrImagePull", "message": "pull access denied for x"}})
            ]
        ),
        [PodIssue("speaker-abc", "node1", "ErrImagePull", "pull access denied for x", "speaker")],
    ),
    (
        "a container that keeps exiting",
        _pod(
            containers=[
                _container(
                    {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed"}},
                    restarts=3,
                    last=CRASH,
                )
            ]
        ),
        [
            PodIssue(
                "speaker-abc",
                "node1",
                "CrashLoopBackOff",
                "back-off 40s restarting failed",
                "speaker",
                3,
                crashed=True,
                ran=True,
            )
        ],
    ),
    (
        "a container that has just exited, before any restart",
        _pod(
            containers=[_container({"terminated": {"exitCode": 2, "reason": "Error", "message": "bad flag"}})]
        ),
        [
            PodIssue(
                "speaker-abc", "node1", "Error", "exit code 2: bad flag", "speaker", crashed=True, ran=True
            )
        ],
    ),
    (
        "running, readiness probe failing",
        _pod(containers=[_container({"running": {}}, started=True)]),
        [
            PodIssue(
                "speaker-abc", "node1", "NotReady", "running, readiness probe not passed", "speaker", ran=True
            )
        ],
    ),
    (
        "running again after an OOM kill, not ready yet",
        _pod(
            containers=[
                _container({"running": {}}, restarts=1, last={"exitCode": 137, "reason": "OOMKilled"})
            ]
        ),
        [
            PodIssue(
                "speaker-abc",
                "node1",
                "NotReady",
                "running, readiness probe not passed; before its last restart: exit code 137 (OOMKilled)",
                "speaker",
                1,
                crashed=True,
                ran=True,
            )
        ],
    ),
    (
        "still being created",
        _pod(containers=[_container({"waiting": {"reason": "ContainerCreating"}})]),
        [PodIssue("speaker-abc", "node1", "ContainerCreating", "", "speaker")],
    ),
    (
        "scheduled, no container status yet",
        _pod(conditions=[{"type": "Ready", "status": "False", "message": "containers with unready status"}]),
        [PodIssue("speaker-abc", "node1", "NotReady", "containers with unready status")],
    ),
]


@pytest.mark.parametrize(("pod", "issues"), [c[1:] for c in POD_CASES], ids=[c[0] for c in POD_CASES])
def test_pod_issues(pod, issues):
    assert pod_issues(pod) == issues


def _deployment(generation=2, observed=2, replicas=1, updated=1, ready=1, total=1) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"name": "controller", "namespace": "metallb-system", "generation": generation},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"component": "controller", "app": "metallb"}},
        },
        "status": {
            "observedGeneration": observed,
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": ready,
        },
    }


def _daemonset(generation=2, observed=2, desired=3, updated=3, ready=3) -> dict[str, Any]:
    return {
        "kind": "DaemonSet",
        "metadata": {"name": "speaker", "namespace": "metallb-system", "generation": generation},
        "spec": {"selector": {"matchLabels": {"component": "speaker"}}},
        "status": {
            "observedGeneration": observed,
            "desiredNumberScheduled": desired,
            "updatedNumberScheduled": updated,
            "numberReady": ready,
        },
    }


ROLLOUT_CASES = [
    ("deployment with its Ready pod", _deployment(), True, "1/1 updated, 1/1 ready"),
    ("deployment with no Ready pod", _deployment(ready=0), False, "1/1 updated, 0/1 ready"),
    (
        "deployment with an old pod left",
        _deployment(total=2),
        False,
        "1/1 updated, 1/1 ready, 1 old pods left",
    ),
    (
        "deployment whose new spec the controller has not seen",
        _deployment(generation=3),
        False,
        "1/1 updated, 1/1 ready, new spec not yet seen",
    ),
    ("daemonset Ready on every node", _daemonset(), True, "3/3 updated, 3/3 ready"),
    ("daemonset Ready on two of three nodes", _daemonset(ready=2), False, "3/3 updated, 2/3 ready"),
    ("daemonset half updated", _daemonset(updated=1), False, "1/3 updated, 3/3 ready"),
    (
        "daemonset with no node to run on",
        _daemonset(desired=0, updated=0, ready=0),
        True,
        "0/0 updated, 0/0 ready",
    ),
]


@pytest.mark.parametrize(
    ("workload", "done", "progress"), [c[1:] for c in ROLLOUT_CASES], ids=[c[0] for c in ROLLOUT_CASES]
)
def test_rollout_progress(workload, done, progress):
    result = rollout(workload, [])
    assert (result.done, result.progress) == (done, progress)


def test_a_daemonsets_issues_come_from_pods_of_its_current_template_only():
    waiting = [_container({"waiting": {"reason": "ContainerCreating"}})]
    old = _pod("speaker-old", generation=1, template="a", containers=waiting)
    new = _pod("speaker-new", generation=2, template="b", containers=waiting)
    leaving = {**_pod("gone"), "metadata": {**_pod("gone")["metadata"], "deletionTimestamp": "x"}}
    pods = [old, new, leaving]
    ds = _daemonset(generation=5, ready=1)  # its spec changed outside the template, too
    ds["metadata"]["annotations"] = {"deprecated.daemonset.template.generation": "2"}
    assert [p["metadata"]["name"] for p in current_daemon_pods(ds, pods)] == ["speaker-new"]
    assert [i.pod for i in rollout(ds, pods).issues] == ["speaker-new"]


def test_without_the_template_count_the_newest_pods_template_is_current():
    old = _pod("speaker-old", generation=1, template="a")
    new = _pod("speaker-new", generation=2, template="b")
    assert [p["metadata"]["name"] for p in current_daemon_pods(_daemonset(), [new, old])] == ["speaker-new"]
    assert current_daemon_pods(_daemonset(), []) == []


def test_a_rolled_out_workload_reports_no_issues():
    assert rollout(_daemonset(), [_pod(containers=[_container({"waiting": {"reason": "X"}})])]).issues == ()


def test_selector_is_the_match_labels_sorted():
    assert selector(_deployment()) == "app=metallb,component=controller"


def test_unknown_kinds_are_refused():
    with pytest.raises(ValueError, match="StatefulSet"):
        rollout({"kind": "StatefulSet"}, [])


LOG_CASES = [
    (
        "klog error line wins over later info",
        'I0101 starting\nE0101 12:00:00.1 1 server.go:137] "Error running ProxyServer" err="x"\nI0101 bye\n',
        'E0101 12:00:00.1 1 server.go:137] "Error running ProxyServer" err="x"',
    ),
    (
        "JSON log line of the daemons",
        '{"level":"info","msg":"start"}\n{"level":"error","msg":"boom"}\n',
        '{"level":"error","msg":"boom"}',
    ),
    (
        "python traceback: the last line",
        "Traceback (most recent call last):\n  x\nOSError: [Errno 30] ro\n",
        "OSError: [Errno 30] ro",
    ),
    ("no error: the last line", "one\ntwo\n\n", "two"),
    ("empty", "", ""),
]


@pytest.mark.parametrize(("log", "line"), [c[1:] for c in LOG_CASES], ids=[c[0] for c in LOG_CASES])
def test_last_error_line(log, line):
    assert last_error_line(log) == line


def test_not_ready_message_names_workload_progress_pods_reasons_and_log_lines():
    crash = PodIssue("speaker-x", "node2", "CrashLoopBackOff", "back-off", "speaker", 4, crashed=True)
    rollouts = [
        Rollout("Deployment", "metallb-system", "controller", True, "1/1 updated, 1/1 ready"),
        Rollout("DaemonSet", "metallb-system", "speaker", False, "3/3 updated, 2/3 ready", (crash,)),
    ]
    message = not_ready_message(rollouts, 300.2, {"speaker-x/speaker": "OSError: [Errno 30] ro"})
    assert message == (
        "DaemonSet metallb-system/speaker not ready after 300s: 3/3 updated, 2/3 ready; "
        "pod speaker-x on node2: CrashLoopBackOff (4 restarts): back-off; "
        "last log line: OSError: [Errno 30] ro"
    )


# -- polling: rolled out for `settle` seconds in a row, giving up, timing out ----------------------

DONE = Rollout("DaemonSet", "kube-system", "kube-proxy", True, "3/3 updated, 3/3 ready")
ROLLING = Rollout("DaemonSet", "kube-system", "kube-proxy", False, "1/3 updated, 2/3 ready")
CRASHED = Rollout(
    "DaemonSet",
    "kube-system",
    "kube-proxy",
    False,
    "3/3 updated, 2/3 ready",
    (PodIssue("kube-proxy-a", "node1", "Error", "exit code 1", "kube-proxy", 0, crashed=True, ran=True),),
)
GONE = Rollout("DaemonSet", "kube-system", "kube-proxy", False, "not found", found=False)


def _crashed(rollouts: list[Rollout]) -> bool:
    return any(issue.crashed for each in rollouts for issue in each.issues)


POLL_CASES = [
    # (case, one reading per second, settle, timeout, give up on a crash, readings taken, outcome)
    ("done at once", [DONE], 0, 10, False, 1, "done"),
    ("done after rolling", [ROLLING, ROLLING, DONE], 0, 10, False, 3, "done"),
    ("done and settled", [ROLLING, DONE, DONE, DONE, DONE], 3, 10, False, 5, "done"),
    (
        "ready for a moment, then a crash: the settle window sees it",
        [DONE, DONE, CRASHED],
        5,
        10,
        True,
        3,
        "gave up",
    ),
    ("a dip restarts the settle window", [DONE, DONE, ROLLING, DONE, DONE, DONE], 2, 10, False, 6, "done"),
    ("never done", [ROLLING] * 20, 0, 5, False, 6, "timeout"),
    ("crash without giving up waits on", [CRASHED] * 20, 0, 3, False, 4, "timeout"),
    ("missing fails at once", [GONE], 0, 600, False, 1, "timeout"),
]


@pytest.mark.parametrize(
    ("readings", "settle", "timeout", "give_up", "taken", "outcome"),
    [c[1:] for c in POLL_CASES],
    ids=[c[0] for c in POLL_CASES],
)
def test_poll(readings, settle, timeout, give_up, taken, outcome):
    now = [0.0]
    reads = []

    def read_all() -> list[Rollout]:
        reads.append(now[0])
        return [readings[min(len(reads), len(readings)) - 1]]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    try:
        poll(
            read_all,
            timeout,
            give_up=_crashed if give_up else None,
            settle=settle,
            clock=lambda: now[0],
            sleep=sleep,
        )
        result = "gave up" if give_up and _crashed([readings[len(reads) - 1]]) else "done"
    except NotRolledOut as err:
        result = "timeout"
        assert err.rollouts == [readings[min(len(reads), len(readings)) - 1]]
    assert (len(reads), result) == (taken, outcome)
