from __future__ import annotations

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.membership.wire import (
    Kind,
    Message,
    WireError,
    decode,
    encode,
)

KEY = b"k" * 32
MSG = Message(Kind.HEARTBEAT, "node-a", 1_700_000_000_000_000_000, 42, 1_700_000_000_500_000_000)


def test_round_trip() -> None:
    assert decode(KEY, encode(KEY, MSG)) == MSG
    leave = Message(Kind.LEAVE, "nöde", 1, 2, 3)
    assert decode(KEY, encode(KEY, leave)) == leave


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d[:-1] + bytes([d[-1] ^ 1]), "HMAC"),  # tampered MAC
        (lambda d: d[:10] + bytes([d[10] ^ 1]) + d[11:], "HMAC"),  # tampered body
        (lambda d: d[:20], "too short"),
    ],
)
def test_tampering_is_detected(mutate: object, reason: str) -> None:
    with pytest.raises(WireError, match=reason):
        decode(KEY, mutate(encode(KEY, MSG)))  # type: ignore[operator]


def test_other_key_is_rejected() -> None:
    with pytest.raises(WireError, match="HMAC"):
        decode(b"other", encode(KEY, MSG))


@pytest.mark.parametrize("name", ["", "x" * 254])
def test_name_length_is_bounded(name: str) -> None:
    with pytest.raises(ValueError, match="sender name"):
        encode(KEY, Message(Kind.HEARTBEAT, name, 1, 1, 1))
