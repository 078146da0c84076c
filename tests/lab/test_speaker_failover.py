"""Failover on the lab's wire: the VIP moves when its owner dies, loses its link, stops or is
cordoned, and comes back as MetalLB's rule says; forged heartbeats move nothing.

A prober in the client namespace sends an ARP request for the VIP every 10 ms and its replies
are read while it runs (bench/l2_failover_bench.py's :class:`Watch`). The outage is the longest
silence the client saw between the owner's last answer and the new owner's first; a return is
bounded the same way: the longest silence from the restore until the owner answers again.
Every phase starts on a positive signal (the owner seen answering), never after a bare sleep.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.membership.wire import Kind, Message, encode
from bench.l2_failover_bench import Reply, Watch, failback_outage
from tests.lab import speaker_harness
from tests.lab.controller_harness import wait_for
from tests.lab.speaker_harness import (
    Switch,
    announced_web,
    cordon,
    handover,
    metric,
    predicted_owner,
    switch,
)

UNPLANNED_LIMIT = speaker_harness.UNPLANNED_LIMIT
# A planned hand-over (SIGTERM, cordon, uncordon) is make before break: the old owner answers
# until the new one announced, so no request of the client goes unanswered. Every request sent
# during the switch must be answered within 10 ms, the resolution the issue asks for (that of
# the 10 ms prober). Probed every FINE_PROBE, break before make shows as a request waiting for
# the whole gap (29 ms on a SIGTERM, 300 ms when the new owner learns late), make before break
# as waits of about a millisecond.
HITLESS_WAIT = 0.010
FINE_PROBE = 0.002
# A node coming back (speaker restarted and synced, or cable plugged in) answers again within
# this many seconds; far below the safety-net re-plan, which the link test sets to 10 minutes.
RETURN_LIMIT = 3.0
NO_REPLAN = ("--replan-interval=600",)
WATCH_SECONDS = 120.0  # the prober's own end, a bound; every phase ends on what it saw


FAMILIES = pytest.mark.parametrize("vip", ["IPv4", "IPv6"], indirect=True)  # ARP and NDP alike


@pytest.fixture()
def vip(request, lab, cluster, l2, start_controller, speakers, namespace):
    """A Service's VIP answered by its predicted owner; returns (vip, owner, next owner).

    IPv4 unless the test asks for "IPv6" (:data:`FAMILIES`): then the client asks by neighbour
    solicitation and the speakers answer with advertisements.
    """
    ipv6 = getattr(request, "param", "IPv4") == "IPv6"
    ips, owner = announced_web(lab, cluster, l2, start_controller, speakers, namespace, ipv6=ipv6)
    return ips[0], owner, predicted_owner(ips, set(lab.nodes) - {owner})


@pytest.fixture()
def vip_without_replan(lab, cluster, l2, start_controller, speakers, namespace):
    """Like ``vip``, with speakers whose periodic re-plan cannot run during the test."""
    ips, owner = announced_web(lab, cluster, l2, start_controller, speakers, namespace, NO_REPLAN)
    return ips[0], owner, predicted_owner(ips, set(lab.nodes) - {owner})


def _answered(by: Callable[[str], bool], since: float) -> Callable[[list[Reply]], bool]:
    return lambda replies: any(t > since and by(who) for t, who in replies)


def _owner_answering(watch: Watch, owner: str) -> None:
    assert watch.until(_answered(lambda who: who == owner, 0.0), time.monotonic() + 10), (
        f"{owner} did not answer within 10 s"
    )


def _outage(
    watch: Watch, owner: str, act: Callable[[], None], window: float = 3.0
) -> tuple[float, str | None]:
    """Act once the owner is seen answering; the outage the client saw and who answered after it."""
    _owner_answering(watch, owner)
    at = time.monotonic()
    act()
    watch.until(_answered(lambda who: who != owner, at), at + window)
    outage, new = handover(watch.replies(), at, owner)
    print(f"\noutage seen by the client: {outage * 1000:.0f} ms, now answered by {new}")
    return outage, new


def _planned(watch: Watch, owner: str, act: Callable[[], None]) -> Switch:
    """Act once the owner is seen answering; what the client saw during the switch, once the
    new owner answered alone for a moment (:func:`~tests.lab.speaker_harness.switch`)."""
    _owner_answering(watch, owner)
    at = time.monotonic()
    act()
    watch.until(lambda replies: _sole_after_switch(replies, at, owner), at + 3.0)
    replies = watch.replies()
    seen = switch(replies, watch.sent(), at, owner)
    print(
        f"\nhand-over {owner} -> {seen.new}: {seen.requests} requests during the switch, the longest"
        f" waited {seen.longest_wait * 1000:.1f} ms; longest silence {seen.silence * 1000:.1f} ms;"
        f" both answered for {seen.overlap * 1000:.1f} ms"
    )
    print(f"answers around it (ms since the act): {_timeline(replies, at, owner)}")
    return seen


def _sole_after_switch(replies: list[Reply], at: float, owner: str) -> bool:
    """True once, after ``at``, another node answered and then answered three times after ``owner``'s last."""
    after = [(t, who) for t, who in replies if t > at]
    last_old = max((i for i, (_t, who) in enumerate(after) if who == owner), default=-1)
    return sum(1 for _t, who in after[last_old + 1 :] if who != owner) >= 3


def _timeline(replies: list[Reply], at: float, owner: str) -> str:
    """The answers from the old owner's last three before the first other one to three after it,
    in ms since ``at``: what to read when a silence bound fails."""
    first = next((i for i, (t, who) in enumerate(replies) if t > at and who != owner), len(replies))
    last_old = max((i for i, (_t, who) in enumerate(replies[:first]) if who == owner), default=first)
    shown = replies[max(0, last_old - 2) : first + 3]
    return ", ".join(f"{(t - at) * 1000:+.1f} {who}" for t, who in shown)


def _return(watch: Watch, owner: str, restore: Callable[[], None]) -> float:
    """Restore the owner; the longest silence until it answered again (within the bound, or fail)."""
    at = time.monotonic()
    restore()
    restored = time.monotonic()
    back = watch.until(_answered(lambda who: who == owner, restored), restored + RETURN_LIMIT)
    gap, _returned = failback_outage(watch.replies(), at, owner, time.monotonic())
    late = time.monotonic() - restored
    assert back, f"{owner} did not answer within {RETURN_LIMIT} s of its return ({late:.1f} s watched)"
    print(f"return of {owner}: longest silence {gap * 1000:.0f} ms")
    return gap


@FAMILIES
def test_crash_of_the_owner_moves_the_vip_and_a_restart_takes_it_back(lab, speakers, vip):
    address, owner, following = vip
    watch = Watch(lab, address, WATCH_SECONDS)
    try:
        outage, new = _outage(watch, owner, speakers[owner].crash)
        assert new == following
        assert outage < UNPLANNED_LIMIT
        # MetalLB's rule has no stickiness: the returning node ranks first again, with no outage.
        assert _return(watch, owner, speakers[owner].start) < UNPLANNED_LIMIT
    finally:
        watch.close()


def test_sigkill_of_the_main_process_hands_over_through_the_engine(lab, speakers, vip):
    address, owner, following = vip
    watch = Watch(lab, address, WATCH_SECONDS)
    try:
        outage, new = _outage(watch, owner, lambda: speakers[owner].signal(speaker_harness.signal.SIGKILL))
    finally:
        watch.close()
    assert new == following
    assert outage < UNPLANNED_LIMIT
    wait_for("the engine to follow its parent", lambda: not speakers[owner].engine_pids(), timeout=5)


def test_link_cut_moves_the_vip_and_it_returns_in_bound_with_no_periodic_replan(
    lab, speakers, vip_without_replan
):
    address, owner, following = vip_without_replan
    watch = Watch(lab, address, WATCH_SECONDS)
    plugged = False
    try:
        outage, new = _outage(watch, owner, lambda: lab.set_cable(owner, plugged=False))
        assert new == following
        assert outage < UNPLANNED_LIMIT
        # The owner re-planned without its link (the positive signal that the cut was seen):
        # it now holds a plan that answers nowhere.
        wait_for(
            f"{owner} to plan without its downed interface",
            lambda: "interfaces fit for layer 2: IPv4 none" in speakers[owner].logs(),
            timeout=5,
        )
        plugged = True
        # The periodic re-plan is 10 minutes away: what gives the owner its interface back is
        # the rtnetlink link event (or the re-list of its API watches, which ran over the same
        # cable), and a VIP won but answered nowhere would show as a silence here.
        assert _return(watch, owner, lambda: lab.set_cable(owner, plugged=True)) < UNPLANNED_LIMIT
    finally:
        if not plugged:
            lab.set_cable(owner, plugged=True)
        watch.close()


@FAMILIES
def test_graceful_stop_hands_over_without_a_silence(lab, speakers, vip):
    address, owner, following = vip
    watch = Watch(lab, address, WATCH_SECONDS, FINE_PROBE)
    try:
        seen = _planned(watch, owner, speakers[owner].stop)
    finally:
        watch.close()
    assert seen.new == following
    # The old owner answers until it hears the new one, which answers from its announcement on:
    # the overlap lasts only the old owner's reaction (often below the 2 ms probe), so the
    # promise checked here is the client's, no request unanswered. Break before make (the
    # peers learning of the stop from LEAVE after the old owner went quiet) leaves 20-40 ms.
    assert seen.longest_wait < HITLESS_WAIT
    assert speakers[owner].wait() == 0


LAG = 0.2  # how much later than the old owner the new one learns of a cordon in the test


def _learns_late(speakers, old: str, new: str, change: Callable[[], None]) -> Callable[[], None]:
    """``change``, made while ``new``'s Kubernetes half is stopped (SIGSTOP), so ``new`` learns of it
    :data:`LAG` after ``old`` has given the IP up (its log says so): the API server's watches
    reach speakers apart, and the old owner must not stop answering before the new one
    announced, however late that is. Break before make shows here as a silence of LAG or more."""

    def act() -> None:
        said = f" to {new}: answering until"  # the old owner's engine, on giving the IP up
        before = speakers[old].logs().count(said)
        speakers[new].signal(signal.SIGSTOP)
        try:
            change()
            wait_for(
                f"{old} to hand the IP over to {new}",
                lambda: speakers[old].logs().count(said) > before,
                timeout=10,
            )
            time.sleep(LAG)  # the injected lag itself (the stimulus), not a wait for anything
        finally:
            speakers[new].signal(signal.SIGCONT)

    return act


def test_cordon_hands_over_without_a_silence_and_uncordon_brings_the_vip_back(lab, cluster, speakers, vip):
    address, owner, following = vip
    watch = Watch(lab, address, WATCH_SECONDS, FINE_PROBE)
    try:
        given = _redefined_terms_given(speakers)
        # What kubectl cordon (and drain, first) does: spec.unschedulable set through the API.
        seen = _planned(
            watch, owner, _learns_late(speakers, owner, following, lambda: cordon(cluster.api, owner))
        )
        assert seen.new == following
        assert seen.longest_wait < HITLESS_WAIT
        # The owner's drain changed the terms of every claim naming it alike: each speaker's order
        # redefined those terms without listing the Service, and its engine re-termed it so.
        wait_for(
            "every speaker's engine to give the Service the redefined terms",
            lambda: all(now > given[node] for node, now in _redefined_terms_given(speakers).items()),
            timeout=10,
        )
        # Uncordoned, the owner ranks first again and takes the VIP back the same way.
        uncordon = _learns_late(
            speakers, following, owner, lambda: cordon(cluster.api, owner, unschedulable=False)
        )
        back = _planned(watch, following, uncordon)
        assert back.new == owner
        assert back.longest_wait < HITLESS_WAIT
    finally:
        cordon(cluster.api, owner, unschedulable=False)  # idempotent: the next test needs every node
        watch.close()


def _redefined_terms_given(speakers) -> dict[str, float]:
    """Each speaker's count of Services its engine re-termed from redefined terms."""
    return {
        node: metric(speaker.metrics(), "baremetal_lb_speaker_redefined_terms_given")
        for node, speaker in speakers.by_node.items()
    }


def _refused_forged(metrics: str) -> int:
    found = re.search(r'^baremetal_lb_speaker_membership_rejected\{reason="forged"\} (\S+)$', metrics, re.M)
    return int(float(found.group(1))) if found else 0


def test_forged_heartbeats_do_not_move_the_vip(lab, speakers, vip):
    address, owner, _unused = vip
    now = time.time_ns()
    forged = [
        encode(b"not the key", Message(Kind.LEAVE, owner, now, 10**12, now)),
        encode(b"not the key", Message(Kind.HEARTBEAT, "intruder", now, 1, now)),
    ]
    copies = 20
    peers = [lab.hosts[node]["ipv4"] for node in lab.nodes]
    script = (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
        "for h in sys.argv[2:]:\n"
        f"    [s.sendto(bytes.fromhex(p),(h,7946)) for p in sys.argv[1].split(',') for _ in range({copies})]"
        "\n"
    )
    payloads = ",".join(datagram.hex() for datagram in forged)
    before = {node: _refused_forged(speakers[node].metrics()) for node in lab.nodes}
    watch = Watch(lab, address, WATCH_SECONDS)
    try:
        _owner_answering(watch, owner)
        at = time.monotonic()
        lab.exec("client", ["python3", "-c", script, payloads, *peers])
        # The positive signal: every speaker counted every forged datagram as refused...
        for node in lab.nodes:
            wait_for(
                f"{node} to refuse {copies * len(forged)} forged datagrams",
                lambda node=node: (
                    _refused_forged(speakers[node].metrics()) - before[node] >= copies * len(forged)
                ),
                timeout=10,
            )
        # ...and the client kept hearing the owner for longer than a peer needs to take over.
        refused_at = time.monotonic()
        horizon = refused_at + 2 * speaker_harness.UNPLANNED_LIMIT
        watch.until(lambda replies: bool(replies) and replies[-1][0] >= horizon, horizon + 5)
        replies = [(t, who) for t, who in watch.replies() if t >= at]
    finally:
        watch.close()
    assert replies and replies[-1][0] >= horizon, "the prober stopped before the horizon"
    assert {who for _unused, who in replies} == {owner}
