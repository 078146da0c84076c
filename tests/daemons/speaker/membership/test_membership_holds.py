"""HOLDS datagrams (non-revertive failback): the wire format and what a receiver keeps of them."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.membership.tracker import Tracker
from ansible_collections.baremetal.lb.daemons.speaker.membership.wire import (
    Kind,
    Message,
    WireError,
    decode,
    decode_holds,
    encode,
    encode_holds,
)

KEY = b"k" * 32
WALL = 1_700_000_000_000_000_000
V4, V6 = ipaddress.ip_address("192.0.2.70"), ipaddress.ip_address("2001:db8::70")


def holds(name: str, seq: int, *ips, incarnation: int = 1) -> Message:
    return Message(Kind.HOLDS, name, incarnation, seq, WALL, encode_holds(ips))


def beat(name: str, seq: int, incarnation: int = 1, kind: Kind = Kind.HEARTBEAT) -> Message:
    return Message(kind, name, incarnation, seq, WALL)


@pytest.mark.parametrize("ips", [(), (V4,), (V4, V6)], ids=["none", "v4", "dual"])
def test_holds_round_trip(ips) -> None:
    message = holds("b", 1, *ips)
    assert decode(KEY, encode(KEY, message)) == message
    assert decode_holds(message.payload) == frozenset(ips)


@pytest.mark.parametrize("payload", [b"\x05abcde", b"\x04\xc0\x00", b"\x10" + bytes(4)])
def test_a_malformed_holds_payload_is_refused(payload) -> None:
    with pytest.raises(WireError):
        decode_holds(payload)


def test_a_heartbeat_carries_no_payload() -> None:
    with pytest.raises(WireError, match="carries no payload"):
        decode(KEY, encode(KEY, Message(Kind.HEARTBEAT, "b", 1, 1, WALL, b"\x04" + V4.packed)))


def tracker() -> Tracker:
    t = Tracker(dead_after=0.4, max_clock_skew=30)
    t.set_peers(["b", "c"])
    return t


def test_a_holds_is_a_sign_of_life_and_its_ips_count_until_refreshed_or_cleared() -> None:
    t = tracker()
    assert t.receive(holds("b", 1, V4), 10.0, WALL)  # b is alive
    assert t.holds() == {"b": {V4}}
    t.receive(beat("b", 2), 10.3, WALL)
    t.expire(10.5)  # b alive (heartbeat at 10.3) but its holds were not repeated for 0.4 s
    assert t.live() == {"b"} and t.holds() == {}
    t.receive(holds("b", 3, V4, V6), 10.6, WALL)
    assert t.holds() == {"b": {V4, V6}}
    t.receive(holds("b", 4), 10.7, WALL)  # an empty HOLDS: it holds nothing now
    assert t.holds() == {}


ENDINGS = {
    "LEAVE": lambda t: t.receive(beat("b", 2, kind=Kind.LEAVE), 10.1, WALL),
    "death": lambda t: t.expire(10.5),
    "restart": lambda t: t.receive(beat("b", 1, incarnation=2), 10.1, WALL),
    "removed from the peers": lambda t: t.set_peers(["c"]),
}


@pytest.mark.parametrize("end", ENDINGS.values(), ids=ENDINGS.keys())
def test_holds_end_with_their_sender(end) -> None:
    t = tracker()
    t.receive(holds("b", 1, V4), 10.0, WALL)
    end(t)
    assert t.holds() == {}


def test_a_replayed_holds_changes_nothing() -> None:
    t = tracker()
    t.receive(holds("b", 2, V4), 10.0, WALL)
    t.receive(holds("b", 3), 10.1, WALL)
    assert not t.receive(holds("b", 2, V4), 10.2, WALL)
    assert t.holds() == {} and t.rejected["replayed"] == 1


def test_a_malformed_holds_is_counted_and_ignored() -> None:
    t = tracker()
    bad = Message(Kind.HOLDS, "b", 1, 1, WALL, b"\x07abc")
    assert not t.receive(bad, 10.0, WALL)
    assert t.live() == frozenset() and t.rejected["malformed"] == 1
