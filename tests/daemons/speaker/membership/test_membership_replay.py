from __future__ import annotations

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.membership.replay import ReplayGuard
from ansible_collections.baremetal.lb.daemons.speaker.membership.wire import Kind, Message

WALL = 1_700_000_000_000_000_000


def said(name: str, seq: int, incarnation: int = 1, at: int = WALL) -> Message:
    return Message(Kind.HEARTBEAT, name, incarnation, seq, at)


@pytest.mark.parametrize(
    ("history", "message", "admitted", "reason"),
    [
        ([], said("b", 1), True, None),
        ([said("b", 5)], said("b", 5), False, "replayed"),  # the same datagram again
        ([said("b", 5)], said("b", 3), False, "replayed"),  # an older one of the same life
        ([said("b", 900)], said("b", 1, incarnation=2), True, None),  # a restart counts up
        ([said("b", 1, incarnation=2)], said("b", 900, incarnation=1), False, "replayed"),  # a past life
        ([], said("b", 1, at=WALL - 31 * 10**9), False, "stale"),  # captured long ago
        ([], said("b", 1, at=WALL - 29 * 10**9), True, None),  # within the skew allowed
        ([], said("z", 1), False, "unknown"),  # not a configured peer
    ],
)
def test_admission(history: list[Message], message: Message, admitted: bool, reason: str | None) -> None:
    guard = ReplayGuard(max_clock_skew=30)
    guard.set_peers(["b", "c"])
    for earlier in history:
        assert guard.admit(earlier, WALL)
    assert guard.admit(message, WALL) is admitted
    assert dict(guard.rejected) == ({reason: 1} if reason else {})


def test_a_refused_message_does_not_move_the_stamp() -> None:
    guard = ReplayGuard(max_clock_skew=30)
    guard.set_peers(["b"])
    assert not guard.admit(said("b", 9, at=WALL - 60 * 10**9), WALL)  # stale: refused
    assert guard.admit(said("b", 2), WALL)  # so a lower fresh one still counts


def test_a_removed_peer_is_refused() -> None:
    guard = ReplayGuard(max_clock_skew=30)
    guard.set_peers(["b", "c"])
    guard.set_peers(["b"])
    assert not guard.admit(said("c", 1), WALL)
    assert guard.rejected["unknown"] == 1
