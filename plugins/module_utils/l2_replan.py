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

Each Service is still planned by :func:`.l2_plan.plan_service`, from the Nodes that could be
its candidates (those an advertisement selecting it selects, only its endpoints' Nodes for
``Local``, and this node): the claims equal a full re-plan's. Equal candidate sets are shared
between claims, so 10,000 claims over the same 1,000 Nodes hold one set.

Pure: facts in, claims out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .advertised import pool_of_address, selected, selecting
from .config_model import Config, L2Advertisement
from .l2_plan import IPClaim, plan_service
from .ownership import EXCLUDE_LB_LABEL, NodeFacts, ServiceFacts

_INTERN_SLACK = 1024  # shared candidate sets created since the last pruning, before pruning again


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
    """What one :meth:`L2Plans.update` re-planned: the Services' keys (gone ones too), or all."""

    services: frozenset[str]
    everything: bool


class L2Plans:
    """The layer-2 claims of every Service, updated incrementally from full snapshots of the facts."""

    def __init__(self) -> None:
        self._settings: PlanSettings | None = None
        self._nodes: dict[str, NodeFacts] = {}
        self._services: dict[str, ServiceFacts] = {}
        self._claims: dict[str, tuple[IPClaim, ...]] = {}
        self._ads_of: dict[str, frozenset[int]] = {}  # Service -> positions of the ads selecting it
        self._by_ad: dict[int, set[str]] = {}  # ad position -> non-Local Services it announces
        self._by_endpoint_node: dict[str, set[str]] = {}  # Node -> Local Services with an endpoint there
        self._selected_by: dict[int, set[str]] = {}  # ad position -> Nodes its nodeSelectors select
        self._shared: dict[frozenset[str], frozenset[str]] = {}
        self._shared_since_pruning = 0
        self._views: dict[frozenset[int], dict[str, NodeFacts]] = {}  # per update: ads -> Nodes they select

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
        self._views = {}
        if settings != self._settings or _changed(self._nodes.get(settings.me), nodes.get(settings.me)):
            self._settings = settings
            self._nodes = dict(nodes)
            self._services = fresh
            self._replan_all()
            return Replanned(frozenset(self._services), everything=True)
        touched = self._services_touched_by_nodes(nodes)
        touched |= {
            key
            for key in fresh.keys() | self._services.keys()
            if _changed(self._services.get(key), fresh.get(key))
        }
        self._nodes = dict(nodes)
        for key in touched:
            self._unindex(key)
        self._services = fresh
        self._selected_by = self._node_selection()
        for key in touched:
            self._plan(key)
        self._prune_shared()
        return Replanned(frozenset(touched), everything=False)

    # -- planning ------------------------------------------------------------------------------

    @property
    def _now(self) -> PlanSettings:
        """The settings of the update under way."""
        if self._settings is None:
            raise RuntimeError("L2Plans: no update yet")
        return self._settings

    def _replan_all(self) -> None:
        self._claims, self._ads_of, self._by_ad, self._by_endpoint_node = {}, {}, {}, {}
        self._shared, self._shared_since_pruning = {}, 0
        self._selected_by = self._node_selection()
        for key in self._services:
            self._plan(key)

    def _plan(self, key: str) -> None:
        service = self._services.get(key)
        settings = self._now
        if service is None:
            return
        ads = self._advertisements_of(service)
        claims = plan_service(
            service,
            config=settings.config,
            nodes=self._candidate_nodes(service, ads),
            me=settings.me,
            suitable_interfaces=settings.suitable_interfaces,
            ignore_exclude_label=settings.ignore_exclude_label,
            drain_aware=settings.drain_aware,
        )
        if claims:
            self._claims[key] = tuple(self._with_shared_candidates(claim) for claim in claims)
        self._index(service, ads)

    def _candidate_nodes(self, service: ServiceFacts, ads: frozenset[int]) -> dict[str, NodeFacts]:
        """The Nodes that could be ``service``'s candidates, and this node: what its plan reads."""
        if service.local_traffic_policy:
            names = {endpoint.node for endpoint in service.endpoints if endpoint.node and endpoint.can_serve}
            names.add(self._now.me)
            return {name: self._nodes[name] for name in names if name in self._nodes}
        view = self._views.get(ads)
        if view is None:  # the same for every non-Local Service these advertisements select
            names = {name for ad in ads for name in self._selected_by.get(ad, ())}
            names.add(self._now.me)
            view = self._views[ads] = {name: self._nodes[name] for name in names if name in self._nodes}
        return view

    def _with_shared_candidates(self, claim: IPClaim) -> IPClaim:
        shared = self._shared.setdefault(claim.candidates, claim.candidates)
        if shared is claim.candidates:
            self._shared_since_pruning += 1
            return claim
        return dataclasses.replace(claim, candidates=shared)

    def _prune_shared(self) -> None:
        if self._shared_since_pruning < _INTERN_SLACK:
            return
        live = {claim.candidates for claims in self._claims.values() for claim in claims}
        self._shared = {candidates: candidates for candidates in live}
        self._shared_since_pruning = 0

    # -- what depends on what ------------------------------------------------------------------

    def _advertisements_of(self, service: ServiceFacts) -> frozenset[int]:
        """The positions in the configuration of the L2Advertisements selecting any IP of ``service``."""
        config = self._now.config
        position = {id(ad): i for i, ad in enumerate(config.l2_advertisements)}
        return frozenset(
            position[id(ad)]
            for ip in service.ips
            for ad in selecting(
                config.l2_advertisements, pool_of_address(config, service, ip), service.labels
            )
        )

    def _index(self, service: ServiceFacts, ads: frozenset[int]) -> None:
        if not any(endpoint.can_serve for endpoint in service.endpoints):
            return  # no candidates whatever the Nodes: only this node's facts matter
        self._ads_of[service.key] = ads
        if service.local_traffic_policy:
            for node in {endpoint.node for endpoint in service.endpoints if endpoint.node}:
                self._by_endpoint_node.setdefault(node, set()).add(service.key)
        else:
            for ad in ads:
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
            for ad in ads:
                self._by_ad.get(ad, set()).discard(key)

    def _node_selection(self) -> dict[int, set[str]]:
        return {
            i: {name for name, facts in self._nodes.items() if _selects(ad, facts)}
            for i, ad in enumerate(self._now.config.l2_advertisements)
        }

    def _services_touched_by_nodes(self, nodes: Mapping[str, NodeFacts]) -> set[str]:
        """The Services whose plan can read a Node that came, went or changed a fact the plan reads."""
        ads = self._now.config.l2_advertisements
        touched: set[str] = set()
        for name in nodes.keys() | self._nodes.keys():
            old, new = self._nodes.get(name), nodes.get(name)
            if not _changed(old, new) or _signature(ads, old) == _signature(ads, new):
                continue
            touched |= self._by_endpoint_node.get(name, set())
            for i, ad in enumerate(ads):
                if any(facts is not None and _selects(ad, facts) for facts in (old, new)):
                    touched |= self._by_ad.get(i, set())
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
