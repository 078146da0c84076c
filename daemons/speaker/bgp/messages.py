"""BGP-4 messages on the wire (RFC 4271 §4) other than UPDATE.

Header framing, OPEN with capabilities, KEEPALIVE, NOTIFICATION and ROUTE-REFRESH (RFC 2918);
UPDATE lives in :mod:`.update`.

Capabilities (RFC 5492): multiprotocol (RFC 4760), route refresh (RFC 2918), graceful restart
(RFC 4724) and 4-octet AS numbers (RFC 6793). Every decoder raises :class:`.errors.BGPError`
with the NOTIFICATION to send when the input is malformed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from . import errors
from .errors import BGPError

MARKER = b"\xff" * 16
HEADER_LENGTH = 19
MAX_LENGTH = 4096

OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE_REFRESH = 1, 2, 3, 4, 5

AFI_IPV4, AFI_IPV6, SAFI_UNICAST = 1, 2, 1
Family = tuple[int, int]
IPV4_UNICAST: Family = (AFI_IPV4, SAFI_UNICAST)
IPV6_UNICAST: Family = (AFI_IPV6, SAFI_UNICAST)

AS_TRANS = 23456
BGP_VERSION = 4

_CAP_PARAMETER = 2
CAP_MULTIPROTOCOL, CAP_ROUTE_REFRESH, CAP_GRACEFUL_RESTART, CAP_FOUR_OCTET_AS = 1, 2, 64, 65
_GR_RESTARTING = 0x8
_GR_FORWARDING = 0x80


def frame(kind: int, body: bytes = b"") -> bytes:
    """A whole message: marker, length, type and body."""
    return MARKER + struct.pack("!HB", HEADER_LENGTH + len(body), kind) + body


def parse_header(header: bytes) -> tuple[int, int]:
    """Check a 19-byte header; return (body length, message type)."""
    if len(header) != HEADER_LENGTH:
        raise BGPError(
            errors.MESSAGE_HEADER, errors.BAD_MESSAGE_LENGTH, detail=f"header of {len(header)} bytes"
        )
    if header[:16] != MARKER:
        raise BGPError(errors.MESSAGE_HEADER, errors.CONNECTION_NOT_SYNCHRONIZED, detail="marker")
    length, kind = struct.unpack("!HB", header[16:19])
    if not HEADER_LENGTH <= length <= MAX_LENGTH:
        raise BGPError(errors.MESSAGE_HEADER, errors.BAD_MESSAGE_LENGTH, header[16:18], f"length {length}")
    minimum = {OPEN: 29, UPDATE: 23, NOTIFICATION: 21, KEEPALIVE: 19, ROUTE_REFRESH: 23}.get(kind)
    if minimum is None:
        raise BGPError(errors.MESSAGE_HEADER, errors.BAD_MESSAGE_TYPE, bytes([kind]), f"type {kind}")
    if length < minimum or (kind == KEEPALIVE and length != HEADER_LENGTH):
        raise BGPError(errors.MESSAGE_HEADER, errors.BAD_MESSAGE_LENGTH, header[16:18], f"length {length}")
    return length - HEADER_LENGTH, kind


@dataclass(frozen=True)
class GracefulRestart:
    """The graceful-restart capability: restart time and the families whose forwarding survives."""

    restart_time: int
    forwarding: tuple[Family, ...] = ()
    restarting: bool = False


@dataclass(frozen=True)
class Capabilities:
    """What one side of a session announced in its OPEN."""

    families: tuple[Family, ...] = ()
    four_octet_asn: int | None = None
    route_refresh: bool = False
    graceful_restart: GracefulRestart | None = None
    others: tuple[int, ...] = ()


@dataclass(frozen=True)
class Open:
    """An OPEN message; ``asn`` is the real (possibly 4-octet) AS number."""

    asn: int
    hold_time: int
    router_id: IPv4Address
    capabilities: Capabilities = field(default_factory=Capabilities)


@dataclass(frozen=True)
class Keepalive:
    """A KEEPALIVE message."""


@dataclass(frozen=True)
class Notification:
    """A NOTIFICATION message."""

    code: int
    subcode: int = 0
    data: bytes = b""

    @property
    def reason(self) -> str:
        """The readable reason of this notification."""
        return errors.describe(self.code, self.subcode)


@dataclass(frozen=True)
class RouteRefresh:
    """A ROUTE-REFRESH request for one family."""

    family: Family


def _capability(code: int, value: bytes = b"") -> bytes:
    return struct.pack("!BB", code, len(value)) + value


def encode_capabilities(caps: Capabilities) -> bytes:
    """The capabilities as TLVs (without the optional-parameter wrapper)."""
    out = b"".join(
        _capability(CAP_MULTIPROTOCOL, struct.pack("!HBB", afi, 0, safi)) for afi, safi in caps.families
    )
    if caps.route_refresh:
        out += _capability(CAP_ROUTE_REFRESH)
    if caps.graceful_restart is not None:
        gr = caps.graceful_restart
        head = ((_GR_RESTARTING if gr.restarting else 0) << 12) | (gr.restart_time & 0xFFF)
        value = struct.pack("!H", head) + b"".join(
            struct.pack("!HBB", afi, safi, _GR_FORWARDING) for afi, safi in gr.forwarding
        )
        out += _capability(CAP_GRACEFUL_RESTART, value)
    if caps.four_octet_asn is not None:
        out += _capability(CAP_FOUR_OCTET_AS, struct.pack("!I", caps.four_octet_asn))
    return out


def encode_open(message: Open) -> bytes:
    """An OPEN message; AS_TRANS goes in the 2-octet field when the AS needs 4 octets."""
    two_octet = message.asn if message.asn <= 0xFFFF else AS_TRANS
    caps = encode_capabilities(message.capabilities)
    params = struct.pack("!BB", _CAP_PARAMETER, len(caps)) + caps if caps else b""
    body = struct.pack(
        "!BHH4sB", BGP_VERSION, two_octet, message.hold_time, message.router_id.packed, len(params)
    )
    return frame(OPEN, body + params)


def _decode_capabilities(data: bytes) -> Capabilities:
    families: list[Family] = []
    four_octet: int | None = None
    refresh = False
    restart: GracefulRestart | None = None
    others: list[int] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data) or pos + 2 + data[pos + 1] > len(data):
            raise BGPError(errors.OPEN_MESSAGE, 0, detail="capability overruns its parameter")
        code, length = data[pos], data[pos + 1]
        value = data[pos + 2 : pos + 2 + length]
        pos += 2 + length
        if code == CAP_MULTIPROTOCOL and length == 4:
            afi, _reserved, safi = struct.unpack("!HBB", value)
            families.append((afi, safi))
        elif code == CAP_FOUR_OCTET_AS and length == 4:
            four_octet = struct.unpack("!I", value)[0]
        elif code == CAP_ROUTE_REFRESH:
            refresh = True
        elif code == CAP_GRACEFUL_RESTART and length >= 2 and (length - 2) % 4 == 0:
            (head,) = struct.unpack("!H", value[:2])
            forwarding = tuple(
                (afi, safi)
                for afi, safi, flags in struct.iter_unpack("!HBB", value[2:])
                if flags & _GR_FORWARDING
            )
            restart = GracefulRestart(head & 0xFFF, forwarding, bool((head >> 12) & _GR_RESTARTING))
        elif code in (CAP_MULTIPROTOCOL, CAP_FOUR_OCTET_AS, CAP_GRACEFUL_RESTART):
            raise BGPError(errors.OPEN_MESSAGE, 0, detail=f"capability {code} has length {length}")
        else:
            others.append(code)
    return Capabilities(tuple(families), four_octet, refresh, restart, tuple(others))


def decode_open(body: bytes) -> Open:
    """Decode an OPEN body (after the header); checks version, hold time and identifier."""
    check_length(body, 10, "OPEN")
    version, two_octet, hold, router_id, params_length = struct.unpack("!BHH4sB", body[:10])
    if version != BGP_VERSION:
        raise BGPError(errors.OPEN_MESSAGE, errors.UNSUPPORTED_VERSION, struct.pack("!H", BGP_VERSION))
    if hold in (1, 2):
        raise BGPError(errors.OPEN_MESSAGE, errors.UNACCEPTABLE_HOLD_TIME, detail=f"hold time {hold}")
    if router_id == b"\0\0\0\0":
        raise BGPError(errors.OPEN_MESSAGE, errors.BAD_BGP_IDENTIFIER, detail="identifier 0.0.0.0")
    params = body[10:]
    if len(params) != params_length:
        raise BGPError(errors.MESSAGE_HEADER, errors.BAD_MESSAGE_LENGTH, detail="OPEN parameters length")
    cap_bytes = b""
    pos = 0
    while pos < len(params):
        if pos + 2 > len(params) or pos + 2 + params[pos + 1] > len(params):
            raise BGPError(errors.OPEN_MESSAGE, 0, detail="optional parameter overruns the message")
        kind, length = params[pos], params[pos + 1]
        if kind != _CAP_PARAMETER:
            raise BGPError(
                errors.OPEN_MESSAGE, errors.UNSUPPORTED_OPTIONAL_PARAMETER, detail=f"parameter {kind}"
            )
        cap_bytes += params[pos + 2 : pos + 2 + length]
        pos += 2 + length
    caps = _decode_capabilities(cap_bytes)
    asn = caps.four_octet_asn if caps.four_octet_asn is not None else two_octet
    return Open(asn, hold, IPv4Address(router_id), caps)


def check_length(body: bytes, minimum: int, kind: str) -> None:
    """Refuse a body shorter than its fixed part (:func:`parse_header` already does, from the stream)."""
    if len(body) < minimum:
        length = (HEADER_LENGTH + len(body)).to_bytes(2, "big")
        raise BGPError(
            errors.MESSAGE_HEADER, errors.BAD_MESSAGE_LENGTH, length, f"{kind} body of {len(body)} bytes"
        )


def encode_keepalive() -> bytes:
    """A KEEPALIVE message."""
    return frame(KEEPALIVE)


def encode_notification(message: Notification) -> bytes:
    """A NOTIFICATION message."""
    return frame(NOTIFICATION, struct.pack("!BB", message.code, message.subcode) + message.data)


def decode_notification(body: bytes) -> Notification:
    """Decode a NOTIFICATION body."""
    check_length(body, 2, "NOTIFICATION")
    return Notification(body[0], body[1], bytes(body[2:]))


def encode_route_refresh(message: RouteRefresh) -> bytes:
    """A ROUTE-REFRESH message."""
    afi, safi = message.family
    return frame(ROUTE_REFRESH, struct.pack("!HBB", afi, 0, safi))


def decode_route_refresh(body: bytes) -> RouteRefresh:
    """Decode a ROUTE-REFRESH body."""
    if len(body) != 4:
        raise BGPError(errors.ROUTE_REFRESH_MESSAGE, 1, detail=f"length {len(body)}")
    afi, _reserved, safi = struct.unpack("!HBB", body)
    return RouteRefresh((afi, safi))
