"""The heartbeat datagram: a small header, the sender's name, and an HMAC-SHA256 over both.

``incarnation`` is fixed for the life of a sender process (its start time in nanoseconds, so a
restart counts up) and ``seq`` counts up within it; together with ``sent_at_ns`` (the sender's
wall clock) they let a receiver refuse replayed datagrams.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from enum import IntEnum

MAGIC = b"BMLB"
VERSION = 1
MAX_NAME = 253  # a Kubernetes node name is a DNS subdomain

_HEADER = struct.Struct("!4sBBQQQB")
_DIGEST = hashlib.sha256
_MAC_LEN = _DIGEST().digest_size


class Kind(IntEnum):
    """What a datagram says about its sender."""

    HEARTBEAT = 1
    LEAVE = 2


class WireError(ValueError):
    """A datagram that is malformed or not authenticated by our key."""


@dataclass(frozen=True)
class Message:
    """One authenticated statement of a sender."""

    kind: Kind
    sender: str
    incarnation: int
    seq: int
    sent_at_ns: int


def encode(key: bytes, message: Message) -> bytes:
    """The datagram for ``message``, authenticated with ``key``."""
    name = message.sender.encode()
    if not name or len(name) > MAX_NAME:
        raise ValueError(f"sender name of {len(name)} bytes (want 1..{MAX_NAME})")
    body = (
        _HEADER.pack(
            MAGIC,
            VERSION,
            message.kind,
            message.incarnation,
            message.seq,
            message.sent_at_ns,
            len(name),
        )
        + name
    )
    return body + hmac.new(key, body, _DIGEST).digest()


def decode(key: bytes, data: bytes) -> Message:
    """The message in ``data``; raises WireError unless it is well formed and its HMAC matches."""
    if len(data) < _HEADER.size + _MAC_LEN:
        raise WireError("datagram too short")
    body, mac = data[:-_MAC_LEN], data[-_MAC_LEN:]
    if not hmac.compare_digest(mac, hmac.new(key, body, _DIGEST).digest()):
        raise WireError("bad HMAC")
    magic, version, kind, incarnation, seq, sent_at_ns, name_len = _HEADER.unpack_from(body)
    if magic != MAGIC or version != VERSION:
        raise WireError(f"not a version {VERSION} heartbeat")
    if len(body) != _HEADER.size + name_len:
        raise WireError("name length does not match the datagram")
    try:
        return Message(Kind(kind), body[_HEADER.size :].decode(), incarnation, seq, sent_at_ns)
    except ValueError as err:  # unknown kind, name not UTF-8
        raise WireError(str(err)) from err
