"""ARP for IPv4 over Ethernet (RFC 826): packet codec, replies and gratuitous announcements."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from .ethernet import BROADCAST, ETH_P_ARP, ETH_P_IPV4, ZERO_MAC, EthernetFrame, FrameError

OP_REQUEST = 1
OP_REPLY = 2

_HTYPE_ETHERNET = 1
_PACKET = struct.Struct("!HHBBH6s4s6s4s")
_MIN_FRAME = 60  # Ethernet minimum without FCS; pad so no driver has to


@dataclass(frozen=True)
class ArpPacket:
    """An Ethernet/IPv4 ARP packet."""

    op: int
    sender_mac: bytes
    sender_ip: ipaddress.IPv4Address
    target_mac: bytes
    target_ip: ipaddress.IPv4Address

    def encode(self) -> bytes:
        """The 28-byte ARP payload."""
        return _PACKET.pack(
            _HTYPE_ETHERNET,
            ETH_P_IPV4,
            6,
            4,
            self.op,
            self.sender_mac,
            self.sender_ip.packed,
            self.target_mac,
            self.target_ip.packed,
        )

    @classmethod
    def decode(cls, payload: bytes) -> ArpPacket:
        """Parse an ARP payload; anything but Ethernet/IPv4 ARP raises FrameError."""
        if len(payload) < _PACKET.size:
            raise FrameError(f"{len(payload)} bytes is shorter than an Ethernet/IPv4 ARP packet")
        htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _PACKET.unpack_from(payload)
        if (htype, ptype, hlen, plen) != (_HTYPE_ETHERNET, ETH_P_IPV4, 6, 4):
            raise FrameError(f"ARP for hardware {htype}/{hlen} and protocol {ptype:#x}/{plen}")
        return cls(op, sha, ipaddress.IPv4Address(spa), tha, ipaddress.IPv4Address(tpa))

    @property
    def is_gratuitous(self) -> bool:
        """True for an announcement (sender IP equals target IP), which must never be answered."""
        return self.sender_ip == self.target_ip


def frame(dst: bytes, src: bytes, packet: ArpPacket) -> bytes:
    """An ARP packet in an Ethernet frame, padded to the Ethernet minimum length."""
    data = EthernetFrame(dst, src, ETH_P_ARP, packet.encode()).encode()
    return data.ljust(_MIN_FRAME, b"\x00")


def parse_frame(data: bytes) -> tuple[EthernetFrame, ArpPacket]:
    """Decode an Ethernet frame carrying ARP; other EtherTypes raise FrameError."""
    eth = EthernetFrame.decode(data)
    if eth.ethertype != ETH_P_ARP:
        raise FrameError(f"EtherType {eth.ethertype:#06x} is not ARP")
    return eth, ArpPacket.decode(eth.payload)


def reply_frame(request: ArpPacket, our_mac: bytes) -> bytes:
    """The reply to ``request`` saying its target IP is at ``our_mac``, sent to the asker."""
    reply = ArpPacket(OP_REPLY, our_mac, request.target_ip, request.sender_mac, request.sender_ip)
    return frame(request.sender_mac, our_mac, reply)


def gratuitous_frames(ip: ipaddress.IPv4Address, our_mac: bytes) -> tuple[bytes, bytes]:
    """A gratuitous ARP request and reply (sender = target = ``ip``), both broadcast.

    Hosts differ in which of the two they honour, so both go out.
    """
    request = ArpPacket(OP_REQUEST, our_mac, ip, ZERO_MAC, ip)
    reply = ArpPacket(OP_REPLY, our_mac, ip, BROADCAST, ip)
    return frame(BROADCAST, our_mac, request), frame(BROADCAST, our_mac, reply)


def request_frame(our_mac: bytes, our_ip: ipaddress.IPv4Address, target: ipaddress.IPv4Address) -> bytes:
    """A broadcast "who has ``target``" request, as a host sends it."""
    return frame(BROADCAST, our_mac, ArpPacket(OP_REQUEST, our_mac, our_ip, ZERO_MAC, target))


UNSPECIFIED = ipaddress.IPv4Address("0.0.0.0")


def probe_frame(our_mac: bytes, target: ipaddress.IPv4Address) -> bytes:
    """An ARP probe for ``target`` (RFC 5227 §2.1.1): a broadcast request with sender IP 0.0.0.0.

    Asking with the unspecified sender touches no neighbour table, so probing for an address
    never claims it; any host holding ``target`` answers.
    """
    return frame(BROADCAST, our_mac, ArpPacket(OP_REQUEST, our_mac, UNSPECIFIED, ZERO_MAC, target))
