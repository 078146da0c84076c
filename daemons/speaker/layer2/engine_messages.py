"""The layer-2 engine's orders and reports (JSON lines, see :mod:`..engine_process`).

Kubernetes half to engine: ``{"start": {...}}`` once, ``{"plan": {"terms": {...}, "services":
{service: [claim, ...]}}}`` (every claim, :func:`plan_to_json`) once, then ``{"plan_changes":
{...}}`` of the same shape (the claims of each Service whose claims changed, ``[]`` for one
that has none now, and the terms they name) and ``{"peers": {...}}`` whenever they change.
Engine to Kubernetes half: ``{"ready": true}``, ``{"announcing": {...}, "members": [...]}``
whenever either changes, and ``{"counters": {...}}`` about once a second while they move.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPAddress
from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import ClaimTerms, IPClaim, parse_ips

from .handoff import HANDOVER_OVERLAP

Address = tuple[str, int]
PLAN = "plan"  # the order carrying every claim (plan_to_json)
PLAN_CHANGES = "plan_changes"  # the order carrying the claims of the Services that changed
_SPARE_ADDRESSES = 1024  # parsed IPs no claim has any more, kept before PlannedClaims forgets them


@dataclass(frozen=True)
class StartOrder:
    """What the engine needs before its first heartbeat."""

    node: str
    key: bytes
    bind: Address
    peers: Mapping[str, Address]
    interval: float
    dead_after: float
    watch_links: tuple[str, ...]
    log_level: str = "info"
    handover_overlap: float = HANDOVER_OVERLAP
    realtime_priority: int = 0  # SCHED_FIFO priority of the engine process, 0: normal

    def to_json(self) -> dict[str, Any]:
        """The ``start`` message's body."""
        return {
            "node": self.node,
            "key": self.key.hex(),
            "bind": list(self.bind),
            "peers": peers_to_json(self.peers),
            "interval": self.interval,
            "dead_after": self.dead_after,
            "watch_links": list(self.watch_links),
            "log_level": self.log_level,
            "handover_overlap": self.handover_overlap,
            "realtime_priority": self.realtime_priority,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StartOrder:
        """Read a ``start`` message's body."""
        return cls(
            node=str(data["node"]),
            key=bytes.fromhex(data["key"]),
            bind=(str(data["bind"][0]), int(data["bind"][1])),
            peers=peers_from_json(data["peers"]),
            interval=float(data["interval"]),
            dead_after=float(data["dead_after"]),
            watch_links=tuple(data["watch_links"]),
            log_level=str(data.get("log_level", "info")),
            handover_overlap=float(data.get("handover_overlap", HANDOVER_OVERLAP)),
            realtime_priority=int(data.get("realtime_priority", 0)),
        )


def peers_to_json(peers: Mapping[str, Address]) -> dict[str, list[Any]]:
    """Peers as JSON: ``{node: [host, port]}``."""
    return {name: [host, port] for name, (host, port) in sorted(peers.items())}


def peers_from_json(data: Mapping[str, Any]) -> dict[str, Address]:
    """Peers from JSON."""
    return {str(name): (str(value[0]), int(value[1])) for name, value in data.items()}


def plan_to_json(claims: Iterable[IPClaim]) -> dict[str, Any]:
    """A ``plan`` order's body made of ``claims``: ``{"terms": {id: terms}, "services": {service: [claim]}}``.

    Each claim is ``[ip, key, terms id]`` (:func:`claim_head_json` and an id of the order's
    ``terms`` table, :func:`claim_terms_json`): claims alike (every Service planned over the
    same Nodes) name one entry instead of repeating it, so a Node's death that changes the terms
    of thousands of Services sends them once. Services in key order, each one's claims by IP
    text; ids here count from 0 in that order (:class:`~.planning.PlanOrder` keeps its own).
    """
    ids: dict[str, str] = {}  # each terms entry as JSON text: its id
    table: dict[str, dict[str, Any]] = {}
    services: dict[str, list[list[str]]] = {}
    for claim in sorted(claims, key=lambda c: (c.service, str(c.ip))):
        terms = claim_terms_json(claim)
        ident = ids.setdefault(json.dumps(terms), str(len(ids)))
        table[ident] = terms
        services.setdefault(claim.service, []).append([*claim_head_json(claim), ident])
    return {"terms": table, "services": services}


def claim_head_json(claim: IPClaim) -> list[str]:
    """The first fields of a claim's JSON element: its IP and its ownership key."""
    return [str(claim.ip), claim.key]


def claim_terms_json(claim: IPClaim) -> dict[str, Any]:
    """A claim's terms (:class:`.l2_plan.ClaimTerms`, shared by Services alike): a terms table entry."""
    return {
        "candidates": sorted(claim.candidates),
        "interfaces": list(claim.interfaces),
        **({"scores": dict(sorted(claim.scores.items()))} if claim.scores else {}),
        **({"draining": sorted(claim.draining)} if claim.draining else {}),
        **({"non_revertive": True} if claim.non_revertive else {}),
    }


def terms_from_json(data: Mapping[str, Any]) -> ClaimTerms:
    """An entry of an order's terms table."""
    return ClaimTerms(
        frozenset(data["candidates"]),
        tuple(data["interfaces"]),
        {str(node): int(score) for node, score in (data.get("scores") or {}).items()},
        frozenset(data.get("draining") or ()),
        bool(data.get("non_revertive")),
    )


def plan_from_json(
    data: Mapping[str, Any], addresses: dict[str, IPAddress] | None = None
) -> dict[str, list[IPClaim]]:
    """The claims of a ``plan`` or ``plan_changes`` body by Service (``[]``: none); unparsable IPs skipped.

    ``addresses``: IPs parsed before, by their text; those parsed now are added (parsing an
    address costs more than the rest of a claim). A claim naming terms the order's table does
    not hold is refused (ValueError): the two halves disagree on the order's format.
    """
    known = {} if addresses is None else addresses
    table = {str(ident): terms_from_json(terms) for ident, terms in data["terms"].items()}
    planned: dict[str, list[IPClaim]] = {}
    for service, items in data["services"].items():
        claims = planned[str(service)] = []
        for text, key, ident in items:
            terms = table.get(ident)
            if terms is None:
                raise ValueError(f"the claim on {text} of {service} names terms {ident!r} the order lacks")
            ip = known.get(text)
            if ip is None:
                ips = parse_ips([text])
                if not ips:
                    continue
                ip = known[text] = ips[0]
            claims.append(IPClaim(ip, str(service), str(key), *terms))
    return planned


class PlannedClaims:
    """The claims of the latest plan, from a ``plan`` order and the ``plan_changes`` orders after it."""

    def __init__(self) -> None:
        self._by_service: dict[str, list[IPClaim]] = {}
        self._addresses: dict[str, IPAddress] = {}  # the claims' IPs by their text, parsed once
        self.claims: list[IPClaim] = []  # every claim, by Service key, then IP text
        self._ips: frozenset[IPAddress] | None = frozenset()  # the claims' IPs; None: to collect again

    def take(self, kind: str, body: Any) -> None:
        """Take the body of an order of ``kind``: :data:`PLAN` (every claim) or :data:`PLAN_CHANGES`."""
        if kind == PLAN:
            self.replace(body)
        elif kind == PLAN_CHANGES:
            self.change(body)
        else:
            raise ValueError(f"not an order of claims: {kind!r}")

    def replace(self, data: Mapping[str, Any]) -> None:
        """Take a ``plan`` order's body: every claim."""
        self._by_service = {}
        self.change(data)

    def change(self, data: Mapping[str, Any]) -> None:
        """Take a ``plan_changes`` order's body: the named Services' claims replace theirs."""
        by_service = self._by_service
        for service, claims in plan_from_json(data, self._addresses).items():
            if claims:
                by_service[service] = claims
            else:
                by_service.pop(service, None)
        self._flatten()

    @property
    def ips(self) -> frozenset[IPAddress]:
        """The IPs of the claims, collected once per order (and only when asked for)."""
        if self._ips is None:
            self._ips = frozenset(claim.ip for claim in self.claims)
        return self._ips

    def _flatten(self) -> None:
        by_service = self._by_service
        self.claims = [claim for service in sorted(by_service) for claim in by_service[service]]
        self._ips = None
        if len(self._addresses) > 2 * len(self.claims) + _SPARE_ADDRESSES:  # forget IPs gone for good
            self._addresses = {text: ip for text, ip in self._addresses.items() if ip in self.ips}
