"""Keep every Service's layer-2 claims current, re-planning only the Services a change touches.

:func:`.l2_plan.plan_service` plans one Service from the facts of every Node. A speaker at
cluster scale (1,000 Nodes, 10,000 Services) cannot afford to call it for every Service on
every change, so :class:`L2Plans` keeps the claims of the last plan and, given the new facts,
re-plans only:

* a Service whose facts changed (its ingress, labels, traffic policy or EndpointSlices);
* for a Node that came, went, or changed a fact the plan reads (its selection by an
  L2Advertisement, its preference weight under one, NetworkUnavailable, the exclude label,
  draining): the ``externalTrafficPolicy: Local`` Services with an endpoint on it and the other
  Services that an advertisement selecting it announces. A change the plan does not read (a
  Node going NotReady, a heartbeat) re-plans nothing: liveness is the engine's business;
* everything, when the configuration, this node's name, its interfaces, the options, or this
  node's own facts changed.

Each claim's terms (candidates, interfaces, scores, draining, failback) come from
:func:`.l2_plan.claim_terms`, the function :func:`.l2_plan.plan_service` uses, over the Nodes
that could be its candidates (those an advertisement selecting it selects, only its endpoints'
Nodes for ``Local``, and this node): the claims equal a full re-plan's. The terms of a Cluster
Service depend only on the advertisements selecting the IP, its version, whether any endpoint
serves and the Service's failback policy, so they are computed once for all Services alike and
kept until a Node's planned facts change. A Service re-planned only because Nodes changed
keeps its IPs, advertisements and ownership key and just takes the new terms: a Node's death
costs a dictionary look-up and a claim per Service it touches, and the Services that took the
same terms are reported as one group (:attr:`Replanned.retermed`), so the engine's order can
be brought up to date once per group rather than once per Service. Equal candidate sets are shared
between claims, so 10,000 claims over the same 1,000 Nodes hold one set.

Pure: facts in, claims out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .advertised import pool_of_address, selected, selecting
from .config_model import Config, L2Advertisement
from .l2_plan import ClaimTerms, IPClaim, claim_terms
from .ownership import EXCLUDE_LB_LABEL, NodeFacts, ServiceFacts, ownership_key

_INTERN_SLACK = 1024  # shared candidate sets created since the last pruning, before pruning again
AdsPerIP = tuple[tuple[int, ...], ...]  # for each IP of a Service, the positions of the ads selecting it


@dataclass(frozen=True)
class PlanSettings:
    """What every Service's plan depends on besides the Nodes and the Service: a change re-plans all."""

    config: Config
    me: str
    suitable_interfaces: Mapping[int, Sequence[str]] = field(default_factory=dict)
    ignore_exclude_label: bool = False
    drain_aware: bool = True


@dataclass(frozen=True)
class Replanned:
    """What one :meth:`L2Plans.update` re-planned: the Services' keys (gone ones too), or all.

    ``retermed``: groups of keys among ``services`` re-planned only because Nodes changed, one
    group per set of terms: each Service of a group had one claim and has one now, of the same
    IP and ownership key; the claims of a group had equal terms before and share one set of
    terms now. So whoever follows the claims can take a group's new terms once for all of it.
    """

    services: frozenset[str]
    everything: bool
    retermed: tuple[tuple[str, ...], ...] = ()


class L2Plans:
    """The layer-2 claims of every Service, updated incrementally from full snapshots of the facts."""

    def __init__(self) -> None:
        self._settings: PlanSettings | None = None
        self._suitable: dict[
            int, tuple[str, ...]
        ] = {}  # the settings' interfaces, one tuple each for all claims
        self._nodes: dict[str, NodeFacts] = {}
        self._services: dict[str, ServiceFacts] = {}
        self._claims: dict[str, tuple[IPClaim, ...]] = {}
        self._ads_of: dict[str, AdsPerIP] = {}  # Service -> positions of the ads selecting each IP
        self._ads_shared: dict[AdsPerIP, AdsPerIP] = {}  # one tuple for the Services alike
        self._by_ad: dict[int, set[str]] = {}  # ad position -> non-Local Services it announces
        self._by_endpoint_node: dict[str, set[str]] = {}  # Node -> Local Services with an endpoint there
        self._selected_by: dict[int, set[str]] = {}  # ad position -> Nodes its nodeSelectors select
        self._shared: dict[frozenset[str], frozenset[str]] = {}
        self._shared_since_pruning = 0
        # valid until a Node's planned facts change: ads -> Nodes they select; terms of Cluster claims
        self._views: dict[tuple[int, ...], dict[str, NodeFacts]] = {}
        self._terms: dict[tuple[object, ...], ClaimTerms] = {}

    @property
    def claims(self) -> Mapping[str, tuple[IPClaim, ...]]:
        """The claims of every Service that has some, by Service key."""
        return self._claims

    def all_claims(self) -> list[IPClaim]:
        """Every claim, ordered by Service key (then as :func:`.l2_plan.plan_service` orders them)."""
        return [claim for key in sorted(self._claims) for claim in self._claims[key]]

    def update(
        self, settings: PlanSettings, nodes: Mapping[str, NodeFacts], services: Iterable[ServiceFacts]
    ) -> Replanned:
        """Bring the claims up to date with ``nodes`` (every Node) and ``services`` (every served one)."""
        fresh = {service.key: service for service in services}
        if settings != self._settings or _changed(self._nodes.get(settings.me), nodes.get(settings.me)):
            self._settings = settings
            self._suitable = {
                version: tuple(names) for version, names in settings.suitable_interfaces.items()
            }
            self._nodes = dict(nodes)
            self._services = fresh
            self._replan_all()
            return Replanned(frozenset(self._services), everything=True)
        touched = self._services_touched_by_nodes(nodes)
        changed = self._services.keys() - fresh.keys()  # gone, then new or changed
        changed.update(key for key, service in fresh.items() if _changed(self._services.get(key), service))
        self._nodes = dict(nodes)
        for key in changed:
            self._unindex(key)
        self._services = fresh
        for key in changed:
            self._plan(key)
        retermed = self._replace_terms(touched - changed)
        self._prune_shared()
        return Replanned(frozenset(touched | changed), everything=False, retermed=retermed)

    # -- planning ------------------------------------------------------------------------------

    @property
    def _now(self) -> PlanSettings:
        """The settings of the update under way."""
        if self._settings is None:
            raise RuntimeError("L2Plans: no update yet")
        return self._settings

    def _replan_all(self) -> None:
        self._claims, self._ads_of, self._by_ad, self._by_endpoint_node = {}, {}, {}, {}
        self._ads_shared, self._shared, self._shared_since_pruning = {}, {}, 0
        self._views, self._terms = {}, {}
        ads = self._now.config.l2_advertisements
        self._selected_by = {
            i: {name for name, facts in self._nodes.items() if _selects(ad, facts)}
            for i, ad in enumerate(ads)
        }
        for key in self._services:
            self._plan(key)

    def _plan(self, key: str) -> None:
        service = self._services.get(key)
        if service is None:
            return
        ads = self._advertisements_of(service)
        serving = any(endpoint.can_serve for endpoint in service.endpoints)
        owner_key = ownership_key(service.ips)
        claims = [
            IPClaim(ip, key, owner_key, *self._claim_terms(service, positions, ip.version, serving))
            for ip, positions in zip(service.ips, ads, strict=True)
            if positions
        ]
        if claims:
            self._claims[key] = tuple(claims)
        self._index(service, ads, serving)

    def _replace_terms(self, keys: Iterable[str]) -> tuple[tuple[str, ...], ...]:
        """Plan the Services ``keys`` again, unchanged, for other Nodes: only their claims' terms change.

        Their IPs, the IPs' advertisements (so which IPs have claims) and ownership keys stay, and
        so do the indexes. Only Services with an endpoint that can serve are indexed by Node or
        advertisement (:meth:`_index`), so only they are re-planned here: ``serving`` holds.
        One loop for all (a Node's death re-plans thousands), its look-ups bound once; claims are
        made from a tuple (``_make``), quicker than a call with arguments.

        Returns the one-claim Cluster Services grouped by the terms object they took (one per
        Services alike, :meth:`_claim_terms`): :attr:`Replanned.retermed`.
        """
        claims_of, services, ads_of, terms_of = self._claims, self._services, self._ads_of, self._claim_terms
        make = IPClaim._make
        groups: dict[int, list[str]] = {}  # id of the shared terms: the Services that took them
        for key in keys:
            claims = claims_of.get(key)
            service = services.get(key)
            if not claims or service is None:
                continue
            ads = ads_of[key]
            if len(ads) == 1:  # one IP, one claim: the usual case, quicker
                (claim,) = claims
                terms = terms_of(service, ads[0], claim.ip.version, True)
                claims_of[key] = (make((claim.ip, key, claim.key, *terms)),)
                if not service.local_traffic_policy:  # Local Services' terms are their own
                    group = groups.get(id(terms))
                    if group is None:
                        groups[id(terms)] = [key]
                    else:
                        group.append(key)
                continue
            selecting_ads = [positions for positions in ads if positions]  # one per claim
            claims_of[key] = tuple(
                make((claim.ip, key, claim.key, *terms_of(service, positions, claim.ip.version, True)))
                for claim, positions in zip(claims, selecting_ads, strict=True)
            )
        return tuple(tuple(group) for group in groups.values())

    def _claim_terms(
        self, service: ServiceFacts, positions: tuple[int, ...], version: int, serving: bool
    ) -> ClaimTerms:
        """:func:`.l2_plan.claim_terms`, computed once per update for Cluster Services alike.

        ``serving``: whether any endpoint of ``service`` can serve.
        """
        if service.local_traffic_policy:
            names = {endpoint.node for endpoint in service.endpoints if endpoint.node and endpoint.can_serve}
            names.add(self._now.me)
            return self._terms_over(
                service, positions, version, {n: self._nodes[n] for n in names if n in self._nodes}
            )
        alike = (positions, version, serving, service.failback)
        terms = self._terms.get(alike)
        if terms is None:
            terms = self._terms[alike] = self._terms_over(service, positions, version, self._view(positions))
        return terms

    def _terms_over(
        self, service: ServiceFacts, positions: tuple[int, ...], version: int, nodes: Mapping[str, NodeFacts]
    ) -> ClaimTerms:
        settings = self._now
        terms = claim_terms(
            [settings.config.l2_advertisements[i] for i in positions],
            service,
            nodes=nodes,
            me=settings.me,
            suitable=self._suitable.get(version, ()),
            ignore_exclude_label=settings.ignore_exclude_label,
            drain_aware=settings.drain_aware,
        )
        shared = self._shared.setdefault(terms.candidates, terms.candidates)
        if shared is terms.candidates:
            self._shared_since_pruning += 1
            return terms
        return terms._replace(candidates=shared)

    def _view(self, positions: tuple[int, ...]) -> dict[str, NodeFacts]:
        """The Nodes the advertisements at ``positions`` select, and this node: what a Cluster plan reads."""
        view = self._views.get(positions)
        if view is None:
            names = {name for ad in positions for name in self._selected_by.get(ad, ())}
            names.add(self._now.me)
            view = self._views[positions] = {name: self._nodes[name] for name in names if name in self._nodes}
        return view

    def _prune_shared(self) -> None:
        if self._shared_since_pruning < _INTERN_SLACK:
            return
        live = {claim.candidates for claims in self._claims.values() for claim in claims}
        self._shared = {candidates: candidates for candidates in live}
        self._shared_since_pruning = 0

    # -- what depends on what ------------------------------------------------------------------

    def _advertisements_of(self, service: ServiceFacts) -> AdsPerIP:
        """For each IP of ``service``, the positions in the configuration of the ads selecting it."""
        config = self._now.config
        position = {id(ad): i for i, ad in enumerate(config.l2_advertisements)}
        ads = tuple(
            tuple(
                position[id(ad)]
                for ad in selecting(
                    config.l2_advertisements, pool_of_address(config, service, ip), service.labels
                )
            )
            for ip in service.ips
        )
        return self._ads_shared.setdefault(ads, ads)

    def _index(self, service: ServiceFacts, ads: AdsPerIP, serving: bool) -> None:
        self._ads_of[service.key] = ads
        if not serving:
            return  # no candidates whatever the Nodes: only this node's facts matter
        if service.local_traffic_policy:
            for node in {endpoint.node for endpoint in service.endpoints if endpoint.node}:
                self._by_endpoint_node.setdefault(node, set()).add(service.key)
        else:
            for ad in {position for positions in ads for position in positions}:
                self._by_ad.setdefault(ad, set()).add(service.key)

    def _unindex(self, key: str) -> None:
        self._claims.pop(key, None)
        service = self._services.get(key)
        ads = self._ads_of.pop(key, None)
        if service is None or ads is None:
            return
        if service.local_traffic_policy:
            for node in {endpoint.node for endpoint in service.endpoints if endpoint.node}:
                self._by_endpoint_node.get(node, set()).discard(key)
        else:
            for ad in {position for positions in ads for position in positions}:
                self._by_ad.get(ad, set()).discard(key)

    def _services_touched_by_nodes(self, nodes: Mapping[str, NodeFacts]) -> set[str]:
        """The Services whose plan can read a Node that came, went or changed a fact the plan reads.

        Keeps the Nodes each advertisement selects current, and forgets the terms computed from
        the Nodes as they were.
        """
        ads = self._now.config.l2_advertisements
        touched: set[str] = set()
        for name in nodes.keys() | self._nodes.keys():
            old, new = self._nodes.get(name), nodes.get(name)
            if not _changed(old, new) or _signature(ads, old) == _signature(ads, new):
                continue
            self._views, self._terms = {}, {}
            touched |= self._by_endpoint_node.get(name, set())
            for i, ad in enumerate(ads):
                if any(facts is not None and _selects(ad, facts) for facts in (old, new)):
                    touched |= self._by_ad.get(i, set())
                if new is not None and _selects(ad, new):
                    self._selected_by.setdefault(i, set()).add(name)
                else:
                    self._selected_by.get(i, set()).discard(name)
        return touched


def _changed(old: object, new: object) -> bool:
    return old is not new and old != new


def _selects(ad: L2Advertisement, node: NodeFacts) -> bool:
    return selected(ad.node_selectors, node.labels)


def _signature(ads: Sequence[L2Advertisement], node: NodeFacts | None) -> tuple[object, ...] | None:
    """Every fact of ``node`` a Service's plan reads, given the L2Advertisements ``ads``."""
    if node is None:
        return None
    return (
        node.network_unavailable,
        EXCLUDE_LB_LABEL in node.labels,
        node.draining,
        tuple(_selects(ad, node) for ad in ads),
        tuple(
            sum(p.weight for p in ad.preferred_node_selectors if p.preference.matches(node.labels))
            for ad in ads
        ),
    )
