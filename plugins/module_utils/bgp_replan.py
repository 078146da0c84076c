"""Keep one node's BGP plan current, planning again only the Services whose facts changed.

:func:`.bgp_plan.plan_node` walks every Service on every re-plan. What one node announces over
BGP depends on the configuration, on that node's own facts (its labels select the peers and
the advertisements' ``nodeSelectors``; its conditions and the exclude label its eligibility)
and on each Service's facts: never on another Node. So :class:`BGPNodePlans` keeps each
Service's announcements from the last plan and plans again only a Service whose facts object
changed; a change to the configuration, the node's name, its facts or the exclude-label option
plans everything again. When no Service's announcements changed, the routes are the last
plan's; otherwise they are merged again (:func:`.bgp_plan.merged_routes`).

The plan equals :func:`.bgp_plan.plan_node`'s. Pure: facts in, plan out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .bgp_plan import Announcement, NodePlan, merged_routes, peers_of_node, plan_service
from .config_model import Config
from .ownership import NodeFacts, ServiceFacts


class BGPNodePlans:
    """One node's :class:`.bgp_plan.NodePlan`, updated from full snapshots of the facts."""

    def __init__(self) -> None:
        self._basis: tuple[object, ...] | None = None  # what every Service's announcements depend on
        self._planned: dict[str, tuple[ServiceFacts, tuple[Announcement, ...]]] = {}
        self._order: list[str] = []  # the Service keys of the last plan, in the order given
        self._last: NodePlan | None = None
        self.replanned = 0  # Services planned again by the last :meth:`plan`

    def plan(
        self,
        config: Config,
        me: str,
        nodes: Mapping[str, NodeFacts],
        services: Sequence[ServiceFacts],
        ignore_exclude_label: bool = False,
    ) -> NodePlan:
        """What :func:`.bgp_plan.plan_node` returns for the same arguments."""
        my_facts = nodes.get(me, NodeFacts())
        basis = (config, me, my_facts, ignore_exclude_label)
        if basis != self._basis:
            self._basis, self._planned, self._order, self._last = basis, {}, [], None
        sessions = peers_of_node(config, my_facts)
        if not (sessions and config.bgp_advertisements):  # as plan_node: no walk at all
            self.replanned = 0
            return NodePlan(me, sessions, (), {peer.name: () for peer in sessions})
        planned: dict[str, tuple[ServiceFacts, tuple[Announcement, ...]]] = {}
        changed, self.replanned = False, 0
        for service in services:
            known = self._planned.get(service.key)
            if known is None or known[0] is not service:  # only this node's facts are read: pass them alone
                found = plan_service(
                    config,
                    service,
                    nodes={me: my_facts},
                    announcers=(me,),
                    ignore_exclude_label=ignore_exclude_label,
                )
                changed = changed or known is None or known[1] != found
                known = (service, found)
                self.replanned += 1
            planned[service.key] = known
        order = list(planned)
        if not changed and self._last is not None and order == self._order:
            self._planned = planned
            return self._last
        self._planned, self._order = planned, order
        announcements = tuple(item for _service, found in planned.values() for item in found)
        merged = merged_routes(announcements)
        routes = {peer.name: merged.get((me, peer.name), ()) for peer in sessions}
        self._last = NodePlan(me, sessions, announcements, routes)
        return self._last
