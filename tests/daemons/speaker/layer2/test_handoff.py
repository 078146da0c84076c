"""Make-before-break bookkeeping: an IP handed over is answered until its new owner is heard."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.layer2.handoff import Releases

IP = ipaddress.ip_address("192.0.2.70")
OTHER = ipaddress.ip_address("2001:db8::70")
NEW, STALE = "node2", "node3"  # the new owner, and another peer (a former owner, say)


def test_a_released_ip_is_answered_until_its_new_owner_speaks_for_it():
    releases = Releases(overlap=1.0)
    releases.release({IP: NEW, OTHER: NEW}, now=10.0)
    assert releases.answering(10.2) == {IP, OTHER}
    assert releases.peer_spoke(IP, NEW, 10.3) is True  # the new owner's gratuitous ARP
    assert releases.answering(10.3) == {OTHER}
    assert releases.next_deadline() == 11.0


def test_another_peer_speaking_for_the_ip_does_not_end_the_release():
    releases = Releases(overlap=1.0)
    releases.release({IP: NEW}, now=10.0)
    assert releases.peer_spoke(IP, STALE, 10.1) is False  # a stale announcement of a former owner
    assert releases.answering(10.2) == {IP}
    assert releases.peer_spoke(IP, NEW, 10.3) is True


@pytest.mark.parametrize(
    ("now", "answering"),
    [(10.999, {IP}), (11.0, set()), (12.0, set())],
)
def test_a_release_ends_at_the_overlap_when_no_new_owner_speaks(now, answering):
    releases = Releases(overlap=1.0)
    releases.release({IP: NEW}, now=10.0)
    assert releases.answering(now) == answering


@pytest.mark.parametrize(("heard", "answering"), [(NEW, set()), (STALE, {IP})])
def test_only_the_new_owner_heard_before_the_release_ends_it_at_once(heard, answering):
    releases = Releases(overlap=1.0)
    assert releases.peer_spoke(IP, heard, 10.0) is False  # heard while still ours: no release yet
    releases.release({IP: NEW}, now=10.5)
    assert releases.answering(10.5) == answering


def test_a_peer_heard_longer_ago_than_the_overlap_does_not_count():
    releases = Releases(overlap=1.0)
    releases.peer_spoke(IP, NEW, 10.0)
    releases.answering(12.0)  # forgets what is older than the overlap
    releases.release({IP: NEW}, now=12.0)
    assert releases.answering(12.1) == {IP}


def test_releasing_again_keeps_the_first_deadline():
    releases = Releases(overlap=1.0)
    releases.release({IP: NEW}, now=10.0)
    releases.release({IP: NEW}, now=10.8)
    assert releases.next_deadline() == 11.0


def test_a_reclaimed_ip_is_no_longer_a_release():
    releases = Releases(overlap=1.0)
    releases.release({IP: NEW}, now=10.0)
    releases.reclaim([IP])
    assert releases.answering(10.1) == frozenset()
    assert releases.peer_spoke(IP, NEW, 10.2) is False
    assert releases.next_deadline() is None


def test_no_overlap_means_break_before_make():
    releases = Releases(overlap=0.0)
    releases.release({IP: NEW}, now=10.0)
    assert releases.answering(10.0) == frozenset()
