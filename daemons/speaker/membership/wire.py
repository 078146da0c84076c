"""The membership datagram: a small header, the sender's name, a payload, and an HMAC-SHA256 over them.

Heartbeats and LEAVEs carry no payload. A HOLDS datagram (non-revertive failback) carries the
IPs its sender holds against the rank, each as a length byte (4 or 16) and the address; it is
sent only by a sender holding some (and twice when it stops holding any), so a domain without
non-revertive IPs sends exactly what it did before. A receiver of an older version refuses it
as malformed and keeps reading the sender's heartbeats: a rolling upgrade keeps liveness.

``incarnation`` is fixed for the life of a sender process (its start time in nanoseconds, so a
restart counts up) and ``seq`` counts up within it; together with ``sent_at_ns`` (the sender's
wall clock) they let a receiver refuse replayed datagrams.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPAddress

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
    HOLDS = 3


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
    payload: bytes = b""


def encode_holds(ips: Iterable[IPAddress]) -> bytes:
    """The payload of a HOLDS datagram for ``ips``, in a stable order."""
    return b"".join(bytes([len(packed)]) + packed for packed in sorted(ip.packed for ip in ips))


def decode_holds(payload: bytes) -> frozenset[IPAddress]:
    """The IPs of a HOLDS payload; raises WireError when it is malformed."""
    ips = set()
    at = 0
    while at < len(payload):
        size = payload[at]
        packed = payload[at + 1 : at + 1 + size]
        if size not in {4, 16} or len(packed) != size:
            raise WireError(f"bad address of {size} bytes in a HOLDS payload")
        ips.add(ipaddress.ip_address(packed))
        at += 1 + size
    return frozenset(ips)


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
        + message.payload
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
    end = _HEADER.size + name_len
    if len(body) < end:
        raise WireError("name length does not match the datagram")
    try:
        message = Message(
            Kind(kind), body[_HEADER.size : end].decode(), incarnation, seq, sent_at_ns, body[end:]
        )
    except ValueError as err:  # unknown kind, name not UTF-8
        raise WireError(str(err)) from err
    if message.payload and message.kind is not Kind.HOLDS:
        raise WireError(f"a {message.kind.name} carries no payload")
    return message
