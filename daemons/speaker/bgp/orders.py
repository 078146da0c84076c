"""The BGP engine's orders and reports as JSON (the lines of :mod:`..engine_process`).

Kubernetes half to engine: ``{"start": {"log_level": ...}}`` once, then ``{"peers": [peer, ...]}``
and ``{"routes": {peer name: [route, ...]}}`` whenever they change. A peer is its
:class:`.model.PeerSettings` fields plus ``bfd``: the :class:`..bfd.settings.BFDSettings`
fields, or null. Engine to Kubernetes half: ``{"ready": true}``, then ``{"sessions": {...}}``
whenever a BGP or BFD session changes state and about once a second while counters move.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..bfd.settings import BFDSettings
from .model import DynamicASN, PeerSettings, Route


@dataclass(frozen=True)
class PeerOrder:
    """One session the engine should run, and its BFD profile (None: no BFD)."""

    settings: PeerSettings
    bfd: BFDSettings | None = None

    def to_json(self) -> dict[str, Any]:
        """The peer as JSON (the password included: the pipe stays inside the speaker's process tree)."""
        data = dataclasses.asdict(self.settings)
        data["dynamic_asn"] = str(self.settings.dynamic_asn)
        data["bfd"] = dataclasses.asdict(self.bfd) if self.bfd else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PeerOrder:
        """Read a peer."""
        fields = {k: v for k, v in data.items() if k != "bfd"}
        fields["dynamic_asn"] = DynamicASN(fields.get("dynamic_asn") or DynamicASN.NONE)
        bfd = data.get("bfd")
        return cls(PeerSettings(**fields), BFDSettings(**bfd) if bfd else None)


def route_to_json(route: Route) -> dict[str, Any]:
    """A route as JSON."""
    return {
        "prefix": str(route.prefix),
        "next_hop": str(route.next_hop) if route.next_hop else None,
        "local_pref": route.local_pref,
        "communities": list(route.communities),
        "large_communities": [list(c) for c in route.large_communities],
    }


def route_from_json(data: Mapping[str, Any]) -> Route:
    """Read a route."""
    return Route(
        prefix=ipaddress.ip_network(data["prefix"]),
        next_hop=ipaddress.ip_address(data["next_hop"]) if data.get("next_hop") else None,
        local_pref=data.get("local_pref"),
        communities=tuple(int(c) for c in data.get("communities") or ()),
        large_communities=tuple(
            (int(c[0]), int(c[1]), int(c[2])) for c in data.get("large_communities") or ()
        ),
    )


def routes_to_json(routes: Mapping[str, Iterable[Route]]) -> dict[str, list[dict[str, Any]]]:
    """Every peer's routes as JSON, in a stable order (equal plans compare equal)."""
    return {
        peer: sorted((route_to_json(r) for r in items), key=lambda r: r["prefix"])
        for peer, items in sorted(routes.items())
    }


def routes_from_json(data: Mapping[str, Iterable[Mapping[str, Any]]]) -> dict[str, list[Route]]:
    """Every peer's routes from JSON."""
    return {peer: [route_from_json(r) for r in items] for peer, items in data.items()}
