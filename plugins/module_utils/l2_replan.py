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
keeps its IPs, advertisements and ownership key and just takes the new terms. The Cluster
Services with one claimed IP are kept in groups alike (:class:`_Alike`): each group holds its
terms once and its Services' IPs and ownership keys, and makes a Service's claim when it is
first read. A Node's death gives each group it touches new terms at once, whatever its size,
and reports the group (:attr:`Replanned.retermed`), so the engine's order is brought up to date
once per group too; only ``Local`` Services and Services with several claimed IPs are re-termed
one by one. Equal candidate sets are shared between claims, so 10,000 claims over the same
1,000 Nodes hold one set.

Pure: facts in, claims out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, KeysView, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain

from .addresses import IPAddress
from .advertised import pool_of_address, selected, selecting
from .config_model import Config, L2Advertisement
from .l2_plan import ClaimTerms, IPClaim, claim_terms
from .ownership import EXCLUDE_LB_LABEL, NodeFacts, ServiceFacts, ownership_key

_INTERN_SLACK = 1024  # shared candidate sets created since the last pruning, before pruning again
AdsPerIP = tuple[tuple[int, ...], ...]  # for each IP of a Service, the positions of the ads selecting it
# What makes the terms of a Cluster Service's claim: the positions of the ads selecting the IP,
# its version, whether any endpoint serves, the Service's failback policy
Alike = tuple[tuple[int, ...], int, bool, "str | None"]


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
    retermed: tuple[frozenset[str], ...] = ()


class L2Plans:
    """The layer-2 claims of every Service, updated incrementally from full snapshots of the facts."""

    def __init__(self) -> None:
        self._settings: PlanSettings | None = None
        self._suitable: dict[
            int, tuple[str, ...]
        ] = {}  # the settings' interfaces, one tuple each for all claims
        self._nodes: dict[str, NodeFacts] = {}
        self._services: dict[str, ServiceFacts] = {}
        self._claims: dict[str, tuple[IPClaim, ...]] = {}  # of the Services planned one by one
        self._grouped: dict[str, _Alike] = {}  # the other Services with claims: their group
        self._groups: dict[Alike, _Alike] = {}
        self._ads_of: dict[str, AdsPerIP] = {}  # Service -> positions of the ads selecting each IP
        self._ads_shared: dict[AdsPerIP, AdsPerIP] = {}  # one tuple for the Services alike
        self._by_ad: dict[int, set[str]] = {}  # ad position -> non-Local Services it announces, not grouped
        self._groups_by_ad: dict[int, set[Alike]] = {}  # ad position -> groups it announces, serving
        self._by_endpoint_node: dict[str, set[str]] = {}  # Node -> Local Services with an endpoint there
        self._selected_by: dict[int, set[str]] = {}  # ad position -> Nodes its nodeSelectors select
        self._shared: dict[frozenset[str], frozenset[str]] = {}
        self._shared_since_pruning = 0
        # valid until a Node's planned facts change: ads -> Nodes they select; terms of Cluster claims
        self._views: dict[tuple[int, ...], dict[str, NodeFacts]] = {}
        self._terms: dict[Alike, ClaimTerms] = {}

    @property
    def claims(self) -> Mapping[str, tuple[IPClaim, ...]]:
        """The claims of every Service that has some, by Service key (a live view)."""
        return _Claims(self._claims, self._grouped)

    def all_claims(self) -> list[IPClaim]:
        """Every claim, ordered by Service key (then as :func:`.l2_plan.plan_service` orders them)."""
        claims = self.claims
        return [claim for key in sorted(claims) for claim in claims[key]]

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
        touched, touched_groups = self._touched_by_nodes(nodes)
        changed = self._services.keys() - fresh.keys()  # gone, then new or changed
        changed.update(key for key, service in fresh.items() if _changed(self._services.get(key), service))
        self._nodes = dict(nodes)
        for key in changed:
            self._unindex(key)
        self._services = fresh
        for key in changed:
            self._plan(key)
        self._replace_terms(touched - changed)
        replanned = touched | changed
        retermed = self._reterm(touched_groups, changed, replanned)
        self._prune_shared()
        return Replanned(frozenset(replanned), everything=False, retermed=retermed)

    # -- planning ------------------------------------------------------------------------------

    @property
    def _now(self) -> PlanSettings:
        """The settings of the update under way."""
        if self._settings is None:
            raise RuntimeError("L2Plans: no update yet")
        return self._settings

    def _replan_all(self) -> None:
        self._claims.clear()  # in place: the views of :attr:`claims` stay live
        self._grouped.clear()
        self._groups, self._ads_of = {}, {}
        self._by_ad, self._groups_by_ad, self._by_endpoint_node = {}, {}, {}
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
        claimed = [(ip, positions) for ip, positions in zip(service.ips, ads, strict=True) if positions]
        if len(claimed) == 1 and not service.local_traffic_policy:
            ((ip, positions),) = claimed
            self._join(key, (positions, ip.version, serving, service.failback), ip, owner_key)
        elif claimed:
            self._claims[key] = tuple(
                IPClaim(ip, key, owner_key, *self._claim_terms(service, positions, ip.version, serving))
                for ip, positions in claimed
            )
        self._index(service, ads, serving)

    def _join(self, key: str, alike: Alike, ip: IPAddress, owner_key: str) -> None:
        """Put the Service ``key``, whose one claimed IP is ``ip``, in the group ``alike``."""
        group = self._groups.get(alike)
        if group is None:
            group = self._groups[alike] = _Alike(alike, self._alike_terms(alike, self._services[key]))
            if alike[2]:  # serving: Nodes can change its terms
                for ad in alike[0]:
                    self._groups_by_ad.setdefault(ad, set()).add(alike)
        group.join(key, ip, owner_key)
        self._grouped[key] = group

    def _replace_terms(self, keys: Iterable[str]) -> None:
        """Plan the Services ``keys`` (planned one by one) again, unchanged, for other Nodes.

        Only their claims' terms change: their IPs, the IPs' advertisements (so which IPs have
        claims) and ownership keys stay, and so do the indexes. Only Services with an endpoint
        that can serve are indexed by Node or advertisement (:meth:`_index`), so only they are
        re-planned here: ``serving`` holds.
        """
        claims_of, services, ads_of, terms_of = self._claims, self._services, self._ads_of, self._claim_terms
        for key in keys:
            claims = claims_of.get(key)
            service = services.get(key)
            if not claims or service is None:
                continue
            selecting_ads = [positions for positions in ads_of[key] if positions]  # one per claim
            claims_of[key] = tuple(
                IPClaim(claim.ip, key, claim.key, *terms_of(service, positions, claim.ip.version, True))
                for claim, positions in zip(claims, selecting_ads, strict=True)
            )

    def _reterm(
        self, alikes: Iterable[Alike], changed: set[str], replanned: set[str]
    ) -> tuple[frozenset[str], ...]:
        """Give each group of ``alikes`` its terms over the Nodes now; add its Services to ``replanned``.

        Returns each group's Services but ``changed`` ones (planned afresh): :attr:`Replanned.retermed`.
        """
        retermed = []
        for alike in alikes:
            group = self._groups.get(alike)
            if group is None:
                continue  # its last Service left it
            terms = self._alike_terms(alike, self._services[group.any_key()])
            if terms is group.terms:
                continue  # made in this update: all its Services are changed ones
            group.take(terms)
            keys = group.keys()
            replanned.update(keys)
            if kept := frozenset(keys - changed if changed else keys):
                retermed.append(kept)
        return tuple(retermed)

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
        return self._alike_terms((positions, version, serving, service.failback), service)

    def _alike_terms(self, alike: Alike, service: ServiceFacts) -> ClaimTerms:
        """The terms of the Cluster claims ``alike`` (``service`` is one of them), once per update."""
        terms = self._terms.get(alike)
        if terms is None:
            positions, version = alike[0], alike[1]
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
        live.update(group.terms.candidates for group in self._groups.values())
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
        elif service.key not in self._grouped:  # a group is indexed as one (:meth:`_join`)
            for ad in {position for positions in ads for position in positions}:
                self._by_ad.setdefault(ad, set()).add(service.key)

    def _unindex(self, key: str) -> None:
        self._claims.pop(key, None)
        group = self._grouped.pop(key, None)
        if group is not None and group.leave(key):
            del self._groups[group.alike]
            for ad in group.alike[0]:
                self._groups_by_ad.get(ad, set()).discard(group.alike)
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

    def _touched_by_nodes(self, nodes: Mapping[str, NodeFacts]) -> tuple[set[str], set[Alike]]:
        """The Services planned one by one and the groups whose plan can read a Node that changed.

        Changed: came, went, or changed a fact the plan reads (:func:`_signature`).
        Keeps the Nodes each advertisement selects current, and forgets the terms computed from
        the Nodes as they were.
        """
        ads = self._now.config.l2_advertisements
        touched: set[str] = set()
        groups: set[Alike] = set()
        for name in nodes.keys() | self._nodes.keys():
            old, new = self._nodes.get(name), nodes.get(name)
            if not _changed(old, new) or _signature(ads, old) == _signature(ads, new):
                continue
            self._views, self._terms = {}, {}
            touched |= self._by_endpoint_node.get(name, set())
            for i, ad in enumerate(ads):
                if any(facts is not None and _selects(ad, facts) for facts in (old, new)):
                    touched |= self._by_ad.get(i, set())
                    groups |= self._groups_by_ad.get(i, set())
                if new is not None and _selects(ad, new):
                    self._selected_by.setdefault(i, set()).add(name)
                else:
                    self._selected_by.get(i, set()).discard(name)
        return touched, groups


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


class _Alike:
    """Cluster Services with one claimed IP each and claim terms alike: the terms, kept once for all.

    A Service's claim is made from its IP, its ownership key and the group's terms when first
    read, and kept until the group takes new terms.
    """

    __slots__ = ("_heads", "_made", "alike", "terms")

    def __init__(self, alike: Alike, terms: ClaimTerms) -> None:
        self.alike = alike
        self.terms = terms
        self._heads: dict[str, tuple[IPAddress, str]] = {}  # Service key -> its IP and ownership key
        self._made: dict[str, tuple[IPClaim]] = {}  # the claims made since the terms were taken

    def join(self, key: str, ip: IPAddress, owner_key: str) -> None:
        """Take the Service ``key`` in (not in the group: it left first), its one claimed IP being ``ip``."""
        self._heads[key] = (ip, owner_key)

    def leave(self, key: str) -> bool:
        """Let the Service ``key`` go; whether the group is empty now."""
        del self._heads[key]
        self._made.pop(key, None)
        return not self._heads

    def take(self, terms: ClaimTerms) -> None:
        """Give every Service of the group the claim terms ``terms``."""
        self.terms, self._made = terms, {}

    def keys(self) -> KeysView[str]:
        """The Services' keys."""
        return self._heads.keys()

    def any_key(self) -> str:
        """One Service's key."""
        return next(iter(self._heads))

    def claims_of(self, key: str) -> tuple[IPClaim]:
        """The claims of the Service ``key`` (one), the same tuple until the terms change."""
        made = self._made.get(key)
        if made is None:
            ip, owner_key = self._heads[key]
            made = self._made[key] = (IPClaim._make((ip, key, owner_key, *self.terms)),)
        return made


class _Claims(Mapping[str, tuple[IPClaim, ...]]):
    """Every Service's claims: those planned one by one, and those of the groups, made when read."""

    __slots__ = ("_grouped", "_own")

    def __init__(self, own: Mapping[str, tuple[IPClaim, ...]], grouped: Mapping[str, _Alike]) -> None:
        self._own, self._grouped = own, grouped

    def __getitem__(self, key: str) -> tuple[IPClaim, ...]:
        claims = self._own.get(key)
        return self._grouped[key].claims_of(key) if claims is None else claims

    def __contains__(self, key: object) -> bool:
        return key in self._own or key in self._grouped

    def __iter__(self) -> Iterator[str]:
        return chain(self._own, self._grouped)

    def __len__(self) -> int:
        return len(self._own) + len(self._grouped)
