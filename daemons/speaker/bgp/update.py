"""BGP UPDATE messages (RFC 4271 §4.3).

With MP-BGP (RFC 4760), 4-octet AS paths (RFC 6793), communities (RFC 1997) and large
communities (RFC 8092).

Encoding packs as many prefixes as fit in one 4096-byte message (:func:`announcements`,
:func:`withdrawals`); :func:`end_of_rib` builds the End-of-RIB marker of a family (RFC 4724).
Decoding follows RFC 7606: errors confined to an attribute turn the UPDATE into a withdrawal of
its routes (the result carries the :class:`.errors.TreatAsWithdraw` in ``error``); errors that
leave the message unparseable raise :class:`.errors.BGPError` to reset the session.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network
from typing import Any

from . import errors
from .errors import BGPError, TreatAsWithdraw
from .messages import (
    AFI_IPV4,
    AFI_IPV6,
    AS_TRANS,
    IPV4_UNICAST,
    MAX_LENGTH,
    UPDATE,
    Family,
    check_length,
    frame,
)

Network = IPv4Network | IPv6Network

OPTIONAL, TRANSITIVE, PARTIAL, EXTENDED = 0x80, 0x40, 0x20, 0x10
ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF = 1, 2, 3, 4, 5
ATOMIC_AGGREGATE, AGGREGATOR, COMMUNITIES = 6, 7, 8
MP_REACH_NLRI, MP_UNREACH_NLRI, AS4_PATH, AS4_AGGREGATOR, LARGE_COMMUNITIES = 14, 15, 17, 18, 32
ORIGIN_IGP, ORIGIN_EGP, ORIGIN_INCOMPLETE = 0, 1, 2
AS_SET, AS_SEQUENCE = 1, 2

_WELL_KNOWN = {ORIGIN, AS_PATH, NEXT_HOP, LOCAL_PREF, ATOMIC_AGGREGATE}


@dataclass(frozen=True)
class AsPathSegment:
    """One AS_PATH segment: AS_SEQUENCE or AS_SET with its AS numbers."""

    kind: int
    asns: tuple[int, ...]


@dataclass(frozen=True)
class Attributes:
    """The path attributes of an UPDATE that this speaker writes or reads."""

    origin: int = ORIGIN_IGP
    as_path: tuple[AsPathSegment, ...] = ()
    next_hop: IPv4Address | None = None
    med: int | None = None
    local_pref: int | None = None
    communities: tuple[int, ...] = ()
    large_communities: tuple[tuple[int, int, int], ...] = ()


@dataclass(frozen=True)
class MpReach:
    """MP_REACH_NLRI: a family, its next hops (global, optionally link-local) and prefixes."""

    family: Family
    next_hops: tuple[IPv4Address | IPv6Address, ...]
    nlri: tuple[Network, ...]


@dataclass(frozen=True)
class MpUnreach:
    """MP_UNREACH_NLRI: the withdrawn prefixes of a family."""

    family: Family
    withdrawn: tuple[Network, ...]


@dataclass(frozen=True)
class Update:
    """An UPDATE message, decoded or to encode.

    ``error`` is set when RFC 7606 turned a malformed UPDATE into a withdrawal: its NLRI then
    appear among the withdrawn prefixes.
    """

    withdrawn: tuple[Network, ...] = ()
    attributes: Attributes | None = None
    nlri: tuple[Network, ...] = ()
    mp_reach: MpReach | None = None
    mp_unreach: MpUnreach | None = None
    error: TreatAsWithdraw | None = None

    @property
    def end_of_rib(self) -> Family | None:
        """The family whose End-of-RIB this is, or None."""
        if self.withdrawn or self.nlri or self.mp_reach:
            return None
        if self.mp_unreach is not None:
            return (
                self.mp_unreach.family if not self.mp_unreach.withdrawn and self.attributes is None else None
            )
        return IPV4_UNICAST if self.attributes is None else None


# ---------------------------------------------------------------------------------------- encoding


def _attribute(flags: int, kind: int, value: bytes) -> bytes:
    if len(value) > 255 or flags & EXTENDED:
        return struct.pack("!BBH", flags | EXTENDED, kind, len(value)) + value
    return struct.pack("!BBB", flags, kind, len(value)) + value


def _as_path(segments: Sequence[AsPathSegment], four_octet: bool) -> bytes:
    out = b""
    for seg in segments:
        if four_octet:
            out += struct.pack(f"!BB{len(seg.asns)}I", seg.kind, len(seg.asns), *seg.asns)
        else:
            asns = [a if a <= 0xFFFF else AS_TRANS for a in seg.asns]
            out += struct.pack(f"!BB{len(asns)}H", seg.kind, len(asns), *asns)
    return out


def encode_prefix(prefix: Network) -> bytes:
    """One NLRI entry: the prefix length and the significant octets."""
    octets = (prefix.prefixlen + 7) // 8
    return bytes([prefix.prefixlen]) + prefix.network_address.packed[:octets]


def _encode_attributes(attrs: Attributes, four_octet: bool) -> bytes:
    out = _attribute(TRANSITIVE, ORIGIN, bytes([attrs.origin]))
    out += _attribute(TRANSITIVE, AS_PATH, _as_path(attrs.as_path, four_octet))
    if not four_octet and any(a > 0xFFFF for seg in attrs.as_path for a in seg.asns):
        out += _attribute(OPTIONAL | TRANSITIVE, AS4_PATH, _as_path(attrs.as_path, True))
    if attrs.next_hop is not None:
        out += _attribute(TRANSITIVE, NEXT_HOP, attrs.next_hop.packed)
    if attrs.med is not None:
        out += _attribute(OPTIONAL, MED, struct.pack("!I", attrs.med))
    if attrs.local_pref is not None:
        out += _attribute(TRANSITIVE, LOCAL_PREF, struct.pack("!I", attrs.local_pref))
    if attrs.communities:
        value = struct.pack(f"!{len(attrs.communities)}I", *attrs.communities)
        out += _attribute(OPTIONAL | TRANSITIVE, COMMUNITIES, value)
    if attrs.large_communities:
        value = b"".join(struct.pack("!III", *c) for c in attrs.large_communities)
        out += _attribute(OPTIONAL | TRANSITIVE, LARGE_COMMUNITIES, value)
    return out


def _mp_reach(reach: MpReach) -> bytes:
    afi, safi = reach.family
    hops = b"".join(h.packed for h in reach.next_hops)
    value = (
        struct.pack("!HBB", afi, safi, len(hops)) + hops + b"\0" + b"".join(map(encode_prefix, reach.nlri))
    )
    return _attribute(OPTIONAL | EXTENDED, MP_REACH_NLRI, value)


def _mp_unreach(unreach: MpUnreach) -> bytes:
    afi, safi = unreach.family
    value = struct.pack("!HB", afi, safi) + b"".join(map(encode_prefix, unreach.withdrawn))
    return _attribute(OPTIONAL | EXTENDED, MP_UNREACH_NLRI, value)


def encode_update(update: Update, four_octet: bool = True) -> bytes:
    """One UPDATE message (the caller keeps it within 4096 bytes; see :func:`announcements`)."""
    withdrawn = b"".join(map(encode_prefix, update.withdrawn))
    attrs = b""
    if update.mp_unreach is not None:
        attrs += _mp_unreach(update.mp_unreach)
    if update.attributes is not None:
        attrs += _encode_attributes(update.attributes, four_octet)
    if update.mp_reach is not None:
        attrs += _mp_reach(update.mp_reach)
    nlri = b"".join(map(encode_prefix, update.nlri))
    body = struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(attrs)) + attrs + nlri
    return frame(UPDATE, body)


def _packed(prefixes: Iterable[Network], room: int) -> list[list[Network]]:
    """Prefixes split into groups whose encodings fit in ``room`` bytes each."""
    groups: list[list[Network]] = [[]]
    used = 0
    for prefix in prefixes:
        size = 1 + (prefix.prefixlen + 7) // 8
        if used + size > room and groups[-1]:
            groups.append([])
            used = 0
        groups[-1].append(prefix)
        used += size
    return [g for g in groups if g]


def announcements(
    family: Family,
    attrs: Attributes,
    next_hops: Sequence[IPv4Address | IPv6Address],
    prefixes: Sequence[Network],
    four_octet: bool = True,
) -> list[bytes]:
    """UPDATE messages announcing ``prefixes`` with the same attributes, as few as fit.

    IPv4 unicast uses NEXT_HOP and the classic NLRI field; other families MP_REACH_NLRI.
    """
    if family == IPV4_UNICAST:
        hop = next_hops[0]
        assert isinstance(hop, IPv4Address)
        template = Update(attributes=replace(attrs, next_hop=hop))
        room = MAX_LENGTH - len(encode_update(template, four_octet))
        return [encode_update(replace(template, nlri=tuple(g)), four_octet) for g in _packed(prefixes, room)]
    template = Update(attributes=attrs, mp_reach=MpReach(family, tuple(next_hops), ()))
    room = MAX_LENGTH - len(encode_update(template, four_octet))
    return [
        encode_update(replace(template, mp_reach=MpReach(family, tuple(next_hops), tuple(g))), four_octet)
        for g in _packed(prefixes, room)
    ]


def withdrawals(family: Family, prefixes: Sequence[Network]) -> list[bytes]:
    """UPDATE messages withdrawing ``prefixes``, as few as fit."""
    if family == IPV4_UNICAST:
        room = MAX_LENGTH - len(encode_update(Update()))
        return [encode_update(Update(withdrawn=tuple(g))) for g in _packed(prefixes, room)]
    room = MAX_LENGTH - len(encode_update(Update(mp_unreach=MpUnreach(family, ()))))
    return [encode_update(Update(mp_unreach=MpUnreach(family, tuple(g)))) for g in _packed(prefixes, room)]


def end_of_rib(family: Family) -> bytes:
    """The End-of-RIB marker of a family: an empty UPDATE (IPv4) or an empty MP_UNREACH_NLRI."""
    return encode_update(Update() if family == IPV4_UNICAST else Update(mp_unreach=MpUnreach(family, ())))


# ---------------------------------------------------------------------------------------- decoding


def decode_prefixes(data: bytes, afi: int, code: int, subcode: int) -> tuple[Network, ...]:
    """A run of NLRI entries; malformed entries raise the given NOTIFICATION."""
    width = 32 if afi == AFI_IPV4 else 128
    out: list[Network] = []
    pos = 0
    while pos < len(data):
        length = data[pos]
        octets = (length + 7) // 8
        if length > width or pos + 1 + octets > len(data):
            raise BGPError(code, subcode, detail=f"prefix length {length} at offset {pos}")
        raw = data[pos + 1 : pos + 1 + octets] + b"\0" * (width // 8 - octets)
        address = IPv4Address(raw) if afi == AFI_IPV4 else IPv6Address(raw)
        out.append(ip_network(f"{address}/{length}", strict=False))
        pos += 1 + octets
    return tuple(out)


def _segments(value: bytes, width: int) -> tuple[AsPathSegment, ...]:
    segments: list[AsPathSegment] = []
    pos = 0
    fmt = "!I" if width == 4 else "!H"
    while pos < len(value):
        if pos + 2 > len(value):
            raise TreatAsWithdraw(errors.UPDATE_MESSAGE, errors.MALFORMED_AS_PATH, detail="truncated segment")
        kind, count = value[pos], value[pos + 1]
        end = pos + 2 + count * width
        if kind not in (AS_SET, AS_SEQUENCE, 3, 4) or count == 0 or end > len(value):
            raise TreatAsWithdraw(errors.UPDATE_MESSAGE, errors.MALFORMED_AS_PATH, detail=f"segment at {pos}")
        asns = tuple(struct.unpack(fmt, value[i : i + width])[0] for i in range(pos + 2, end, width))
        segments.append(AsPathSegment(kind, asns))
        pos = end
    return tuple(segments)


def _u32(value: bytes, subcode: int, name: str) -> int:
    if len(value) != 4:
        raise TreatAsWithdraw(errors.UPDATE_MESSAGE, subcode, detail=f"{name} length {len(value)}")
    return int(struct.unpack("!I", value)[0])


def _mp_reach_value(value: bytes) -> MpReach:
    if len(value) < 5:
        raise BGPError(
            errors.UPDATE_MESSAGE, errors.OPTIONAL_ATTRIBUTE_ERROR, detail="MP_REACH_NLRI too short"
        )
    afi, safi, hop_length = struct.unpack("!HBB", value[:4])
    if afi not in (AFI_IPV4, AFI_IPV6) or 4 + hop_length + 1 > len(value):
        raise BGPError(
            errors.UPDATE_MESSAGE, errors.OPTIONAL_ATTRIBUTE_ERROR, detail=f"MP_REACH_NLRI afi {afi}"
        )
    raw = value[4 : 4 + hop_length]
    hops: tuple[IPv4Address | IPv6Address, ...]
    if hop_length == 4:
        hops = (IPv4Address(raw),)
    elif hop_length in (16, 32):
        hops = tuple(IPv6Address(raw[i : i + 16]) for i in range(0, hop_length, 16))
    else:
        raise BGPError(
            errors.UPDATE_MESSAGE, errors.OPTIONAL_ATTRIBUTE_ERROR, detail=f"next hop length {hop_length}"
        )
    nlri = decode_prefixes(
        value[5 + hop_length :], afi, errors.UPDATE_MESSAGE, errors.OPTIONAL_ATTRIBUTE_ERROR
    )
    return MpReach((afi, safi), hops, nlri)


def _mp_unreach_value(value: bytes) -> MpUnreach:
    if len(value) < 3:
        raise BGPError(
            errors.UPDATE_MESSAGE, errors.OPTIONAL_ATTRIBUTE_ERROR, detail="MP_UNREACH_NLRI too short"
        )
    afi, safi = struct.unpack("!HB", value[:3])
    if afi not in (AFI_IPV4, AFI_IPV6):
        raise BGPError(
            errors.UPDATE_MESSAGE, errors.OPTIONAL_ATTRIBUTE_ERROR, detail=f"MP_UNREACH_NLRI afi {afi}"
        )
    withdrawn = decode_prefixes(value[3:], afi, errors.UPDATE_MESSAGE, errors.OPTIONAL_ATTRIBUTE_ERROR)
    return MpUnreach((afi, safi), withdrawn)


_EXPECTED_FLAGS = {
    ORIGIN: TRANSITIVE,
    AS_PATH: TRANSITIVE,
    NEXT_HOP: TRANSITIVE,
    MED: OPTIONAL,
    LOCAL_PREF: TRANSITIVE,
    COMMUNITIES: OPTIONAL | TRANSITIVE,
    LARGE_COMMUNITIES: OPTIONAL | TRANSITIVE,
    MP_REACH_NLRI: OPTIONAL,
    MP_UNREACH_NLRI: OPTIONAL,
}


class _AttributeReader:
    """Reads the path attributes field into fields of :class:`Attributes` and the MP attributes."""

    def __init__(self, four_octet: bool) -> None:
        self.four_octet = four_octet
        self.fields: dict[str, Any] = {}
        self.seen: set[int] = set()
        self.mp_reach: MpReach | None = None
        self.mp_unreach: MpUnreach | None = None
        self.problem: TreatAsWithdraw | None = None

    def read(self, data: bytes) -> None:
        pos = 0
        while pos < len(data):
            if pos + 3 > len(data):
                self._withdraw(errors.MALFORMED_ATTRIBUTE_LIST, "truncated attribute header")
                return
            flags, kind = data[pos], data[pos + 1]
            if flags & EXTENDED:
                if pos + 4 > len(data):
                    self._withdraw(errors.MALFORMED_ATTRIBUTE_LIST, "truncated attribute header")
                    return
                (length,) = struct.unpack("!H", data[pos + 2 : pos + 4])
                start = pos + 4
            else:
                length, start = data[pos + 2], pos + 3
            if start + length > len(data):
                if kind in (MP_REACH_NLRI, MP_UNREACH_NLRI):
                    raise BGPError(
                        errors.UPDATE_MESSAGE, errors.MALFORMED_ATTRIBUTE_LIST, detail="MP attribute overrun"
                    )
                self._withdraw(errors.ATTRIBUTE_LENGTH_ERROR, f"attribute {kind} overruns the attributes")
                return
            self._one(flags, kind, data[pos:start], data[start : start + length])
            pos = start + length

    def _withdraw(self, subcode: int, detail: str, data: bytes = b"") -> None:
        if self.problem is None:
            self.problem = TreatAsWithdraw(errors.UPDATE_MESSAGE, subcode, data, detail)

    def _one(self, flags: int, kind: int, header: bytes, value: bytes) -> None:
        if kind in (MP_REACH_NLRI, MP_UNREACH_NLRI) and kind in self.seen:
            raise BGPError(
                errors.UPDATE_MESSAGE, errors.MALFORMED_ATTRIBUTE_LIST, detail=f"repeated attribute {kind}"
            )
        if kind in self.seen:
            return  # RFC 7606 §3(g): keep the first, discard repeats
        self.seen.add(kind)
        expected = _EXPECTED_FLAGS.get(kind)
        if expected is not None and flags & (OPTIONAL | TRANSITIVE) != expected:
            if kind in (MP_REACH_NLRI, MP_UNREACH_NLRI):
                raise BGPError(errors.UPDATE_MESSAGE, errors.ATTRIBUTE_FLAGS_ERROR, header + value)
            self._withdraw(
                errors.ATTRIBUTE_FLAGS_ERROR, f"flags {flags:#x} of attribute {kind}", header + value
            )
            return
        try:
            self._value(kind, flags, value)
        except TreatAsWithdraw as problem:
            self._withdraw(problem.subcode, problem.detail, header + value)

    def _value(self, kind: int, flags: int, value: bytes) -> None:  # noqa: PLR0912 - one branch per attribute
        if kind == ORIGIN:
            if len(value) != 1 or value[0] > ORIGIN_INCOMPLETE:
                raise TreatAsWithdraw(
                    errors.UPDATE_MESSAGE, errors.INVALID_ORIGIN, detail=f"ORIGIN {value.hex()}"
                )
            self.fields["origin"] = value[0]
        elif kind == AS_PATH:
            self.fields["as_path"] = _segments(value, 4 if self.four_octet else 2)
        elif kind == NEXT_HOP:
            if len(value) != 4:
                raise TreatAsWithdraw(
                    errors.UPDATE_MESSAGE, errors.ATTRIBUTE_LENGTH_ERROR, detail="NEXT_HOP length"
                )
            hop = IPv4Address(value)
            if hop.is_unspecified or hop.is_multicast:
                raise TreatAsWithdraw(
                    errors.UPDATE_MESSAGE, errors.INVALID_NEXT_HOP, detail=f"NEXT_HOP {hop}"
                )
            self.fields["next_hop"] = hop
        elif kind == MED:
            self.fields["med"] = _u32(value, errors.ATTRIBUTE_LENGTH_ERROR, "MED")
        elif kind == LOCAL_PREF:
            self.fields["local_pref"] = _u32(value, errors.ATTRIBUTE_LENGTH_ERROR, "LOCAL_PREF")
        elif kind == COMMUNITIES:
            if not value or len(value) % 4:
                raise TreatAsWithdraw(
                    errors.UPDATE_MESSAGE, errors.OPTIONAL_ATTRIBUTE_ERROR, detail="COMMUNITIES"
                )
            self.fields["communities"] = struct.unpack(f"!{len(value) // 4}I", value)
        elif kind == LARGE_COMMUNITIES:
            if not value or len(value) % 12:
                raise TreatAsWithdraw(
                    errors.UPDATE_MESSAGE, errors.OPTIONAL_ATTRIBUTE_ERROR, detail="LARGE_COMMUNITY"
                )
            self.fields["large_communities"] = tuple(struct.iter_unpack("!III", value))
        elif kind == MP_REACH_NLRI:
            self.mp_reach = _mp_reach_value(value)
        elif kind == MP_UNREACH_NLRI:
            self.mp_unreach = _mp_unreach_value(value)
        elif kind not in _WELL_KNOWN and not flags & OPTIONAL:
            raise BGPError(
                errors.UPDATE_MESSAGE, errors.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE, detail=f"type {kind}"
            )
        # other optional attributes (AGGREGATOR, AS4_PATH, …) are accepted and not interpreted


def decode_update(body: bytes, four_octet: bool = True) -> Update:
    """Decode an UPDATE body (after the header) following RFC 4271 §6.3 and RFC 7606."""
    check_length(body, 4, "UPDATE")
    (withdrawn_length,) = struct.unpack("!H", body[:2])
    if 2 + withdrawn_length + 2 > len(body):
        raise BGPError(
            errors.UPDATE_MESSAGE, errors.MALFORMED_ATTRIBUTE_LIST, detail="withdrawn routes overrun"
        )
    withdrawn = decode_prefixes(
        body[2 : 2 + withdrawn_length], AFI_IPV4, errors.UPDATE_MESSAGE, errors.INVALID_NETWORK_FIELD
    )
    pos = 2 + withdrawn_length
    (attrs_length,) = struct.unpack("!H", body[pos : pos + 2])
    if pos + 2 + attrs_length > len(body):
        raise BGPError(
            errors.UPDATE_MESSAGE, errors.MALFORMED_ATTRIBUTE_LIST, detail="path attributes overrun"
        )
    reader = _AttributeReader(four_octet)
    reader.read(body[pos + 2 : pos + 2 + attrs_length])
    nlri = decode_prefixes(
        body[pos + 2 + attrs_length :], AFI_IPV4, errors.UPDATE_MESSAGE, errors.INVALID_NETWORK_FIELD
    )
    if reader.problem is None and (nlri or reader.mp_reach):
        needed = {ORIGIN, AS_PATH} | ({NEXT_HOP} if nlri else set())
        missing = sorted(needed - reader.seen)
        if missing:
            reader.problem = TreatAsWithdraw(
                errors.UPDATE_MESSAGE,
                errors.MISSING_WELL_KNOWN_ATTRIBUTE,
                bytes([missing[0]]),
                f"attribute {missing[0]}",
            )
    attributes = Attributes(**reader.fields) if reader.seen - {MP_REACH_NLRI, MP_UNREACH_NLRI} else None
    update = Update(withdrawn, attributes, nlri, reader.mp_reach, reader.mp_unreach)
    if reader.problem is None:
        return update
    unreach = reader.mp_unreach
    if reader.mp_reach is not None:
        gone = (unreach.withdrawn if unreach else ()) + reader.mp_reach.nlri
        unreach = MpUnreach(reader.mp_reach.family, gone)
    return Update(withdrawn + nlri, None, (), None, unreach, reader.problem)
