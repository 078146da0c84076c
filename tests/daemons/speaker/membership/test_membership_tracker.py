from __future__ import annotations

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.membership.tracker import Tracker
from ansible_collections.baremetal.lb.daemons.speaker.membership.wire import Kind, Message

WALL = 1_700_000_000_000_000_000


def beat(name: str, seq: int, incarnation: int = 1, kind: Kind = Kind.HEARTBEAT, at: int = WALL) -> Message:
    return Message(kind, name, incarnation, seq, at)


def tracker() -> Tracker:
    t = Tracker(dead_after=0.4, max_clock_skew=30)
    t.set_peers(["b", "c"])
    return t


def test_heartbeat_makes_live_and_silence_kills_after_threshold() -> None:
    t = tracker()
    assert t.receive(beat("b", 1), now=10.0, wall_ns=WALL)
    assert t.live() == {"b"}
    assert t.next_expiry() == pytest.approx(10.4)
    assert not t.expire(10.39)
    assert t.expire(10.41)
    assert t.live() == frozenset()


def test_replayed_or_reordered_datagrams_change_nothing() -> None:
    t = tracker()
    t.receive(beat("b", 5), 10.0, WALL)
    t.expire(11.0)
    assert not t.receive(beat("b", 5), 11.0, WALL)  # replay of the last one
    assert not t.receive(beat("b", 3), 11.0, WALL)  # older one
    assert t.live() == frozenset()
    assert t.rejected["replayed"] == 2


def test_restart_with_a_newer_incarnation_is_accepted() -> None:
    t = tracker()
    t.receive(beat("b", 900, incarnation=1), 10.0, WALL)
    assert not t.receive(beat("b", 1, incarnation=1), 10.1, WALL)
    assert not t.receive(beat("b", 1, incarnation=2), 10.1, WALL)  # already live: no change
    assert t.rejected["replayed"] == 1


def test_leave_drops_at_once_and_late_heartbeats_of_the_same_life_do_not_revive() -> None:
    t = tracker()
    t.receive(beat("b", 1), 10.0, WALL)
    assert t.receive(beat("b", 3, kind=Kind.LEAVE), 10.05, WALL)
    assert t.live() == frozenset()
    assert not t.receive(beat("b", 2), 10.06, WALL)


def test_old_captures_are_stale_for_a_fresh_receiver() -> None:
    t = tracker()
    assert not t.receive(beat("b", 1, at=WALL - 31 * 10**9), 10.0, WALL)
    assert t.rejected["stale"] == 1
    assert t.receive(beat("b", 2, at=WALL - 29 * 10**9), 10.0, WALL)


def test_unknown_senders_and_removed_peers() -> None:
    t = tracker()
    assert not t.receive(beat("z", 1), 10.0, WALL)
    assert t.rejected["unknown"] == 1
    t.receive(beat("c", 1), 10.0, WALL)
    assert t.set_peers(["b"])
    assert t.live() == frozenset()


@pytest.mark.parametrize(
    ("events", "declared"),
    [
        pytest.param([("beat", "b", 10.0), ("expire", 10.5)], {"b": 1}, id="silence"),
        pytest.param(
            [("beat", "b", 10.0), ("expire", 10.5), ("beat", "b", 11.0), ("expire", 11.5)],
            {"b": 2},
            id="silence-twice",
        ),
        pytest.param([("beat", "b", 10.0), ("leave", "b", 10.1), ("expire", 10.5)], {}, id="leave"),
        pytest.param([("beat", "b", 10.0), ("expire", 10.3)], {}, id="within-dead-after"),
    ],
)
def test_only_silence_declares_a_peer_dead_and_each_time_counts(events, declared) -> None:
    t = tracker()
    seq = 0
    for event in events:
        if event[0] == "expire":
            t.expire(event[1])
            continue
        seq += 1
        kind = Kind.LEAVE if event[0] == "leave" else Kind.HEARTBEAT
        t.receive(beat(event[1], seq, kind=kind), now=event[2], wall_ns=WALL)
    assert dict(t.declared_dead) == declared
