"""The layer-2 engine's orders and reports (JSON lines, see :mod:`..engine_process`).

Kubernetes half to engine: ``{"start": {...}}`` once, ``{"plan": {"terms": {...}, "services":
{service: [claim, ...]}}}`` (every claim, :func:`plan_to_json`) once, then ``{"plan_changes":
{...}}`` of the same shape (the claims of each Service whose claims changed, ``[]`` for one
that has none now, the terms they name, and new terms for ids the engine keeps: every claim
naming such an id takes them, listed or not; :class:`PlannedClaims`) and ``{"peers": {...}}``
whenever they change.
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
    """The claims of a whole ``plan`` body by Service (``[]``: none); unparsable IPs skipped.

    ``addresses``: IPs parsed before, by their text; those parsed now are added (parsing an
    address costs more than the rest of a claim). A claim naming terms the order's table does
    not hold is refused (ValueError): the two halves disagree on the order's format.
    """
    known = {} if addresses is None else addresses
    table = {str(ident): terms_from_json(terms) for ident, terms in data["terms"].items()}
    return {
        str(service): _service_claims(str(service), items, table, known)[0]
        for service, items in data["services"].items()
    }


def _service_claims(
    service: str, items: Iterable[Any], table: Mapping[str, ClaimTerms], known: dict[str, IPAddress]
) -> tuple[list[IPClaim], list[str]]:
    """One Service's claims from their JSON elements, and the terms id each names."""
    claims: list[IPClaim] = []
    idents: list[str] = []
    for text, key, ident in items:
        terms = table.get(ident)
        if terms is None:
            raise ValueError(f"the claim on {text} of {service} names terms {ident!r} no order carried")
        ip = known.get(text)
        if ip is None:
            ips = parse_ips([text])
            if not ips:
                continue
            ip = known[text] = ips[0]
        claims.append(IPClaim(ip, service, str(key), *terms))
        idents.append(ident)
    return claims, idents


class PlannedClaims:
    """The claims of the latest plan, from a ``plan`` order and the ``plan_changes`` orders after it.

    It keeps the terms table the orders carried and the id each claim names: an order carrying
    new terms for a kept id gives them to every claim naming it, listed in that order or not.
    """

    def __init__(self) -> None:
        self._by_service: dict[str, list[IPClaim]] = {}  # in key order once flattened
        self._unsorted = False  # whether a Service came since: _by_service to sort again
        self._idents: dict[str, list[str]] = {}  # each Service's claims' terms ids, claim by claim
        self._naming: dict[str, set[str]] = {}  # a terms id: the Services with a claim naming it
        self._terms: dict[str, ClaimTerms] = {}  # the terms table, each id kept while named
        self._addresses: dict[str, IPAddress] = {}  # the claims' IPs by their text, parsed once
        self.claims: list[IPClaim] = []  # every claim, by Service key, then IP text
        self._ips: frozenset[IPAddress] | None = frozenset()  # the claims' IPs; None: to collect again
        self.redefined_given = 0
        """Services (not listed in the order) whose claims took redefined terms, since the start."""

    def take(self, kind: str, body: Any) -> None:
        """Take the body of an order of ``kind``: :data:`PLAN` (every claim) or :data:`PLAN_CHANGES`."""
        if kind == PLAN:
            self.replace(body)
        elif kind == PLAN_CHANGES:
            self.change(body)
        else:
            raise ValueError(f"not an order of claims: {kind!r}")

    def replace(self, data: Mapping[str, Any]) -> None:
        """Take a ``plan`` order's body: every claim and the whole terms table."""
        self._by_service, self._idents, self._naming, self._terms = {}, {}, {}, {}
        self.change(data)

    def change(self, data: Mapping[str, Any]) -> None:
        """Take a ``plan_changes`` order's body.

        Its terms entries join the table, replacing those of the same ids; the named Services'
        claims replace theirs; then every other claim naming a replaced entry takes its new terms.
        """
        by_service, idents_of, naming, table = self._by_service, self._idents, self._naming, self._terms
        redefined = []
        for ident, entry in data["terms"].items():
            terms = terms_from_json(entry)
            if table.get(ident, terms) != terms:
                redefined.append(ident)
            table[ident] = terms
        services = {str(service): items for service, items in data["services"].items()}
        released = list(data["terms"])  # ids to forget unless a claim names them: carried, or left
        for service, items in services.items():
            for ident in idents_of.pop(service, ()):
                naming[ident].discard(service)
                released.append(ident)
            claims, idents = _service_claims(service, items, table, self._addresses)
            if claims:
                self._unsorted = self._unsorted or service not in by_service
                by_service[service], idents_of[service] = claims, idents
                for ident in idents:
                    naming.setdefault(ident, set()).add(service)
            else:
                by_service.pop(service, None)
        for ident in redefined:  # in key order, as the claims were made: their memory is walked in it
            given = sorted(naming.get(ident, set()) - services.keys())
            self._give(ident, given)
            self.redefined_given += len(given)
        for ident in released:
            if not naming.get(ident):
                naming.pop(ident, None)
                table.pop(ident, None)
        self._flatten()

    def _give(self, ident: str, services: Iterable[str]) -> None:
        """Give the claims of ``services`` naming ``ident`` its terms from the table.

        A claim is its head (IP, Service, key) and then its terms, field by field as in
        :class:`.l2_plan.ClaimTerms`: the new claim is the old one's head and the new terms.
        """
        by_service, idents_of, terms, make = self._by_service, self._idents, self._terms[ident], IPClaim._make
        for service in services:
            claims = by_service[service]
            if len(claims) == 1:  # the usual case, quicker
                by_service[service] = [make(claims[0][:3] + terms)]
                continue
            by_service[service] = [
                make(claim[:3] + terms) if named == ident else claim
                for claim, named in zip(claims, idents_of[service], strict=True)
            ]

    @property
    def ips(self) -> frozenset[IPAddress]:
        """The IPs of the claims, collected once per order (and only when asked for)."""
        if self._ips is None:
            self._ips = frozenset(claim.ip for claim in self.claims)
        return self._ips

    def _flatten(self) -> None:
        if self._unsorted:  # replacing a Service's claims keeps its place, a new one goes last
            self._by_service = dict(sorted(self._by_service.items()))
            self._unsorted = False
        self.claims = [claim for claims in self._by_service.values() for claim in claims]
        self._ips = None
        if len(self._addresses) > 2 * len(self.claims) + _SPARE_ADDRESSES:  # forget IPs gone for good
            self._addresses = {text: ip for text, ip in self._addresses.items() if ip in self.ips}
