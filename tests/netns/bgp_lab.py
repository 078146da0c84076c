"""A BGP test bench on the netns LAN: one router (BIRD2, FRR or GoBGP) and our speaker agent.

The router runs from lab/routers.py's own configuration builders with private paths under a
short temporary directory; its RIB is read back by lab/rib.py, the lab's own reader, so the tests
compare the same facts across the three routers.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from lab import routers
from lab.rib import RibPath, paths

from .conftest import Host, Lan

ROUTER_ASN = 64500
SPEAKER_ASN = 64512


@dataclass
class Router:
    """A running router and how to read its RIB."""

    kind: str
    host: Host
    control: str
    pids: list[int] = field(default_factory=list)

    def rib(self, prefix: str) -> RibPath | None:
        """The router's best path for ``prefix``, or None when it has none."""
        found = paths({"kind": self.kind, "netns": self.host.netns, "control": self.control}, prefix)
        return found[0] if found else None


def start_router(
    lan: Lan, kind: str, peering: routers.Peering, asn: int = ROUTER_ASN, host: Host | None = None
) -> Router:
    """Start ``kind`` in ``host`` (default: a new host ``router`` of the LAN); its PIDs join the
    LAN's cleanup list."""
    host = host or lan.add_host("router")
    work = Path(tempfile.mkdtemp(prefix="bmlbt-bgp-"))
    work.chmod(0o755)
    procs, control = routers.start_router(kind, host, asn, peering, work=work, log_dir=work / "logs")
    lan.pids.extend(p.pid for p in procs)
    router = Router(kind, host, control, [p.pid for p in procs])
    lan.cleanups.append(lambda: shutil.rmtree(work, ignore_errors=True))
    return router


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
