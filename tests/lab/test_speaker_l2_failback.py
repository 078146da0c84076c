"""Non-revertive failback in layer 2 on the lab's wire: a returning node does not take its VIP back.

Nor does an uncordoned one: no member comes or goes then, so the node that took over must have
told it what it holds by its HOLDS alone.

Three real speakers and the real controller; the L2Advertisement carries
``baremetal.lb/failback: non-revertive``. The node MetalLB's rule elects first answers; when its
speaker crashes the next one takes over, and when it comes back (a member again, deciding with
every peer heard) the node that took over keeps answering, alone, while the returning one stays
silent: one move instead of two. ``lb_info`` shows the policy. The Service's own annotation
``revertive`` then overrides the advertisement and MetalLB's rule moves the VIP back.
"""

from __future__ import annotations

import time

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.failback import (
    FAILBACK_ANNOTATION,
    NON_REVERTIVE,
    REVERTIVE,
)
from tests.lab.ansible_harness import run_tasks
from tests.lab.controller_harness import wait_for
from tests.lab.speaker_harness import (
    Probe,
    announced_web,
    answered_by_only,
    cordon,
    metric,
    predicted_owner,
)

WATCH = 3.0  # seconds the client watches the VIP after the first node is back: 10 dead-afters
RETURN_WINDOW = 10.0  # seconds of probing from the speaker's restart: its start, sync, join, then WATCH


def _live_members(speaker) -> float:
    return metric(speaker.metrics(), "baremetal_lb_speaker_live_members")


@pytest.fixture
def non_revertive_web(lab, cluster, l2, start_controller, speakers, namespace):
    """The web Service under a non-revertive advertisement: its IPs, the node announcing them
    first, and the node that takes them over when that one goes."""
    ips, first = announced_web(
        lab,
        cluster,
        l2,
        start_controller,
        speakers,
        namespace,
        annotations={FAILBACK_ANNOTATION: NON_REVERTIVE},
    )
    return ips, first, predicted_owner(ips, set(lab.nodes) - {first})


def _strays(replies: list[tuple[float, str]], interim: str, since: float) -> list[str]:
    """Every reply not from ``interim``, as "NODE at +S" from ``since`` (wall clock)."""
    return [f"{node} at {at - since:+.3f}s" for at, node in replies if node != interim]


def test_a_returning_node_does_not_take_a_non_revertive_vip_back(
    lab, cluster, l2, speakers, namespace, tmp_path, non_revertive_web
):
    ips, first, interim = non_revertive_web
    nodes = set(lab.nodes)

    speakers[first].crash()
    answered_by_only(lab, ips[0], interim)  # the failover: the one move

    probe = Probe(lab, ips[0], RETURN_WINDOW)  # the client watches the whole return
    try:
        speakers[first].start()
        wait_for(
            f"{first}'s speaker deciding with all {len(nodes)} members",
            lambda: _live_members(speakers[first]) == len(nodes),
            timeout=30,
        )
        joined = time.time()  # the prober stamps replies with the wall clock
        replies = probe.replies()
    finally:
        probe.kill()
    assert replies and replies[-1][0] >= joined + WATCH, f"the prober ended before {WATCH}s after the return"
    strays = _strays(replies, interim, joined)
    assert not strays, f"while {first} returned the client heard {strays[:3]} ({len(strays)} replies)"
    assert "holding 1 IPs against the rank" in speakers[interim].logs()

    wait_for(
        f"{interim}'s ServiceL2Status, and no other",
        lambda: (
            [r["status"]["node"] for r in l2.l2_statuses(namespace, "web") if r.get("status")] == [interim]
        ),
    )
    (info,) = run_tasks(
        lab, tmp_path, [{"name": "lb_info", "baremetal.lb.lb_info": {"service_namespace": namespace}}]
    )
    (web,) = [item for item in info["services"] if item["name"] == "web"]
    (announcement,) = web["announcements"]
    assert announcement["failback"] == NON_REVERTIVE
    assert [report["node"] for report in announcement["layer2"]] == [interim]

    cluster.patch_service(namespace, "web", {"metadata": {"annotations": {FAILBACK_ANNOTATION: REVERTIVE}}})
    answered_by_only(lab, ips[0], first)  # the Service's policy wins: MetalLB's rule moves it back


def test_an_uncordoned_node_does_not_take_a_non_revertive_vip_back(lab, cluster, speakers, non_revertive_web):
    """Cordoned, the first node hands its VIP over; uncordoned, it ranks first again and stays silent.

    The members never change, so the first node learns what the interim one holds only from
    the HOLDS datagrams the interim one sends with its heartbeats.
    """
    ips, first, interim = non_revertive_web
    try:
        cordon(cluster.api, first)
        answered_by_only(lab, ips[0], interim)  # the hand-over: the one move
        wait_for(
            f"{interim} holding the VIP against the rank",
            lambda: "holding 1 IPs against the rank" in speakers[interim].logs(),
            timeout=10,
        )
        probe = Probe(lab, ips[0], WATCH + 1.0)  # the client watches the uncordon
        try:
            cordon(cluster.api, first, unschedulable=False)
            uncordoned = time.time()  # the prober stamps replies with the wall clock
            replies = probe.replies()
        finally:
            probe.kill()
    finally:
        cordon(cluster.api, first, unschedulable=False)
    assert replies and replies[-1][0] >= uncordoned + WATCH - 0.5, "the prober ended too early"
    strays = _strays(replies, interim, uncordoned)
    assert not strays, f"after {first} was uncordoned the client heard {strays[:3]} ({len(strays)} replies)"
