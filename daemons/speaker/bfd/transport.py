"""BFD for single-hop IPv4/IPv6 (RFC 5881): the sockets, nothing else.

* Receive: UDP port 3784 on the session's local address (one socket per local address and
  interface, shared by its sessions), with the received TTL / hop limit delivered alongside each
  packet (IP_RECVTTL / IPV6_RECVHOPLIMIT) so the caller can insist on 255 (§5).
* Send: one socket per session, bound to the local address and a source port picked from
  49152-65535 (§4: the same port for the whole session), TTL / hop limit 255.

Sockets are non-blocking; bound with IP_FREEBIND so a session can be set up while its address is
still being configured, and to the interface (SO_BINDTODEVICE) when one is given (needed for
IPv6 link-local peers).
"""

from __future__ import annotations

import ipaddress
import random
import socket
import struct
from dataclasses import dataclass

CONTROL_PORT = 3784
SOURCE_PORTS = (49152, 65535)
TTL = 255
_IP_RECVTTL = 12  # <linux/in.h>; not exported by Python's socket module
_IP_FREEBIND = 15
_PORT_ATTEMPTS = 64
_CMSG_SPACE = socket.CMSG_SPACE(4)
_MAX_PACKET = 512

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Datagram:
    """One received UDP payload with its sender and the TTL / hop limit it arrived with."""

    data: bytes
    source: IPAddress
    ttl: int | None  # None when the kernel gave no ancillary data (should not happen)


def sockaddr(
    address: IPAddress, port: int, interface: str | None = None
) -> tuple[str, int] | tuple[str, int, int, int]:
    """The address tuple for bind/sendto; IPv6 gets the interface's scope (link-local peers)."""
    if address.version == 4:
        return (str(address), port)
    scope = socket.if_nametoindex(interface) if interface else 0
    return (str(address), port, 0, scope)


def _socket(local: IPAddress, interface: str | None) -> socket.socket:
    family = socket.AF_INET if local.version == 4 else socket.AF_INET6
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_IP, _IP_FREEBIND, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if interface:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
    except OSError:
        sock.close()
        raise
    return sock


def open_receiver(local: IPAddress, interface: str | None = None) -> socket.socket:
    """A socket receiving BFD Control packets on ``local``:3784 with their TTL / hop limit."""
    sock = _socket(local, interface)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if local.version == 4:
            sock.setsockopt(socket.IPPROTO_IP, _IP_RECVTTL, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
        sock.bind(sockaddr(local, CONTROL_PORT, interface))
    except OSError:
        sock.close()
        raise
    return sock


def open_sender(
    local: IPAddress, interface: str | None = None, rng: random.Random | None = None
) -> socket.socket:
    """A socket sending one session's packets from ``local`` and a port in 49152-65535, TTL 255."""
    sock = _socket(local, interface)
    try:
        if local.version == 4:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, TTL)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, TTL)
        _bind_source_port(sock, local, interface, rng or random.Random())
    except OSError:
        sock.close()
        raise
    return sock


def _bind_source_port(
    sock: socket.socket, local: IPAddress, interface: str | None, rng: random.Random
) -> None:
    # Port 0 would take the kernel's ephemeral range (32768-60999 by default), not RFC 5881's.
    for _attempt in range(_PORT_ATTEMPTS):
        try:
            sock.bind(sockaddr(local, rng.randint(*SOURCE_PORTS), interface))
        except OSError as error:
            if error.errno != 98:  # EADDRINUSE: try another port
                raise
        else:
            return
    raise OSError(98, f"no free UDP source port in {SOURCE_PORTS[0]}-{SOURCE_PORTS[1]} on {local}")


def receive(sock: socket.socket) -> Datagram | None:
    """The next datagram waiting on a receiver socket; None when there is none."""
    try:
        data, ancillary, _flags, address = sock.recvmsg(_MAX_PACKET, _CMSG_SPACE)
    except (BlockingIOError, InterruptedError):
        return None
    ttl = None
    for level, kind, value in ancillary:
        if (level, kind) in ((socket.IPPROTO_IP, socket.IP_TTL), (socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT)):
            ttl = struct.unpack("=i", value[:4])[0]
    source = ipaddress.ip_address(address[0].split("%", 1)[0])
    return Datagram(data, source, ttl)
