"""The node's own addresses of the other family on the interface a session uses.

A route whose next hop is left to the session takes the session's local address of the route's
family: the socket's own address when the families match, otherwise an address of that family
on the same interface (IPv6 from ``/proc/net/if_inet6``, IPv4 through ``SIOCGIFADDR``, which
sees each interface's primary IPv4 address).
"""

from __future__ import annotations

import fcntl
import socket
import struct
from ipaddress import IPv4Address, IPv6Address, ip_address

_SIOCGIFADDR = 0x8915
_SCOPE_GLOBAL, _SCOPE_LINK = 0x00, 0x20


def _ipv6_table() -> list[tuple[IPv6Address, int, str]]:
    """(address, scope, interface) for every IPv6 address of this namespace."""
    rows = []
    try:
        with open("/proc/net/if_inet6") as table:
            for line in table:
                raw, _index, _length, scope, _flags, name = line.split()
                rows.append((IPv6Address(bytes.fromhex(raw)), int(scope, 16), name))
    except OSError:
        return []
    return rows


def _ipv4_of(name: str) -> IPv4Address | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            answer = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        except OSError:
            return None
    return IPv4Address(answer[20:24])


def interface_of(local: str) -> str | None:
    """The interface that holds a local address, or None."""
    address = ip_address(local.split("%", maxsplit=1)[0])
    if isinstance(address, IPv6Address):
        return next((name for a, _scope, name in _ipv6_table() if a == address), None)
    return next((name for _index, name in socket.if_nameindex() if _ipv4_of(name) == address), None)


def ipv4_on(interface: str) -> IPv4Address | None:
    """The primary IPv4 address of an interface."""
    return _ipv4_of(interface)


def ipv6_on(interface: str) -> tuple[IPv6Address | None, IPv6Address | None]:
    """An interface's (global, link-local) IPv6 addresses; either may be None."""
    rows = [(a, scope) for a, scope, name in _ipv6_table() if name == interface]
    glob = next((a for a, scope in rows if scope == _SCOPE_GLOBAL), None)
    link = next((a for a, scope in rows if scope == _SCOPE_LINK), None)
    return glob, link
