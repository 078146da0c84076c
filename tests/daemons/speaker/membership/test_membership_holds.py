"""HOLDS datagrams (non-revertive failback): the wire format and what a receiver keeps of them."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.membership.holds import PeerHolds
from ansible_collections.baremetal.lb.daemons.speaker.membership.wire import (
    LEGACY_VERSION,
    Kind,
    Message,
    WireError,
    decode,
    decode_holds,
    encode,
)

KEY = b"k" * 32
WALL = 1_700_000_000_000_000_000
V4, V6 = ipaddress.ip_address("192.0.2.70"), ipaddress.ip_address("2001:db8::70")
LIVE = frozenset({"b", "c"})


def holds(name: str, *ips, incarnation: int = 1, version: int = 2) -> Message:
    return Message(Kind.HOLDS, name, incarnation, 1, WALL, holds=frozenset(ips), version=version)


def said(name: str, kind: Kind, incarnation: int = 1, version: int = 2) -> Message:
    return Message(kind, name, incarnation, 1, WALL, version=version)


@pytest.mark.parametrize("version", [2, LEGACY_VERSION], ids=["v2", "v1"])
@pytest.mark.parametrize("ips", [(), (V4,), (V4, V6)], ids=["none", "v4", "dual"])
def test_holds_round_trip(ips, version) -> None:
    message = holds("b", *ips, version=version)
    assert decode(KEY, encode(KEY, message)) == message


@pytest.mark.parametrize("body", [b"\x05abcde", b"\x04\xc0\x00", b"\x10" + bytes(4)])
def test_a_malformed_holds_body_is_refused(body) -> None:
    with pytest.raises(WireError):
        decode_holds(body)


def test_a_heartbeat_carries_no_holds() -> None:
    datagram = encode(KEY, Message(Kind.HEARTBEAT, "b", 1, 1, WALL))
    body = datagram[:-32] + b"\x04" + V4.packed
    with pytest.raises(WireError, match="trailing bytes"):
        decode(KEY, body + hmac.new(KEY, body, hashlib.sha256).digest())


def test_holds_count_until_refreshed_too_late_or_cleared() -> None:
    kept = PeerHolds(fresh_for=0.9)
    kept.receive(holds("b", V4), 10.0)
    assert kept.holds() == {"b": {V4}}
    kept.receive(said("b", Kind.ALIVE, incarnation=2), 10.1)  # a refutation: still the same life
    kept.expire(10.8, LIVE)
    assert kept.holds() == {"b": {V4}}
    kept.expire(11.0, LIVE)  # not repeated for 0.9 s
    assert kept.holds() == {}
    kept.receive(holds("b", V4, V6), 11.1)
    assert kept.holds() == {"b": {V4, V6}}
    kept.receive(holds("b"), 11.2)  # an empty HOLDS: it holds nothing now
    assert kept.holds() == {}


# what a peer says, and whether what the peers hold changed (the service publishes the holds then)
CHANGES = {
    "first HOLDS": ([], holds("b", V4), True),
    "the same IPs again (each heartbeat)": ([holds("b", V4)], holds("b", V4), False),
    "other IPs": ([holds("b", V4)], holds("b", V4, V6), True),
    "an empty HOLDS": ([holds("b", V4)], holds("b"), True),
    "an empty HOLDS of a peer holding nothing": ([], holds("b"), False),
    "LEAVE of a holder": ([holds("b", V4)], said("b", Kind.LEAVE), True),
    "LEAVE of a peer holding nothing": ([holds("c", V6)], said("b", Kind.LEAVE), False),
    "a heartbeat": ([holds("b", V4)], said("b", Kind.HEARTBEAT), False),
    "a restart (JOIN)": ([holds("b", V4)], said("b", Kind.JOIN, incarnation=2), True),
}


@pytest.mark.parametrize(("before", "message", "changed"), CHANGES.values(), ids=CHANGES.keys())
def test_a_change_of_what_peers_hold_raises_the_version(before, message, changed) -> None:
    kept = PeerHolds(fresh_for=0.9)
    for earlier in before:
        kept.receive(earlier, 10.0)
    version = kept.version
    kept.receive(message, 10.1)
    assert (kept.version != version) is changed


@pytest.mark.parametrize(
    ("now", "live", "changed"),
    [(10.5, LIVE, False), (11.0, LIVE, True), (10.5, frozenset({"c"}), True)],
    ids=["fresh and live", "not repeated for fresh_for", "holder dead"],
)
def test_holds_ending_by_time_or_death_raise_the_version(now, live, changed) -> None:
    kept = PeerHolds(fresh_for=0.9)
    kept.receive(holds("b", V4), 10.0)
    version = kept.version
    kept.expire(now, live)
    assert (kept.version != version) is changed


ENDINGS = {
    "LEAVE": lambda h: h.receive(said("b", Kind.LEAVE), 10.1),
    "death": lambda h: h.expire(10.1, frozenset({"c"})),
    "restart (JOIN)": lambda h: h.receive(said("b", Kind.JOIN, incarnation=2), 10.1),
    "restart of a version 1 peer": lambda h: h.receive(
        said("b", Kind.HEARTBEAT, incarnation=2, version=LEGACY_VERSION), 10.1
    ),
}


@pytest.mark.parametrize("end", ENDINGS.values(), ids=ENDINGS.keys())
def test_holds_end_with_their_sender(end) -> None:
    kept = PeerHolds(fresh_for=0.9)
    kept.receive(holds("b", V4), 10.0)
    kept.receive(holds("c", V6), 10.0)
    end(kept)
    kept.expire(10.1, LIVE)
    assert kept.holds() == {"c": {V6}}
