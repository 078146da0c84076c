from __future__ import annotations

import hashlib
import hmac
import ipaddress
import struct

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.membership.wire import (
    LEGACY_VERSION,
    MAX_DATAGRAM,
    DigestEntry,
    Kind,
    Message,
    WireError,
    decode,
    encode,
)

KEY = b"k" * 32
MSG = Message(Kind.HEARTBEAT, "node-a", 1_700_000_000_000_000_000, 42, 1_700_000_000_500_000_000)


@pytest.mark.parametrize(
    "message",
    [
        MSG,
        Message(Kind.LEAVE, "nöde", 1, 2, 3),
        Message(Kind.JOIN, "node-a", 7, 8, 9),
        Message(Kind.ALIVE, "node-a", 7, 8, 9),
        Message(Kind.SUSPECT, "node-a", 7, 8, 9, subject="node-b", subject_incarnation=5),
        Message(
            Kind.DIGEST,
            "node-a",
            7,
            8,
            9,
            entries=(DigestEntry("node-a", 7, True), DigestEntry("b", 3, False)),
        ),
        Message(Kind.DIGEST, "node-a", 7, 8, 9),  # knows nobody yet
    ],
)
def test_round_trip(message: Message) -> None:
    assert decode(KEY, encode(KEY, message)) == message


def authenticated(body: bytes) -> bytes:
    return body + hmac.new(KEY, body, hashlib.sha256).digest()


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d[:-1] + bytes([d[-1] ^ 1]), "HMAC"),  # tampered MAC
        (lambda d: d[:10] + bytes([d[10] ^ 1]) + d[11:], "HMAC"),  # tampered body
        (lambda d: d[:20], "too short"),
        (lambda d: authenticated(d[:4] + b"\x03" + d[5:-32]), "not a version 2 or 1"),
        (lambda d: authenticated(d[:4] + b"\x01" + d[5:-32]), "version 1 has no kind 4"),
        (lambda d: authenticated(d[:-32] + b"x"), "trailing bytes"),
        (lambda d: authenticated(d[:-33]), "name length"),  # truncated subject
    ],
)
def test_malformed_or_tampered_is_refused(mutate: object, reason: str) -> None:
    suspect = Message(Kind.SUSPECT, "node-a", 1, 2, 3, subject="node-b", subject_incarnation=1)
    with pytest.raises(WireError, match=reason):
        decode(KEY, mutate(encode(KEY, suspect)))  # type: ignore[operator]


def test_a_digest_claiming_more_entries_than_it_holds_is_refused() -> None:
    body = encode(KEY, Message(Kind.DIGEST, "a", 1, 2, 3))[:-32]
    with pytest.raises(WireError):
        decode(KEY, authenticated(body[:-2] + struct.pack("!H", 5)))


def test_other_key_is_rejected() -> None:
    with pytest.raises(WireError, match="HMAC"):
        decode(b"other", encode(KEY, MSG))


@pytest.mark.parametrize(
    "message",
    [
        Message(Kind.HEARTBEAT, "", 1, 1, 1),
        Message(Kind.HEARTBEAT, "x" * 254, 1, 1, 1),
        Message(Kind.SUSPECT, "a", 1, 1, 1, subject=""),
        Message(Kind.DIGEST, "a", 1, 1, 1, entries=(DigestEntry("x" * 254, 1, True),)),
    ],
)
def test_name_length_is_bounded(message: Message) -> None:
    with pytest.raises(ValueError, match="name of"):
        encode(KEY, message)


def test_a_digest_must_fit_one_datagram() -> None:
    entries = tuple(DigestEntry(f"{i:0>200}", 1, True) for i in range(MAX_DATAGRAM // 200))
    with pytest.raises(ValueError, match="does not fit UDP"):
        encode(KEY, Message(Kind.DIGEST, "a", 1, 1, 1, entries=entries))


# Datagrams of the version 1 speaker (all-to-all heartbeats), as its encoder wrote them with KEY.
V1_DATAGRAMS = {
    "heartbeat": (
        "424d4c42010117979cfe362a0000000000000000002a17979cfe53f76500066e6f64652d6170544eebed8b7029a8"
        "177645777f564495bbbb455c12e8f1c614459c46b15b76",
        MSG._replace(version=LEGACY_VERSION),
    ),
    "leave": (
        "424d4c420102000000000000000700000000000000080000000000000009066e6f64652d6189abf086ae9e1dcdef"
        "952e8c191ec6424064d2ca70673b1950215486b3678f79",
        Message(Kind.LEAVE, "node-a", 7, 8, 9, version=LEGACY_VERSION),
    ),
    "holds": (
        "424d4c420103000000000000000700000000000000080000000000000009066e6f64652d611020010db800000000"
        "000000000000007004c0000246b355ee516e82f30e3759a650b63bc259a4d407be48f52ad328ead2537831fa1b",
        Message(
            Kind.HOLDS,
            "node-a",
            7,
            8,
            9,
            holds=frozenset({ipaddress.ip_address("192.0.2.70"), ipaddress.ip_address("2001:db8::70")}),
            version=LEGACY_VERSION,
        ),
    ),
}


@pytest.mark.parametrize(("datagram", "message"), V1_DATAGRAMS.values(), ids=V1_DATAGRAMS.keys())
def test_version_1_datagrams_read_and_written_as_the_old_speaker_did(datagram: str, message: Message) -> None:
    assert decode(KEY, bytes.fromhex(datagram)) == message
    assert encode(KEY, message).hex() == datagram


@pytest.mark.parametrize("kind", [Kind.JOIN, Kind.SUSPECT, Kind.DIGEST, Kind.ALIVE])
def test_version_1_has_only_heartbeat_leave_and_holds(kind: Kind) -> None:
    with pytest.raises(ValueError, match="version 1 has no"):
        encode(KEY, Message(kind, "a", 1, 1, 1, subject="b", version=LEGACY_VERSION))
