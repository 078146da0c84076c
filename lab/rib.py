"""Read a lab router's BGP table: every path it holds for a prefix, whichever router it is.

A router is described by the facts lab.json records for it (lab/routers.py): its ``kind``
(``bird``, ``frr`` or ``gobgp``), its ``netns`` and its ``control`` endpoint (BIRD's control
socket, FRR's vty directory, GoBGP's API ``host:port``). With ECMP a router holds one path per
node announcing the prefix, so a prefix reads as a list of :class:`RibPath`, best path first.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import netns
from .state import LabState

# GoBGP's JSON path attributes, by BGP attribute type code (RFC 4271, 1997, 4760, 8092).
_AS_PATH, _NEXT_HOP, _LOCAL_PREF, _COMMUNITIES, _MP_REACH, _LARGE_COMMUNITIES = 2, 3, 5, 8, 14, 32


@dataclass(frozen=True)
class RibPath:
    """One path a router holds for a prefix."""

    next_hops: frozenset[str]
    communities: frozenset[str] = frozenset()  # "AA:NN"
    large_communities: frozenset[str] = frozenset()  # "G:L1:L2"
    local_pref: int | None = None
    as_path: tuple[int, ...] = ()

    @property
    def origin_as(self) -> int | None:
        """The AS that originated the path (the last of the AS path), None for a local route."""
        return self.as_path[-1] if self.as_path else None


def paths(router: Mapping[str, Any], prefix: str) -> list[RibPath]:
    """Every path ``router`` (its lab.json facts) holds for ``prefix``, best first; [] when none."""
    return _READERS[str(router["kind"])](router, prefix)


def lab_paths(state: LabState, ip: str) -> dict[str, list[RibPath]]:
    """Each lab router's paths for a LoadBalancer IP's host route (/32 or /128), by router name."""
    prefix = str(ipaddress.ip_network(ip))
    return {name: paths(router, prefix) for name, router in state.routers.items()}


def table_argv(router: Mapping[str, Any]) -> list[str]:
    """The command that prints the router's whole IPv4 table in its own format (`lab rib`)."""
    kind, control = str(router["kind"]), str(router["control"])
    if kind == "bird":
        return ["birdc", "-s", control, "show", "route", "all"]
    if kind == "frr":
        return ["vtysh", "--vty_socket", control, "-c", "show bgp ipv4 unicast json"]
    return [*gobgp_cli(control), "global", "rib", "-j"]


def _run(router: Mapping[str, Any], argv: list[str]) -> str:
    return netns.exec_in(str(router["netns"]), argv, timeout=15, check=False)


def _family(prefix: str) -> str:
    return "ipv6" if ":" in prefix else "ipv4"


# --- BIRD ----------------------------------------------------------------------------------

# A path's first line ("203.0.113.1/32  unicast [node1 ...] * (100) [AS64500i]"; later paths of
# the same prefix start with blanks); its attributes follow on lines that start with a tab.
_BIRD_PATH_START = re.compile(r"^\S*\s+\w+ \[")


def _bird(router: Mapping[str, Any], prefix: str) -> list[RibPath]:
    out = _run(router, ["birdc", "-s", str(router["control"]), "show", "route", prefix, "all"])
    blocks: list[list[str]] = []
    for line in out.splitlines():
        if _BIRD_PATH_START.match(line):
            blocks.append([])
        elif blocks and line.startswith("\t"):
            blocks[-1].append(line.strip())
    return [path for path in map(_bird_path, blocks) if path]


def _bird_path(lines: list[str]) -> RibPath | None:
    attrs = dict(line.split(": ", 1) for line in lines if line.startswith("BGP.") and ": " in line)
    if "BGP.origin" not in attrs:
        return None
    return RibPath(
        frozenset(attrs.get("BGP.next_hop", "").split()),
        frozenset(f"{a}:{b}" for a, b in re.findall(r"\((\d+), ?(\d+)\)", attrs.get("BGP.community", ""))),
        frozenset(
            ":".join(t)
            for t in re.findall(r"\((\d+), ?(\d+), ?(\d+)\)", attrs.get("BGP.large_community", ""))
        ),
        int(attrs["BGP.local_pref"]) if "BGP.local_pref" in attrs else None,
        tuple(int(a) for a in re.findall(r"\d+", attrs.get("BGP.as_path", ""))),
    )


# --- FRR -----------------------------------------------------------------------------------


def _frr(router: Mapping[str, Any], prefix: str) -> list[RibPath]:
    command = f"show bgp {_family(prefix)} unicast {prefix} json"
    out = _run(router, ["vtysh", "--vty_socket", str(router["control"]), "-c", command])
    try:
        found = json.loads(out or "{}").get("paths", [])
    except json.JSONDecodeError:
        return []
    found.sort(key=lambda p: not p.get("bestpath", {}).get("overall", False))
    return [
        RibPath(
            frozenset(h["ip"] for h in path.get("nexthops", [])),
            frozenset(path.get("community", {}).get("string", "").split()),
            frozenset(path.get("largeCommunity", {}).get("string", "").split()),
            path.get("locPrf"),
            tuple(int(a) for a in re.findall(r"\d+", path.get("aspath", {}).get("string", ""))),
        )
        for path in found
    ]


# --- GoBGP ---------------------------------------------------------------------------------


def gobgp_cli(control: str) -> list[str]:
    """The gobgp client's argv prefix for a GoBGP API endpoint ``host:port``."""
    host, port = control.rsplit(":", 1)
    return ["gobgp", "-u", host, "-p", port]


def _gobgp(router: Mapping[str, Any], prefix: str) -> list[RibPath]:
    argv = [*gobgp_cli(str(router["control"])), "global", "rib", "-a", _family(prefix), prefix, "-j"]
    try:
        table = json.loads(_run(router, argv) or "{}")
    except json.JSONDecodeError:
        return []
    found = sorted(table.get(prefix) or [], key=lambda p: not p.get("best", False))
    return [_gobgp_path(path.get("attrs", [])) for path in found]


def _gobgp_path(attrs: list[dict[str, Any]]) -> RibPath:
    hops: set[str] = set()
    comms: set[str] = set()
    large: set[str] = set()
    as_path: list[int] = []
    pref = None
    for attr in attrs:
        kind = attr.get("type")
        if kind == _AS_PATH:
            as_path += [asn for segment in attr.get("as_paths", []) for asn in segment.get("asns", [])]
        elif kind in (_NEXT_HOP, _MP_REACH):
            hops.add(attr["nexthop"])
            if attr.get("linklocal_nexthop"):
                hops.add(attr["linklocal_nexthop"])
        elif kind == _LOCAL_PREF:
            pref = attr.get("value")
        elif kind == _COMMUNITIES:
            comms |= {f"{c >> 16}:{c & 0xFFFF}" for c in attr.get("communities", [])}
        elif kind == _LARGE_COMMUNITIES:
            large |= {f"{v['ASN']}:{v['LocalData1']}:{v['LocalData2']}" for v in attr.get("value", [])}
    return RibPath(frozenset(hops), frozenset(comms), frozenset(large), pref, tuple(as_path))


_READERS: dict[str, Callable[[Mapping[str, Any], str], list[RibPath]]] = {
    "bird": _bird,
    "frr": _frr,
    "gobgp": _gobgp,
}
