"""Failover on the lab's wire: the VIP moves when its owner dies, loses its link or stops, and
comes back as MetalLB's rule says; forged heartbeats move nothing.

A prober in the client namespace sends an ARP request for the VIP every 10 ms; the outage is
the longest silence the client saw between the owner's last answer and the new owner's first.
"""

from __future__ import annotations

import time

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.membership.wire import Kind, Message, encode
from tests.lab import speaker_harness
from tests.lab.controller_harness import wait_for
from tests.lab.speaker_harness import Probe, announced_web, answering_nodes, handover, predicted_owner

UNPLANNED_LIMIT = speaker_harness.UNPLANNED_LIMIT
PLANNED_LIMIT = 0.3


@pytest.fixture()
def vip(lab, cluster, l2, start_controller, speakers, namespace):
    """A Service's IPv4 VIP answered by its predicted owner; returns (vip, owner, next owner)."""
    ips, owner = announced_web(lab, cluster, l2, start_controller, speakers, namespace)
    return ips[0], owner, predicted_owner(ips, set(lab.nodes) - {owner})


def _outage(lab, address, owner, act, seconds=3.0):
    probe = Probe(lab, address, seconds)
    try:
        time.sleep(0.8)
        at = time.time()
        act()
        replies = probe.replies()
    finally:
        probe.kill()
    outage, new = handover(replies, at, owner)
    print(f"\noutage seen by the client: {outage * 1000:.0f} ms, now answered by {new}")
    return outage, new


def test_crash_of_the_owner_moves_the_vip_and_a_restart_takes_it_back(lab, speakers, vip):
    address, owner, following = vip
    outage, new = _outage(lab, address, owner, speakers[owner].crash)
    assert new == following
    assert outage < UNPLANNED_LIMIT
    speakers[owner].start()
    # MetalLB's rule has no stickiness: the returning node ranks first again.
    wait_for("the owner to take the VIP back", lambda: answering_nodes(lab, address) == [owner], timeout=15)


def test_sigkill_of_the_main_process_hands_over_through_the_engine(lab, speakers, vip):
    address, owner, following = vip
    outage, new = _outage(lab, address, owner, lambda: speakers[owner].signal(speaker_harness.signal.SIGKILL))
    assert new == following
    assert outage < UNPLANNED_LIMIT
    wait_for("the engine to follow its parent", lambda: not speakers[owner].engine_pids(), timeout=5)


def test_link_cut_moves_the_vip_and_it_returns_with_the_link(lab, speakers, vip):
    address, owner, following = vip
    try:
        outage, new = _outage(lab, address, owner, lambda: lab.set_cable(owner, plugged=False))
        assert new == following
        assert outage < UNPLANNED_LIMIT
    finally:
        lab.set_cable(owner, plugged=True)
    wait_for("the owner to take the VIP back", lambda: answering_nodes(lab, address) == [owner], timeout=15)


def test_graceful_stop_hands_over_at_once(lab, speakers, vip):
    address, owner, following = vip
    outage, new = _outage(lab, address, owner, speakers[owner].stop)
    assert new == following
    assert outage < PLANNED_LIMIT
    assert speakers[owner].wait() == 0


def test_forged_heartbeats_do_not_move_the_vip(lab, speakers, vip):
    address, owner, _unused = vip
    now = time.time_ns()
    forged = [
        encode(b"not the key", Message(Kind.LEAVE, owner, now, 10**12, now)),
        encode(b"not the key", Message(Kind.HEARTBEAT, "intruder", now, 1, now)),
    ]
    peers = [lab.hosts[node]["ipv4"] for node in lab.nodes]
    script = (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
        "for h in sys.argv[2:]:\n"
        "    [s.sendto(bytes.fromhex(p),(h,7946)) for p in sys.argv[1].split(',') for _ in range(20)]\n"
    )
    payloads = ",".join(datagram.hex() for datagram in forged)
    probe = Probe(lab, address, 2.0)
    try:
        time.sleep(0.5)
        lab.exec("client", ["python3", "-c", script, payloads, *peers])
        replies = probe.replies()
    finally:
        probe.kill()
    assert replies and {who for _unused, who in replies} == {owner}
