"""Which node announces a LoadBalancer IP in layer-2 mode, decided exactly as MetalLB decides.

Every speaker computes this alone from the same inputs; there is no election traffic. The
eligible nodes are sorted by their preference score, highest first (the weights of the
L2Advertisements' ``preferredNodeSelectors``, :func:`.l2_plan.preference_scores`; 0 without
any), then by ``sha256(node_name + "#" + ip)`` (bytes compared), and the first one announces.
MetalLB hashes the Service's *first* ingress IP for all of its IPs, so one node announces both
families of a dual-stack Service: pass that IP.

The facts every announcement protocol plans from (:class:`ServiceFacts`, :class:`NodeFacts`,
:class:`Endpoint`) and the eligibility rule they share (:func:`eligible_nodes`) live here too.

Drain-awareness (layer 2, on by default, not MetalLB's rule): a node that is being drained
(:attr:`NodeFacts.draining`) stays eligible but ranks behind every live node that is not:
:func:`announcer` picks from the non-draining live candidates, and only when none is left from
the draining ones. So a cordon moves an IP off the node before it goes down, yet never leaves
an IP unannounced (a one-node cluster, the last live candidate, or an
``externalTrafficPolicy: Local`` endpoint not yet evicted from the draining node).

Non-revertive failback (layer 2, per Service or L2Advertisement, not MetalLB's rule): the
nodes that say they hold an IP against the rank (``holders``: they took it over while a
better-ranked node was gone, and keep it) keep it while they are live, not draining
candidates; the best-ranked of them wins if there are several (a healed split). Without a
live holder the rule above applies. So a failed node that returns does not take its IPs
back: no second move, no second outage.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from .addresses import IPAddress

EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"


@dataclass(frozen=True, slots=True)
class NodeFacts:
    """What ownership needs to know about a Kubernetes Node."""

    labels: Mapping[str, str] = field(default_factory=dict)
    network_unavailable: bool = False  # condition NetworkUnavailable is "True"
    draining: bool = False  # cordoned, or tainted for removal (see cluster_facts.node_facts)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One endpoint of the Service (from its EndpointSlices)."""

    node: str | None
    ready: bool | None = None  # None means unknown, which Kubernetes says to read as ready
    serving: bool | None = None

    @property
    def can_serve(self) -> bool:
        """Ready (or readiness unknown), or still serving while terminating."""
        return self.ready is None or self.ready or bool(self.serving)


@dataclass(frozen=True, slots=True)
class ServiceFacts:
    """The facts of one LoadBalancer Service that every announcement protocol plans from."""

    key: str  # namespace/name
    ips: tuple[IPAddress, ...]  # status.loadBalancer.ingress, in order
    local_traffic_policy: bool = False
    endpoints: tuple[Endpoint, ...] = ()
    pool: str = ""  # metallb.io/ip-allocated-from-pool, when the controller wrote it
    labels: Mapping[str, str] = field(default_factory=dict)
    failback: str | None = None  # the Service's baremetal.lb/failback policy (:mod:`.failback`)


def ownership_key(ips: Iterable[str | ipaddress.IPv4Address | ipaddress.IPv6Address]) -> str:
    """The string hashed for a Service: its first ingress IP in canonical text form."""
    for ip in ips:
        return str(ipaddress.ip_address(ip))
    raise ValueError("a Service without ingress IPs has nothing to announce")


def rank(nodes: Iterable[str], key: str, scores: Mapping[str, int] | None = None) -> list[str]:
    """``nodes`` in MetalLB's election order for ``key`` (an IP in canonical text form).

    Highest ``scores`` first (a node missing from them scores 0), then the hash; without
    scores, the hash order alone.
    """
    if not scores:  # the common case, on the engine's failover path: no tuple per node
        return sorted(nodes, key=lambda node: _digest(node, key))
    return sorted(nodes, key=lambda node: (-scores.get(node, 0), _digest(node, key)))


def _digest(node: str, key: str) -> bytes:
    return hashlib.sha256(f"{node}#{key}".encode()).digest()


def eligible_nodes(
    *,
    speakers: Collection[str],
    nodes: Mapping[str, NodeFacts],
    advertised_to: Collection[str],
    endpoints: Collection[Endpoint],
    local_traffic_policy: bool,
    ignore_exclude_label: bool = False,
) -> set[str]:
    """The nodes that may announce a Service's IPs.

    ``speakers`` are the nodes whose speaker is known alive; ``advertised_to`` the nodes the
    L2Advertisements of the IP's pool select. Nodes unknown to ``nodes`` carry no conditions
    or labels. With no endpoint able to serve anywhere, nobody is eligible, whatever the
    traffic policy; with ``local_traffic_policy`` only nodes hosting such an endpoint are.
    """
    serving = [e for e in endpoints if e.can_serve]
    if not serving:
        return set()
    candidates = {
        name
        for name in speakers
        if name in advertised_to and _announce_allowed(nodes.get(name, NodeFacts()), ignore_exclude_label)
    }
    if local_traffic_policy:
        candidates &= {e.node for e in serving if e.node is not None}
    return candidates


def announcing_node(key: str, eligible: Iterable[str], scores: Mapping[str, int] | None = None) -> str | None:
    """The node that announces the Service hashed as ``key`` (``scores`` as in :func:`rank`), or None."""
    ranked = rank(eligible, key, scores)
    return ranked[0] if ranked else None


def announcer(
    key: str,
    candidates: Collection[str],
    draining: Collection[str],
    live: Collection[str],
    scores: Mapping[str, int] | None = None,
    *,
    holders: Collection[str] = (),
    ranks: Ranks | None = None,
) -> str | None:
    """The node that announces the Service hashed as ``key`` among the ``live`` ``candidates``.

    Live candidates that are not ``draining`` come first, in :func:`rank`'s order (``scores``
    first); the draining ones announce only when no other live candidate is left. With
    ``draining`` empty this is :func:`announcing_node`. ``holders`` (non-revertive failback)
    come before all of them when they are live, not draining candidates. ``ranks`` keeps the
    head of the candidates' order from one call to the next (the same answer, without hashing
    every candidate again while one of the head is live).
    """
    if holders:
        keeping = [n for n in holders if n in candidates and n in live and not (draining and n in draining)]
        if keeping:
            return announcing_node(key, keeping, scores)
    if ranks is not None:
        head = ranks.head(key, candidates, scores)
        settled, up = _first_live(head, draining, live)
        if settled is not None or len(head) == len(candidates):
            return settled or up
    settled, up = _first_live(rank(candidates, key, scores), draining, live)
    return settled or up


def _first_live(
    ranked: Iterable[str], draining: Collection[str], live: Collection[str]
) -> tuple[str | None, str | None]:
    """The first live node of ``ranked`` that is not draining, and the first live one."""
    first_up = None
    for node in ranked:  # a subset's rank is the whole rank with the others left out
        if node not in live:
            continue
        if not (draining and node in draining):
            return node, first_up or node
        first_up = first_up or node
    return None, first_up


class Ranks:
    """The head of :func:`rank` for each (key, candidates, scores) asked for, kept while asked for.

    A speaker decides again over every claim on each change of the live members: ranking hashes
    every candidate with the key, most of such a decision's time at thousands of Services. The
    first :data:`RANKS_KEPT` of each order are kept (a claim over every one of 1,000 Nodes keeps
    as much as a claim over ten); only when all of them are dead or draining is the whole order
    computed again. An entry not asked for between two calls of :meth:`renew` is forgotten by
    the second, so the entries live as long as the plans that use them. Pure.
    """

    def __init__(self) -> None:
        self._now: dict[tuple[object, ...], tuple[str, ...]] = {}
        self._before: dict[tuple[object, ...], tuple[str, ...]] = {}

    def head(
        self, key: str, candidates: Collection[str], scores: Mapping[str, int] | None = None
    ) -> tuple[str, ...]:
        """The first :data:`RANKS_KEPT` of ``rank(candidates, key, scores)``, computed once while asked."""
        ident = (key, frozenset(candidates), tuple(sorted(scores.items())) if scores else ())
        ranked = self._now.get(ident)
        if ranked is None:
            ranked = self._before.pop(ident, None)
            if ranked is None:
                ranked = tuple(rank(candidates, key, scores)[:RANKS_KEPT])
            self._now[ident] = ranked
        return ranked

    def renew(self) -> None:
        """Begin a new generation: what is not asked for before the next call is forgotten then."""
        self._before, self._now = self._now, {}

    def __len__(self) -> int:
        return len(self._now) + len(self._before)


RANKS_KEPT = 8  # of each order Ranks keeps, the first this many nodes


def holds_against_rank(
    key: str, node: str, candidates: Collection[str], scores: Mapping[str, int] | None = None
) -> bool:
    """Whether ``node`` announcing ``key`` holds it against the rank (non-revertive failback).

    True when another candidate would announce it if every candidate were live and none were
    drained: that node's return (or uncordon) must not take the IP back, so ``node`` tells its
    peers it holds the IP.
    """
    ranked = rank(candidates, key, scores)
    return bool(ranked) and ranked[0] != node


def _announce_allowed(node: NodeFacts, ignore_exclude_label: bool) -> bool:
    if node.network_unavailable:
        return False
    return ignore_exclude_label or EXCLUDE_LB_LABEL not in node.labels
