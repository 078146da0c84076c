"""A BGP test bench on the netns LAN: one router (BIRD2, FRR or GoBGP) and our speaker agent.

The router runs from lab/routers.py's own configuration builders with private paths under a
short temporary directory; its RIB is read back as :class:`RibEntry` per prefix, whichever
router it is, so the tests can compare the same facts across the three.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from lab import netns, routers

from .conftest import Host, Lan

ROUTER_ASN = 64500
SPEAKER_ASN = 64512


@dataclass(frozen=True)
class RibEntry:
    """One prefix as a router holds it."""

    next_hops: frozenset[str]
    communities: frozenset[str] = frozenset()  # "AA:NN"
    large_communities: frozenset[str] = frozenset()  # "G:L1:L2"
    local_pref: int | None = None


@dataclass
class Router:
    """A running router and how to read its RIB."""

    kind: str
    host: Host
    work: Path
    pids: list[int] = field(default_factory=list)

    def rib(self, prefix: str) -> RibEntry | None:
        """The router's best path for ``prefix``, or None when it has none."""
        return _READERS[self.kind](self, prefix)

    def run(self, *argv: str) -> str:
        return netns.exec_in(self.host.netns, list(argv), timeout=15, check=False)


def start_router(lan: Lan, kind: str, peering: routers.Peering, asn: int = ROUTER_ASN) -> Router:
    """Start ``kind`` in a new host ``router`` of the LAN; its PIDs join the LAN's cleanup list."""
    host = lan.add_host("router")
    work = Path(tempfile.mkdtemp(prefix="bmlbt-bgp-"))
    work.chmod(0o755)
    procs, _ = routers.start_router(kind, host, asn, peering, work=work, log_dir=work / "logs")
    lan.pids.extend(p.pid for p in procs)
    router = Router(kind, host, work, [p.pid for p in procs])
    lan.cleanups.append(lambda: shutil.rmtree(work, ignore_errors=True))
    return router


def _bird(router: Router, prefix: str) -> RibEntry | None:
    out = router.run("birdc", "-s", str(router.work / "bird.ctl"), "show", "route", prefix, "all")
    if "BGP.origin" not in out:
        return None
    hops = re.search(r"BGP\.next_hop: (.*)", out)
    pref = re.search(r"BGP\.local_pref: (\d+)", out)
    comms = re.search(r"BGP\.community: (.*)", out)
    large = re.search(r"BGP\.large_community: (.*)", out)
    return RibEntry(
        frozenset(hops.group(1).split()) if hops else frozenset(),
        frozenset(f"{a}:{b}" for a, b in re.findall(r"\((\d+), ?(\d+)\)", comms.group(1)))
        if comms
        else frozenset(),
        frozenset(":".join(t) for t in re.findall(r"\((\d+), (\d+), (\d+)\)", large.group(1)))
        if large
        else frozenset(),
        int(pref.group(1)) if pref else None,
    )


def _frr(router: Router, prefix: str) -> RibEntry | None:
    family = "ipv6" if ":" in prefix else "ipv4"
    out = router.run(
        "vtysh", "--vty_socket", str(router.work), "-c", f"show bgp {family} unicast {prefix} json"
    )
    paths = json.loads(out or "{}").get("paths", [])
    if not paths:
        return None
    path = paths[0]
    return RibEntry(
        frozenset(h["ip"] for h in path.get("nexthops", [])),
        frozenset(path.get("community", {}).get("string", "").split()),
        frozenset(path.get("largeCommunity", {}).get("string", "").split()),
        path.get("locPrf"),
    )


def _gobgp(router: Router, prefix: str) -> RibEntry | None:
    family = "ipv6" if ":" in prefix else "ipv4"
    out = router.run("gobgp", "-u", "127.0.0.1", "-p", "50051", "global", "rib", "-a", family, prefix, "-j")
    try:
        table = json.loads(out or "{}")
    except json.JSONDecodeError:
        return None
    paths = table.get(prefix) or []
    if not paths:
        return None
    hops: set[str] = set()
    comms: set[str] = set()
    large: set[str] = set()
    pref = None
    for attr in paths[0].get("attrs", []):
        kind = attr.get("type")
        if kind == 3:
            hops.add(attr["nexthop"])
        elif kind == 14:
            hops.add(attr["nexthop"])
            if attr.get("linklocal_nexthop"):
                hops.add(attr["linklocal_nexthop"])
        elif kind == 5:
            pref = attr.get("value")
        elif kind == 8:
            comms |= {f"{c >> 16}:{c & 0xFFFF}" for c in attr.get("communities", [])}
        elif kind == 32:
            large |= {f"{v['ASN']}:{v['LocalData1']}:{v['LocalData2']}" for v in attr.get("value", [])}
    return RibEntry(frozenset(hops), frozenset(comms), frozenset(large), pref)


_READERS = {"bird": _bird, "frr": _frr, "gobgp": _gobgp}


def peer(router: Router, **overrides: object) -> dict[str, object]:
    """PeerSettings fields for a session from the speaker to ``router`` (short timers)."""
    settings: dict[str, object] = {
        "name": router.kind,
        "my_asn": SPEAKER_ASN,
        "peer_asn": ROUTER_ASN,
        "peer_address": router.host.ipv4,
        "router_id": "192.0.2.200",
        "hold_time": 3,
        "connect_time": 1.0,
    }
    settings.update(overrides)
    return settings
