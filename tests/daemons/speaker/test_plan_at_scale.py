"""The speaker's Kubernetes half plans incrementally and sends the engine what a full re-plan would.

A short version of ``bench/l2_plan_scale_bench.py``: the bench's cluster at 60 Nodes and 600
Services, the speaker's own pieces (``ClusterFacts``, ``Layer2Planning``) against the planning
before them (every fact, every Service, ``plan_to_json`` and ``encode``). After each change
and after its undo, the whole ``plan`` line must carry the full planner's claims, the engine,
fed the first order (the whole plan) and then only the changes, must hold the same
claims, and only the Services the change touches may be re-planned.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.layer2 import planning
from ansible_collections.baremetal.lb.daemons.speaker.layer2.engine_messages import (
    PlannedClaims,
    plan_from_json,
)
from ansible_collections.baremetal.lb.daemons.speaker.layer2.planning import PlanOrder
from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import IPClaim
from bench.l2_decide_scale_bench import take, whole_plan_claims
from bench.l2_plan_scale import FullPlanner, IncrementalPlanner, Shape, Store, build_store, changes

SHAPE = Shape(nodes=60, services=600, announcing_nodes=6)


def _planned() -> tuple[Store, FullPlanner, IncrementalPlanner]:
    store = build_store(SHAPE)
    full = FullPlanner(store, SHAPE.config())
    incremental = IncrementalPlanner(store, SHAPE.config())
    for kind, objects in (("node", store.nodes), ("service", store.services), ("slice", store.slices)):
        for key in objects:
            store.notify(kind, key)
    full.replan()
    incremental.replan()
    return store, full, incremental


def _carried(line: bytes) -> dict[str, list[IPClaim]]:
    return plan_from_json(json.loads(line)["plan"])


def _same_line(full: FullPlanner, incremental: IncrementalPlanner) -> bool:
    return plan_from_json(full.sent) == _carried(incremental.planning.whole_line)


def _engine_has_the_whole_plan(engine: PlannedClaims, incremental: IncrementalPlanner) -> bool:
    return engine.claims == whole_plan_claims(incremental.planning.whole_line)


# change: (Services the incremental planner may re-plan at most, at least)
CHANGES = {
    "endpoint": (1, 1),
    "node-notready": (0, 0),
    "node-delete": (SHAPE.services // 10, 1),
    "announcer-delete": (SHAPE.services, SHAPE.services // 4),
}


@pytest.mark.parametrize("name", CHANGES)
def test_one_change_replans_only_what_it_touches_and_the_engine_ends_with_the_full_plan(name: str) -> None:
    store, full, incremental = _planned()
    assert _same_line(full, incremental), "the first plans differ"
    engine = PlannedClaims()
    take(engine, incremental.sent)  # the first order: the whole plan
    change = changes(SHAPE, store)[name]
    most, least = CHANGES[name]

    for step, done in ((change.apply, name), (change.undo, f"undoing {name}")):
        sent_before = incremental.sent
        step()
        full.replan()
        incremental.replan()
        assert _same_line(full, incremental), f"plans differ after {done}"
        if incremental.sent is not sent_before:
            assert b'"plan_changes"' in incremental.sent[:20], "after the first, only changes are sent"
            take(engine, incremental.sent)
        assert _engine_has_the_whole_plan(engine, incremental), f"the engine's claims differ after {done}"
    assert least <= incremental.replanned <= most


def test_the_plan_line_is_not_joined_again_when_no_services_claims_changed() -> None:
    """With every Node a candidate the line is tens of MB: a re-plan that changed nothing reuses it."""
    _store, _full, incremental = _planned()
    order = PlanOrder()
    order.update(incremental.planning.claims)
    first = order.line
    assert order.changes_line() is not None  # every Service is news at first
    order.update(dict(incremental.planning.claims))
    assert order.line is first
    assert order.changes_line() is None
    assert _carried(first) == _carried(incremental.planning.whole_line)


def test_an_announcing_nodes_death_reaches_the_order_by_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """The speaker hands ``PlanOrder`` the planner's groups: it shapes only the Services outside them."""
    store, _full, incremental = _planned()
    shaped: list[str] = []
    shape = planning._shape

    def noting_shape(planned: tuple[IPClaim, ...], *rest: Any) -> Any:
        shaped.append(planned[0].service)
        return shape(planned, *rest)

    monkeypatch.setattr(planning, "_shape", noting_shape)
    changes(SHAPE, store)["announcer-delete"].apply()
    incremental.replan()
    local = {key for key, service in incremental.facts.services.items() if service.local_traffic_policy}
    assert incremental.replanned >= SHAPE.services // 4
    assert shaped, "the Local Services it touched are shaped one by one"
    assert set(shaped) <= local, "no Cluster Service of a group was shaped"
