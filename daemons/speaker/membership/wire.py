"""The membership datagram: a header, the sender's name, a kind-specific body, and an HMAC-SHA256.

``incarnation`` is the sender's life number (its start time in nanoseconds, so a restart counts
up, plus one for each refutation or rejoin) and ``seq`` counts up within it; together with
``sent_at_ns`` (the sender's wall clock) they let a receiver refuse replayed datagrams.

Version 2 (the ring protocol) adds JOIN, SUSPECT, DIGEST and ALIVE to version 1's HEARTBEAT,
LEAVE and HOLDS:

* SUSPECT names a ``subject`` and the ``subject_incarnation`` suspected;
* DIGEST carries ``entries``: every member the sender knows, with its incarnation and whether
  it is alive or dead (left counts as dead);
* HOLDS (non-revertive failback) carries ``holds``, the IPs its sender holds against the rank,
  each as a length byte (4 or 16) and the address; empty when it stopped holding any.

Version 1 (all-to-all heartbeats, the previous speaker) is still read and written, for peers not
yet upgraded (:attr:`Message.version`): its HEARTBEAT, LEAVE and HOLDS (kind 3 there) have the same
header and bodies.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import struct
from collections.abc import Iterable
from enum import IntEnum
from typing import NamedTuple

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPAddress

MAGIC = b"BMLB"
VERSION = 2
LEGACY_VERSION = 1  # all-to-all heartbeats: HEARTBEAT, LEAVE and HOLDS only
MAX_NAME = 253  # a Kubernetes node name is a DNS subdomain
MAX_DATAGRAM = 65507  # the largest UDP payload over IPv4

_HEADER = struct.Struct("!4sBBQQQB")
_SUBJECT = struct.Struct("!QB")  # incarnation, name length
_COUNT = struct.Struct("!H")
_ENTRY = struct.Struct("!QBB")  # incarnation, alive, name length
_MAC = "sha256"
_MAC_LEN = hashlib.sha256().digest_size


class Kind(IntEnum):
    """What a datagram says."""

    HEARTBEAT = 1  # I am alive (to the ring neighbours that watch me)
    LEAVE = 2  # I stop on purpose (to everyone)
    JOIN = 3  # I take part at this incarnation: a start or a rejoin (to everyone)
    SUSPECT = 4  # I have not heard subject at subject_incarnation for too long (to everyone)
    DIGEST = 5  # everything I know (to one member now and then, and to a joining neighbour)
    ALIVE = 6  # I am alive at this higher incarnation: a refutation (to everyone)
    HOLDS = 7  # I hold these IPs against the rank (to everyone, with each heartbeat while I do)


_LEGACY_CODES = {Kind.HEARTBEAT: 1, Kind.LEAVE: 2, Kind.HOLDS: 3}  # version 1's kind numbers
_LEGACY_KINDS = {code: kind for kind, code in _LEGACY_CODES.items()}


class DigestEntry(NamedTuple):
    """One member as a digest states it."""

    name: str
    incarnation: int
    alive: bool


class WireError(ValueError):
    """A datagram that is malformed or not authenticated by our key."""


class Message(NamedTuple):
    """One authenticated statement of a sender (a tuple: decoding one is cheap)."""

    kind: Kind
    sender: str
    incarnation: int
    seq: int
    sent_at_ns: int
    subject: str = ""
    subject_incarnation: int = 0
    entries: tuple[DigestEntry, ...] = ()
    holds: frozenset[IPAddress] = frozenset()
    version: int = VERSION


def encode(key: bytes, message: Message) -> bytes:
    """The datagram for ``message``, authenticated with ``key``."""
    name = _name(message.sender, "sender")
    if message.version == LEGACY_VERSION:
        if message.kind not in _LEGACY_CODES:
            raise ValueError(f"version 1 has no {message.kind.name}")
        code = _LEGACY_CODES[message.kind]
    elif message.version == VERSION:
        code = message.kind
    else:
        raise ValueError(f"no membership version {message.version}")
    parts = [
        _HEADER.pack(
            MAGIC,
            message.version,
            code,
            message.incarnation,
            message.seq,
            message.sent_at_ns,
            len(name),
        ),
        name,
    ]
    if message.kind is Kind.SUSPECT:
        subject = _name(message.subject, "subject")
        parts += [_SUBJECT.pack(message.subject_incarnation, len(subject)), subject]
    elif message.kind is Kind.DIGEST:
        parts.append(_COUNT.pack(len(message.entries)))
        for entry in message.entries:
            member = _name(entry.name, "member")
            parts += [_ENTRY.pack(entry.incarnation, int(entry.alive), len(member)), member]
    elif message.kind is Kind.HOLDS:
        parts.append(encode_holds(message.holds))
    body = b"".join(parts)
    if len(body) + _MAC_LEN > MAX_DATAGRAM:
        raise ValueError(f"a datagram of {len(body) + _MAC_LEN} bytes does not fit UDP")
    return body + hmac.digest(key, body, _MAC)


def decode(key: bytes, data: bytes) -> Message:
    """The message in ``data``; raises WireError unless it is well formed and its HMAC matches."""
    if len(data) < _HEADER.size + _MAC_LEN:
        raise WireError("datagram too short")
    body, mac = data[:-_MAC_LEN], data[-_MAC_LEN:]
    if not hmac.compare_digest(mac, hmac.digest(key, body, _MAC)):
        raise WireError("bad HMAC")
    magic, version, kind, incarnation, seq, sent_at_ns, name_len = _HEADER.unpack_from(body)
    if magic != MAGIC or version not in (VERSION, LEGACY_VERSION):
        raise WireError(f"not a version {VERSION} or {LEGACY_VERSION} membership datagram")
    if version == LEGACY_VERSION and kind not in _LEGACY_KINDS:
        raise WireError(f"version {LEGACY_VERSION} has no kind {kind}")
    try:
        reader = _Reader(body, _HEADER.size)
        sender = reader.text(name_len)
        message = Message(
            _LEGACY_KINDS[kind] if version == LEGACY_VERSION else Kind(kind),
            sender,
            incarnation,
            seq,
            sent_at_ns,
            version=version,
        )
        if message.kind is Kind.SUSPECT:
            subject_incarnation, subject_len = reader.unpack(_SUBJECT)
            subject = reader.text(subject_len)
            message = message._replace(subject=subject, subject_incarnation=subject_incarnation)
        elif message.kind is Kind.DIGEST:
            (count,) = reader.unpack(_COUNT)
            entries = []
            for _unused in range(count):
                member_incarnation, alive, member_len = reader.unpack(_ENTRY)
                entries.append(DigestEntry(reader.text(member_len), member_incarnation, bool(alive)))
            message = message._replace(entries=tuple(entries))
        elif message.kind is Kind.HOLDS:
            message = message._replace(holds=decode_holds(body[reader.offset :]))
            reader.offset = len(body)
    except (struct.error, ValueError) as err:  # truncated, unknown kind, name not UTF-8
        raise WireError(str(err)) from err
    if reader.offset != len(body):
        raise WireError("trailing bytes after the message")
    return message


class _Reader:
    """Sequential reads from a datagram body; short reads raise struct.error or ValueError."""

    def __init__(self, body: bytes, offset: int) -> None:
        self.body = body
        self.offset = offset

    def unpack(self, layout: struct.Struct) -> tuple[int, ...]:
        values = layout.unpack_from(self.body, self.offset)
        self.offset += layout.size
        return tuple(values)

    def text(self, length: int) -> str:
        end = self.offset + length
        if length == 0 or end > len(self.body):
            raise ValueError("name length does not match the datagram")
        value = self.body[self.offset : end].decode()
        self.offset = end
        return value


def _name(text: str, what: str) -> bytes:
    raw = text.encode()
    if not raw or len(raw) > MAX_NAME:
        raise ValueError(f"{what} name of {len(raw)} bytes (want 1..{MAX_NAME})")
    return raw


def encode_holds(ips: Iterable[IPAddress]) -> bytes:
    """The body of a HOLDS datagram for ``ips``, in a stable order."""
    return b"".join(bytes([len(packed)]) + packed for packed in sorted(ip.packed for ip in ips))


def decode_holds(body: bytes) -> frozenset[IPAddress]:
    """The IPs of a HOLDS body; raises WireError when it is malformed."""
    ips = set()
    at = 0
    while at < len(body):
        size = body[at]
        packed = body[at + 1 : at + 1 + size]
        if size not in {4, 16} or len(packed) != size:
            raise WireError(f"bad address of {size} bytes in a HOLDS body")
        ips.add(ipaddress.ip_address(packed))
        at += 1 + size
    return frozenset(ips)
