"""A mode kube-proxy cannot run: the record kept on the ConfigMap, when it still holds, what is said."""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.kube_proxy_failure import (
    ANNOTATION,
    ModeFailure,
    crashed,
    failure_message,
    remembered_message,
)
from ansible_collections.baremetal.lb.plugins.module_utils.rollout_state import PodIssue, Rollout

IPVS_LOG = (
    'E0102 10:11:12.131415       1 server.go:137] "Error running ProxyServer" '
    'err="can\'t use the IPVS proxier: ipvs not supported by the kernel"'
)
FAILURE = ModeFailure(
    mode="ipvs",
    previous_mode="nftables",
    node="node1",
    kernel="6.18.0",
    image="registry.k8s.io/kube-proxy:v1.37.2",
    pod="kube-proxy-x7k2q",
    log_line=IPVS_LOG,
    time="2026-01-02T10:11:12Z",
)


def test_the_record_survives_the_annotation():
    assert ModeFailure.from_annotation(FAILURE.to_annotation()) == FAILURE


@pytest.mark.parametrize("value", [None, "", "not json", "[]", '{"mode": "ipvs"}', "{}"])
def test_an_annotation_that_is_not_a_record_is_no_record(value):
    assert ModeFailure.from_annotation(value) is None


HOLDS = [
    ("same mode, image and kernel", "ipvs", FAILURE.image, {"node1": "6.18.0"}, True),
    ("another mode asked for", "nftables", FAILURE.image, {"node1": "6.18.0"}, False),
    ("kube-proxy's image changed", "ipvs", "registry.k8s.io/kube-proxy:v1.38.0", {"node1": "6.18.0"}, False),
    ("the node's kernel changed", "ipvs", FAILURE.image, {"node1": "6.19.1"}, False),
    ("the node is gone", "ipvs", FAILURE.image, {"node1": ""}, False),
]


@pytest.mark.parametrize(
    ("mode", "image", "kernels", "holds"), [c[1:] for c in HOLDS], ids=[c[0] for c in HOLDS]
)
def test_still_holds(mode, image, kernels, holds):
    assert FAILURE.still_holds(mode, image, kernels) is holds


WHY = [
    ("ipvs refused by the kernel", IPVS_LOG, "", "the kernel modules ip_vs and ip_vs_rr"),
    ("with the scheduler asked for", IPVS_LOG, "wrr", "the kernel modules ip_vs and ip_vs_wrr"),
    (
        "ipset missing in the image",
        'err="can\'t use the IPVS proxier: error getting ipset version, error: executable file not found"',
        "",
        "needs the ipset tool in kube-proxy's image, which failed before the kernel was even asked, "
        "and the kernel modules ip_vs and ip_vs_rr",
    ),
    ("another reason", 'E0102 "Error running ProxyServer" err="bad"', "", "kube-proxy exited in ipvs mode"),
]


@pytest.mark.parametrize(("log_line", "scheduler", "said"), [c[1:] for c in WHY], ids=[c[0] for c in WHY])
def test_why_names_what_the_node_lacks(log_line, scheduler, said):
    failure = ModeFailure(**{**vars(FAILURE), "log_line": log_line})
    assert said in failure.why(scheduler)


def test_failure_message_names_node_kernel_pod_log_fix_restore_and_retry():
    message = failure_message(
        FAILURE, "kube-system/kube-proxy", "restarted kube-proxy: 3/3 updated, 3/3 ready"
    )
    for part in (
        "kube-proxy cannot run in ipvs mode on node node1 (kernel 6.18.0)",
        f"its new pod kube-proxy-x7k2q exited: {IPVS_LOG}",
        "The kernel cannot do IPVS",
        "modprobe ip_vs",
        "Restored mode nftables in ConfigMap kube-system/kube-proxy and restarted kube-proxy: 3/3 updated",
        f"remove the annotation {ANNOTATION} from ConfigMap kube-system/kube-proxy",
    ):
        assert part in message


def test_remembered_message_says_the_mode_stays_and_how_to_retry():
    unset = ModeFailure(**{**vars(FAILURE), "previous_mode": ""})
    message = remembered_message(unset, "kube-system/kube-proxy")
    assert message.startswith(
        "Not switching kube-proxy to ipvs mode: at 2026-01-02T10:11:12Z it could not run"
    )
    assert "Mode stays (unset)." in message and ANNOTATION in message


def test_crashed_keeps_the_issues_of_containers_that_exited():
    exited = PodIssue("kube-proxy-a", "node1", "CrashLoopBackOff", "", "kube-proxy", 2, crashed=True)
    pulling = PodIssue("kube-proxy-b", "node2", "ContainerCreating", "", "kube-proxy")
    rollouts = [
        Rollout("DaemonSet", "kube-system", "kube-proxy", False, "3/3 updated, 1/3 ready", (exited, pulling))
    ]
    assert crashed(rollouts) == [exited]
