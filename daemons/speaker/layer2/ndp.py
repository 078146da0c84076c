"""IPv6 Neighbor Discovery over Ethernet (RFC 4861): solicitations and advertisements.

Builds and parses whole frames (Ethernet + IPv6 + ICMPv6) including the ICMPv6 checksum
over the IPv6 pseudo-header and the link-layer address options.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Union

from .ethernet import ETH_P_IPV6, EthernetFrame, FrameError, ipv6_multicast_mac, solicited_node_address

ICMPV6 = 58
TYPE_NS = 135
TYPE_NA = 136
HOP_LIMIT = 255  # RFC 4861 §7.1.1: anything else may have crossed a router and is dropped

OPT_SOURCE_LL = 1
OPT_TARGET_LL = 2

FLAG_ROUTER = 0x80000000
FLAG_SOLICITED = 0x40000000
FLAG_OVERRIDE = 0x20000000

ALL_NODES = ipaddress.IPv6Address("ff02::1")
UNSPECIFIED = ipaddress.IPv6Address("::")

_IPV6_HEADER = struct.Struct("!IHBB16s16s")
_ND_BODY = struct.Struct("!BBHI16s")  # type, code, checksum, reserved-or-flags, target
_PSEUDO_TAIL = struct.Struct("!I3xB")


@dataclass(frozen=True)
class NeighborSolicitation:
    """Who has ``target``? ``source_mac`` is the asker's source link-layer address option."""

    target: ipaddress.IPv6Address
    source_mac: bytes | None = None


@dataclass(frozen=True)
class NeighborAdvertisement:
    """``target`` is at ``target_mac``; the flags say how the receiver treats the news."""

    target: ipaddress.IPv6Address
    target_mac: bytes | None
    solicited: bool
    override: bool
    router: bool = False


# Union, not `|`: ansible-test's pylint misreads `|` between classes outside annotations.
NdMessage = Union[NeighborSolicitation, NeighborAdvertisement]  # noqa: UP007


@dataclass(frozen=True)
class NdPacket:
    """A parsed ND frame: who sent it (MAC and IPv6), to whom, and the message."""

    eth_src: bytes
    src: ipaddress.IPv6Address
    dst: ipaddress.IPv6Address
    message: NdMessage


def checksum(src: ipaddress.IPv6Address, dst: ipaddress.IPv6Address, icmp: bytes) -> int:
    """The ICMPv6 checksum of ``icmp`` (checksum field zeroed) over the IPv6 pseudo-header."""
    data = src.packed + dst.packed + _PSEUDO_TAIL.pack(len(icmp), ICMPV6) + icmp
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def encode_icmp(src: ipaddress.IPv6Address, dst: ipaddress.IPv6Address, message: NdMessage) -> bytes:
    """The ICMPv6 bytes of a solicitation or advertisement, checksum filled in."""
    if isinstance(message, NeighborSolicitation):
        kind, word, opt, mac = TYPE_NS, 0, OPT_SOURCE_LL, message.source_mac
    else:
        word = (
            (FLAG_ROUTER if message.router else 0)
            | (FLAG_SOLICITED if message.solicited else 0)
            | (FLAG_OVERRIDE if message.override else 0)
        )
        kind, opt, mac = TYPE_NA, OPT_TARGET_LL, message.target_mac
    options = bytes([opt, 1]) + mac if mac is not None else b""
    body = _ND_BODY.pack(kind, 0, 0, word, message.target.packed) + options
    csum = checksum(src, dst, body)
    return body[:2] + struct.pack("!H", csum) + body[4:]


def encode_frame(
    eth_dst: bytes,
    eth_src: bytes,
    src: ipaddress.IPv6Address,
    dst: ipaddress.IPv6Address,
    message: NdMessage,
) -> bytes:
    """A whole Ethernet frame carrying an ND message with hop limit 255."""
    icmp = encode_icmp(src, dst, message)
    ip6 = _IPV6_HEADER.pack(6 << 28, len(icmp), ICMPV6, HOP_LIMIT, src.packed, dst.packed)
    return EthernetFrame(eth_dst, eth_src, ETH_P_IPV6, ip6 + icmp).encode()


def parse_frame(data: bytes) -> NdPacket:
    """Decode and validate an ND frame (hop limit, checksum, code, options) or raise FrameError."""
    eth = EthernetFrame.decode(data)
    if eth.ethertype != ETH_P_IPV6 or len(eth.payload) < _IPV6_HEADER.size:
        raise FrameError("not an IPv6 frame")
    vtf, plen, next_header, hop_limit, src_b, dst_b = _IPV6_HEADER.unpack_from(eth.payload)
    if vtf >> 28 != 6 or next_header != ICMPV6:
        raise FrameError("not a bare ICMPv6 packet")
    if hop_limit != HOP_LIMIT:
        raise FrameError(f"hop limit {hop_limit}, neighbour discovery needs {HOP_LIMIT}")
    icmp = eth.payload[_IPV6_HEADER.size : _IPV6_HEADER.size + plen]
    if len(icmp) != plen or plen < _ND_BODY.size:
        raise FrameError("truncated ICMPv6 message")
    src, dst = ipaddress.IPv6Address(src_b), ipaddress.IPv6Address(dst_b)
    kind, code, _unused, word, target_b = _ND_BODY.unpack_from(icmp)
    if kind not in (TYPE_NS, TYPE_NA) or code != 0:
        raise FrameError(f"ICMPv6 type {kind} code {code} is not neighbour discovery")
    if checksum(src, dst, icmp[:2] + b"\x00\x00" + icmp[4:]) != struct.unpack_from("!H", icmp, 2)[0]:
        raise FrameError("bad ICMPv6 checksum")
    options = _parse_options(icmp[_ND_BODY.size :])
    target = ipaddress.IPv6Address(target_b)
    message: NdMessage
    if kind == TYPE_NS:
        message = NeighborSolicitation(target, options.get(OPT_SOURCE_LL))
    else:
        message = NeighborAdvertisement(
            target,
            options.get(OPT_TARGET_LL),
            solicited=bool(word & FLAG_SOLICITED),
            override=bool(word & FLAG_OVERRIDE),
            router=bool(word & FLAG_ROUTER),
        )
    return NdPacket(eth.src, src, dst, message)


def solicitation_frame(our_mac: bytes, src: ipaddress.IPv6Address, target: ipaddress.IPv6Address) -> bytes:
    """A multicast solicitation for ``target`` to its solicited-node group, as a host sends it."""
    group = solicited_node_address(target)
    source_mac = None if src == UNSPECIFIED else our_mac
    return encode_frame(
        ipv6_multicast_mac(group), our_mac, src, group, NeighborSolicitation(target, source_mac)
    )


def reply_frame(request: NdPacket, solicitation: NeighborSolicitation, our_mac: bytes) -> bytes:
    """The advertisement answering ``solicitation`` (the message of ``request``).

    Its source is the target address itself, as from a host that holds the address (Linux
    does the same; ndisc6 ignores answers from any other source). Override is set: exactly
    one node announces an IP, and a client whose cache still holds the previous owner must
    switch. A solicitation from the unspecified address (duplicate
    address detection) is answered to all-nodes without the Solicited flag (RFC 4861 §7.2.4).
    """
    target = solicitation.target
    if request.src == UNSPECIFIED:
        advert = NeighborAdvertisement(target, our_mac, solicited=False, override=True)
        return encode_frame(ipv6_multicast_mac(ALL_NODES), our_mac, target, ALL_NODES, advert)
    eth_dst = solicitation.source_mac or request.eth_src
    advert = NeighborAdvertisement(target, our_mac, solicited=True, override=True)
    return encode_frame(eth_dst, our_mac, target, request.src, advert)


def unsolicited_advertisement_frame(ip: ipaddress.IPv6Address, our_mac: bytes) -> bytes:
    """An unsolicited advertisement of ``ip``, from ``ip``, to all nodes: Override set, Solicited clear."""
    advert = NeighborAdvertisement(ip, our_mac, solicited=False, override=True)
    return encode_frame(ipv6_multicast_mac(ALL_NODES), our_mac, ip, ALL_NODES, advert)


def _parse_options(data: bytes) -> dict[int, bytes]:
    options: dict[int, bytes] = {}
    while data:
        if len(data) < 2 or data[1] == 0 or len(data) < data[1] * 8:
            raise FrameError("malformed neighbour discovery option")
        kind, size = data[0], data[1] * 8
        if kind in (OPT_SOURCE_LL, OPT_TARGET_LL):
            options[kind] = data[2:8]
        data = data[size:]
    return options
