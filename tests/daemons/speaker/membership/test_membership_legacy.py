"""Version 1 peers in a rolling upgrade: live while heard, dead after silence, in the ring once upgraded."""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.membership.legacy import LegacyPeers
from ansible_collections.baremetal.lb.daemons.speaker.membership.wire import LEGACY_VERSION, Kind, Message


def v1(name: str, kind: Kind = Kind.HEARTBEAT, incarnation: int = 1) -> Message:
    return Message(kind, name, incarnation, 1, 0, version=LEGACY_VERSION)


def v2(name: str, kind: Kind = Kind.JOIN, incarnation: int = 2) -> Message:
    return Message(kind, name, incarnation, 1, 0)


def test_a_version_1_peer_is_live_while_heard_and_dead_after_silence() -> None:
    peers = LegacyPeers(dead_after=0.3)
    assert peers.receive(v1("b"), 10.0)  # newly known as version 1
    assert not peers.receive(v1("b"), 10.1)
    assert peers.live() == {"b"} and peers.next_expiry() == pytest.approx(10.4)
    peers.expire(10.39)
    assert peers.live() == {"b"}
    peers.expire(10.41)
    assert peers.live() == frozenset() and peers.declared_dead == {"b": 1}
    assert peers.names == {"b"}  # still spoken to in version 1: it may come back as it was


def test_a_leave_drops_at_once_without_counting_a_death() -> None:
    peers = LegacyPeers(dead_after=0.3)
    peers.receive(v1("b"), 10.0)
    peers.receive(v1("b", Kind.LEAVE), 10.1)
    peers.expire(11.0)
    assert peers.live() == frozenset() and not peers.declared_dead


def test_an_upgraded_peer_leaves_the_version_1_set() -> None:
    peers = LegacyPeers(dead_after=0.3)
    assert not peers.receive(v2("c"), 10.0)  # a version 2 peer is none of its business
    peers.receive(v1("b"), 10.0)
    assert peers.receive(v2("b"), 10.1)
    assert peers.names == frozenset() and peers.live() == frozenset()
    peers.expire(11.0)
    assert not peers.declared_dead


def test_removed_peers_are_forgotten() -> None:
    peers = LegacyPeers(dead_after=0.3)
    peers.receive(v1("b"), 10.0)
    peers.set_peers(frozenset({"c"}))
    assert peers.names == frozenset() and peers.live() == frozenset()
