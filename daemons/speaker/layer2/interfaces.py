"""Interfaces of this node fit for ARP and NDP answers when an L2Advertisement names none.

Suitable: an Ethernet link that is up, carries an address of the family (an IPv4 address for
ARP, any IPv6 address for NDP), and is not loopback, a bridge, a bridge port, kube-proxy's
``kube-ipvs0``, or the host side of a container network (docker, CNI, pod veths).
"""

from __future__ import annotations

import fcntl
import socket
import struct
from pathlib import Path

from .link import link_is_up

_SYS_NET = Path("/sys/class/net")
_ARPHRD_ETHER = "1"
_SIOCGIFADDR = 0x8915
_EXCLUDED_PREFIXES = (
    "lo",
    "kube-ipvs",
    "kube-bridge",
    "docker",
    "cni",
    "flannel",
    "cali",
    "cilium",
    "lxc",
    "veth",
    "weave",
    "vxlan",
    "tunl",
    "nodelocaldns",
)


def suitable_interfaces() -> dict[int, list[str]]:
    """Suitable interfaces by IP version: ``{4: [...], 6: [...]}``, names sorted."""
    names = sorted(path.name for path in _SYS_NET.iterdir()) if _SYS_NET.is_dir() else []
    candidates = [name for name in names if _fit(name)]
    with_v6 = _names_with_ipv6()
    return {
        4: [name for name in candidates if _has_ipv4(name)],
        6: [name for name in candidates if name in with_v6],
    }


def interface_of(address: str) -> str | None:
    """The interface carrying ``address`` (IPv4 or IPv6), or None."""
    if ":" in address:
        packed = socket.inet_pton(socket.AF_INET6, address).hex()
        for fields in _if_inet6():
            if fields[0] == packed:
                return fields[-1]
        return None
    for path in sorted(_SYS_NET.iterdir()):
        if _ipv4_of(path.name) == address:
            return path.name
    return None


def _fit(name: str) -> bool:
    base = _SYS_NET / name
    if name.startswith(_EXCLUDED_PREFIXES) or (base / "bridge").exists() or (base / "brport").exists():
        return False
    try:
        if (base / "type").read_text().strip() != _ARPHRD_ETHER:
            return False
    except OSError:
        return False
    return bool(link_is_up(name))


def _if_inet6() -> list[list[str]]:
    try:
        return [line.split() for line in Path("/proc/net/if_inet6").read_text().splitlines()]
    except OSError:  # IPv6 disabled
        return []


def _names_with_ipv6() -> set[str]:
    return {fields[-1] for fields in _if_inet6()}


def _ipv4_of(name: str) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            answer = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        except OSError:  # no IPv4 address
            return None
    return socket.inet_ntoa(answer[20:24])


def _has_ipv4(name: str) -> bool:
    return _ipv4_of(name) is not None
