"""The TCP side of a BGP session: source address, TTL, TCP MD5 (RFC 2385) and the connect itself."""

from __future__ import annotations

import asyncio
import socket
import struct
from ipaddress import ip_address

TCP_MD5SIG = 14  # linux/tcp.h
_MD5_KEY_MAX = 80
_SOCKADDR_STORAGE = 128
BGP_TTL = 255


def md5sig(peer: str, password: str) -> bytes:
    """The 216-byte ``struct tcp_md5sig`` that sets (or, with an empty password, clears) a peer's key."""
    key = password.encode()
    if len(key) > _MD5_KEY_MAX:
        raise ValueError(f"TCP MD5 keys hold at most {_MD5_KEY_MAX} bytes")
    address = ip_address(peer)
    if address.version == 4:
        sockaddr = struct.pack("=HH4s", socket.AF_INET, 0, address.packed)
    else:
        sockaddr = struct.pack("=HHI16sI", socket.AF_INET6, 0, 0, address.packed, 0)
    return (
        sockaddr.ljust(_SOCKADDR_STORAGE, b"\0")
        + struct.pack("=BBHI", 0, 0, len(key), 0)
        + key.ljust(_MD5_KEY_MAX, b"\0")
    )


def set_md5(sock: socket.socket, peer: str, password: str) -> None:
    """Install (or clear) the TCP MD5 key for ``peer`` on a socket: before connect, or on a listener."""
    sock.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG, md5sig(peer, password))


def bgp_socket(peer: str, source: str | None, password: str, ttl: int = BGP_TTL) -> socket.socket:
    """A non-blocking TCP socket for ``peer``: bound to ``source``, TTL set, MD5 key installed."""
    family = socket.AF_INET if ip_address(peer).version == 4 else socket.AF_INET6
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        if family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if password:
            set_md5(sock, peer, password)
        if source:
            sock.bind((source, 0))
    except BaseException:
        sock.close()
        raise
    return sock


async def connect(
    peer: str, port: int, source: str | None, password: str, *, timeout: float, ttl: int = BGP_TTL
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open the session's TCP connection; OSError or TimeoutError when it does not come up in time."""
    sock = bgp_socket(peer, source, password, ttl)
    try:
        async with asyncio.timeout(timeout):
            await asyncio.get_running_loop().sock_connect(sock, (peer, port))
        return await asyncio.open_connection(sock=sock)
    except BaseException:
        sock.close()
        raise


def listening_socket(address: str, port: int) -> socket.socket:
    """A non-blocking listener for peers that connect first (MD5 keys are added per peer)."""
    family = socket.AF_INET if ip_address(address).version == 4 else socket.AF_INET6
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.setblocking(False)
        sock.bind((address, port))
        sock.listen(16)
    except BaseException:
        sock.close()
        raise
    return sock
