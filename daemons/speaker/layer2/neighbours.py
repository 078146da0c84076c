"""The kernel's neighbour table (ARP and NDP caches) of this namespace, read over rtnetlink.

The layer-2 engine heart-beats every peer speaker many times a second, so the kernel has
resolved the MAC of every on-link peer: that is how the engine tells one of its own speakers
answering for an IP (a hand-over in progress) from a foreign host.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from collections.abc import Iterator

_NETLINK_ROUTE = 0
_RTM_NEWNEIGH = 28
_RTM_GETNEIGH = 30
_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_NLM_F_REQUEST = 0x1
_NLM_F_DUMP = 0x300
_NDA_DST = 1
_NDA_LLADDR = 2
_NLMSG = struct.Struct("=IHHII")  # length, type, flags, sequence, port
_NDMSG = struct.Struct("=BBHiHBB")  # family, pads, ifindex, state, flags, type
_RTATTR = struct.Struct("=HH")
_MAX_REPLIES = 10_000  # datagrams read per dump: a bound, far above any real table


def neighbour_macs() -> dict[str, bytes]:
    """Every neighbour entry with a link-layer address: ``{ip text: mac}`` (IPv4 and IPv6)."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_ROUTE) as sock:
        sock.settimeout(2.0)
        sock.bind((0, 0))
        body = _NDMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0, 0, 0)
        sequence = os.getpid() & 0xFFFF
        flags = _NLM_F_REQUEST | _NLM_F_DUMP
        header = _NLMSG.pack(_NLMSG.size + len(body), _RTM_GETNEIGH, flags, sequence, 0)
        sock.send(header + body)
        found: dict[str, bytes] = {}
        for _unused in range(_MAX_REPLIES):
            data = sock.recv(65536)
            for kind, payload in _messages(data):
                if kind in (_NLMSG_DONE, _NLMSG_ERROR):
                    return found
                if kind == _RTM_NEWNEIGH:
                    entry = _entry(payload)
                    if entry is not None:
                        found[entry[0]] = entry[1]
        return found


def _messages(data: bytes) -> Iterator[tuple[int, bytes]]:
    offset = 0
    while offset + _NLMSG.size <= len(data):
        length, kind, _flags, _sequence, _port = _NLMSG.unpack_from(data, offset)
        if length < _NLMSG.size:
            return
        yield kind, data[offset + _NLMSG.size : offset + length]
        offset += (length + 3) & ~3


def _entry(payload: bytes) -> tuple[str, bytes] | None:
    if len(payload) < _NDMSG.size:
        return None
    offset = _NDMSG.size
    address: str | None = None
    mac: bytes | None = None
    while offset + _RTATTR.size <= len(payload):
        length, kind = _RTATTR.unpack_from(payload, offset)
        if length < _RTATTR.size:
            break
        value = payload[offset + _RTATTR.size : offset + length]
        if kind == _NDA_DST and len(value) in (4, 16):
            address = str(ipaddress.ip_address(value))
        elif kind == _NDA_LLADDR and len(value) == 6:
            mac = value
        offset += (length + 3) & ~3
    return (address, mac) if address is not None and mac is not None else None
