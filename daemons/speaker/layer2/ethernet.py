"""Ethernet framing and MAC address helpers shared by the ARP and NDP codecs."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

ETH_P_ALL = 0x0003
ETH_P_IPV4 = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD

HEADER_LEN = 14
BROADCAST = b"\xff" * 6
ZERO_MAC = b"\x00" * 6

_HEADER = struct.Struct("!6s6sH")


class FrameError(ValueError):
    """Bytes that do not hold the frame or packet the caller asked to decode."""


@dataclass(frozen=True)
class EthernetFrame:
    """An Ethernet II frame: two MACs, an EtherType and the payload after them."""

    dst: bytes
    src: bytes
    ethertype: int
    payload: bytes

    def encode(self) -> bytes:
        """The frame as bytes, without the FCS (the NIC adds it)."""
        return _HEADER.pack(self.dst, self.src, self.ethertype) + self.payload

    @classmethod
    def decode(cls, data: bytes) -> EthernetFrame:
        """Split raw frame bytes into header fields and payload."""
        if len(data) < HEADER_LEN:
            raise FrameError(f"{len(data)} bytes is shorter than an Ethernet header")
        dst, src, ethertype = _HEADER.unpack_from(data)
        return cls(dst, src, ethertype, data[HEADER_LEN:])


def mac_to_bytes(mac: str) -> bytes:
    """Six bytes from the usual colon-separated text form ``aa:bb:cc:dd:ee:ff``."""
    parts = mac.split(":")
    if len(parts) != 6:
        raise ValueError(f"{mac!r} is not a MAC address (want six colon-separated hex bytes)")
    return bytes(int(p, 16) for p in parts)


def mac_to_str(mac: bytes) -> str:
    """Colon-separated lower-case text form of six MAC bytes."""
    return ":".join(f"{b:02x}" for b in mac)


def solicited_node_address(ip: ipaddress.IPv6Address) -> ipaddress.IPv6Address:
    """The solicited-node multicast group of an IPv6 address (ff02::1:ffXX:XXXX, RFC 4291)."""
    low24 = int(ip) & 0xFFFFFF
    return ipaddress.IPv6Address(int(ipaddress.IPv6Address("ff02::1:ff00:0")) | low24)


def ipv6_multicast_mac(group: ipaddress.IPv6Address) -> bytes:
    """The Ethernet multicast MAC for an IPv6 multicast group: 33:33 + its low 32 bits (RFC 2464)."""
    return b"\x33\x33" + group.packed[12:]
