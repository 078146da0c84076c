"""What one speaker would announce in layer 2, and who may announce it: pure decisions, no I/O.

The decision is split in two so that failover never waits for Kubernetes:

* :func:`plan_service` (Kubernetes side, slow inputs): for each IP of a Service, the nodes that
  may announce it apart from liveness (L2Advertisement node selectors, node conditions and
  labels, serving endpoints for ``externalTrafficPolicy: Local``), their preference scores
  (:func:`preference_scores`) and the interfaces this node would answer on;
* :func:`owned` (timing-critical side, fast input): given the live speakers, the IPs this node
  announces now, by MetalLB's rule (:mod:`.ownership`), draining candidates last
  (:func:`.ownership.announcer`), non-revertive IPs kept by the nodes holding them
  (:func:`held`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple

from .addresses import IPAddress, parse_address
from .advertised import pool_of_address, selected, selecting
from .config_model import Config, L2Advertisement
from .failback import NON_REVERTIVE, effective_policy
from .ownership import (
    NodeFacts,
    Ranks,
    ServiceFacts,
    announcer,
    eligible_nodes,
    holds_against_rank,
    ownership_key,
)

_NOBODY: frozenset[str] = frozenset()  # the terms most claims share: one object for all of them
_NO_SCORES: Mapping[str, int] = MappingProxyType({})


class IPClaim(NamedTuple):
    """One IP of one Service: who may announce it, and where this node would answer for it.

    A named tuple, not a frozen dataclass: a Node's death re-plans thousands of claims and a
    named tuple is built in less than half the time. Not hashable (``scores`` is a mapping).
    """

    ip: IPAddress
    service: str
    key: str  # the string hashed for ownership: the Service's first ingress IP
    candidates: frozenset[str]  # eligible nodes, before liveness is known
    interfaces: tuple[str, ...]  # where this node answers when it owns the IP
    # candidates' preference scores (preferredNodeSelectors), only those above 0
    scores: Mapping[str, int] = _NO_SCORES
    draining: frozenset[str] = _NOBODY  # candidates being drained: they announce last
    non_revertive: bool = False  # failback policy (:mod:`.failback`): holders keep the IP


def plan_service(
    service: ServiceFacts,
    *,
    config: Config,
    nodes: Mapping[str, NodeFacts],
    me: str,
    suitable_interfaces: Mapping[int, Sequence[str]],
    ignore_exclude_label: bool = False,
    drain_aware: bool = True,
) -> list[IPClaim]:
    """The claims for every IP of ``service`` that some L2Advertisement announces.

    ``nodes`` holds every Node of the cluster (its labels are what node selectors match);
    ``suitable_interfaces`` maps an IP version (4, 6) to this node's interfaces fit for ARP or
    NDP, used when an advertisement that selects this node names no interfaces. With
    ``drain_aware`` (the default) candidates being drained are marked so they announce last;
    without it every candidate ranks as MetalLB ranks it.
    """
    if not service.ips:
        return []
    key = ownership_key(service.ips)
    claims = []
    for ip in service.ips:
        advertisements = selecting(
            config.l2_advertisements, pool_of_address(config, service, ip), service.labels
        )
        if not advertisements:
            continue
        terms = claim_terms(
            advertisements,
            service,
            nodes=nodes,
            me=me,
            suitable=suitable_interfaces.get(ip.version, ()),
            ignore_exclude_label=ignore_exclude_label,
            drain_aware=drain_aware,
        )
        claims.append(IPClaim(ip, service.key, key, *terms))
    return claims


class ClaimTerms(NamedTuple):
    """What a claim says besides its IP and Service: :class:`IPClaim`'s fields from ``candidates`` on."""

    candidates: frozenset[str]
    interfaces: tuple[str, ...]
    scores: Mapping[str, int]
    draining: frozenset[str]
    non_revertive: bool


def claim_terms(
    advertisements: Sequence[L2Advertisement],
    service: ServiceFacts,
    *,
    nodes: Mapping[str, NodeFacts],
    me: str,
    suitable: Sequence[str],
    ignore_exclude_label: bool = False,
    drain_aware: bool = True,
) -> ClaimTerms:
    """The terms of the claim on an IP of ``service`` that ``advertisements`` (all non-empty) select.

    ``suitable`` are this node's interfaces fit for the IP's version. Of ``service`` it reads
    only its endpoints, traffic policy and failback policy, so Services alike in those (and in
    ``advertisements``) have equal terms: :mod:`.l2_replan` computes them once for all of them.
    """
    advertised_to = {name for name, facts in nodes.items() if _selected_by_any(advertisements, facts.labels)}
    candidates = eligible_nodes(
        speakers=nodes.keys(),
        nodes=nodes,
        advertised_to=advertised_to,
        endpoints=service.endpoints,
        local_traffic_policy=service.local_traffic_policy,
        ignore_exclude_label=ignore_exclude_label,
    )
    my_labels = nodes.get(me, NodeFacts()).labels
    mine = [ad for ad in advertisements if _selects(ad, my_labels)]
    draining = {name for name in candidates if drain_aware and nodes.get(name, NodeFacts()).draining}
    return ClaimTerms(
        frozenset(candidates),
        _interfaces(mine, suitable),
        preference_scores(advertisements, nodes, among=candidates) or _NO_SCORES,
        frozenset(draining) if draining else _NOBODY,
        _failback(service, advertisements) == NON_REVERTIVE,
    )


def failback_policy(config: Config, service: ServiceFacts, ip: IPAddress) -> str | None:
    """The failback policy of ``ip`` of ``service`` (:mod:`.failback`); None without L2Advertisement."""
    advertisements = selecting(config.l2_advertisements, pool_of_address(config, service, ip), service.labels)
    return _failback(service, advertisements) if advertisements else None


def _failback(service: ServiceFacts, advertisements: Iterable[L2Advertisement]) -> str:
    return effective_policy(service.failback, (ad.failback for ad in advertisements))


def preference_scores(
    advertisements: Iterable[L2Advertisement],
    nodes: Mapping[str, NodeFacts],
    among: Collection[str] | None = None,
) -> dict[str, int]:
    """The preference score of each node (of ``among``, default all) that scores above 0.

    ``advertisements`` are those selecting the IP. Scoring is per advertisement: it adds the
    weight of each of its ``preferredNodeSelectors`` a node matches (so weights add up), and
    only to the nodes its own ``nodeSelectors`` select; a node's score is the sum over
    ``advertisements``. An empty preference matches every node the advertisement selects.
    """
    scores: dict[str, int] = {}
    for ad in advertisements:
        if not ad.preferred_node_selectors:
            continue
        for name in nodes if among is None else among:
            labels = nodes.get(name, NodeFacts()).labels
            if not _selects(ad, labels):
                continue
            weight = sum(p.weight for p in ad.preferred_node_selectors if p.preference.matches(labels))
            if weight:
                scores[name] = scores.get(name, 0) + weight
    return scores


Holders = Mapping[IPAddress, Collection[str]]
"""For each IP, the nodes that say they hold it against the rank (non-revertive failback)."""


def owned(
    claims: Iterable[IPClaim],
    live: Collection[str],
    me: str,
    holders: Holders | None = None,
    ranks: Ranks | None = None,
) -> dict[IPAddress, list[IPClaim]]:
    """The claims this node announces now, by IP (shared IPs carry one claim per Service).

    ``holders`` count only for non-revertive claims (:func:`.ownership.announcer`); ``ranks``
    keeps each claim's candidate order from one decision to the next.
    """
    mine: dict[IPAddress, list[IPClaim]] = {}
    if me not in live:
        return mine
    for claim in claims:
        if claim.interfaces and _announcer(claim, live, holders, ranks) == me:
            mine.setdefault(claim.ip, []).append(claim)
    return mine


def successors(
    claims: Iterable[IPClaim],
    live: Collection[str],
    me: str,
    holders: Holders | None = None,
    ranks: Ranks | None = None,
) -> dict[IPAddress, str]:
    """The IPs of ``claims`` that a node other than ``me`` announces when ``live`` are alive, and that node.

    What a node hands over: when it leaves (``live`` without ``me``) or a new plan or member set
    ranks another node first, the new owner is the one whose announcement it waits for.
    """
    found: dict[IPAddress, str] = {}
    for claim in claims:
        node = _announcer(claim, live, holders, ranks)
        if node is not None and node != me:
            found[claim.ip] = node
    return found


def held(announced: Mapping[IPAddress, Sequence[IPClaim]], me: str) -> frozenset[IPAddress]:
    """The IPs ``me`` announces that it holds against the rank: what it tells its peers it keeps.

    Only non-revertive claims are held (:func:`.ownership.holds_against_rank`).
    """
    return frozenset(
        ip
        for ip, claims in announced.items()
        if any(c.non_revertive and holds_against_rank(c.key, me, c.candidates, c.scores) for c in claims)
    )


def _announcer(
    claim: IPClaim, live: Collection[str], holders: Holders | None, ranks: Ranks | None
) -> str | None:
    keeping = holders.get(claim.ip, ()) if holders and claim.non_revertive else ()
    return announcer(
        claim.key, claim.candidates, claim.draining, live, claim.scores, holders=keeping, ranks=ranks
    )


def by_interface(announced: Mapping[IPAddress, Sequence[IPClaim]]) -> dict[str, set[IPAddress]]:
    """The addresses to answer for on each interface, as the responder takes them."""
    result: dict[str, set[IPAddress]] = {}
    for ip, claims in announced.items():
        for claim in claims:
            for name in claim.interfaces:
                result.setdefault(name, set()).add(ip)
    return result


def parse_ips(texts: Iterable[str]) -> tuple[IPAddress, ...]:
    """The valid IPs among ``texts``, in order; anything else is skipped."""
    ips = []
    for text in texts:
        try:
            ips.append(parse_address(text))
        except ValueError:
            continue
    return tuple(ips)


def _selects(advertisement: L2Advertisement, labels: Mapping[str, str]) -> bool:
    return selected(advertisement.node_selectors, labels)


def _selected_by_any(advertisements: Iterable[L2Advertisement], labels: Mapping[str, str]) -> bool:
    return any(_selects(ad, labels) for ad in advertisements)


def _interfaces(mine: Sequence[L2Advertisement], suitable: Sequence[str]) -> tuple[str, ...]:
    if not mine:
        return ()
    if any(not ad.interfaces for ad in mine):
        return tuple(suitable)  # the same tuple when ``suitable`` is one
    return tuple(sorted({name for ad in mine for name in ad.interfaces}))
