"""The speaker's Kubernetes half plans incrementally and sends the engine what a full re-plan would.

A short version of ``bench/l2_plan_scale_bench.py``: the bench's cluster at 60 Nodes and 600
Services, the speaker's own pieces (``ClusterFacts``, ``Layer2Planning``) against the planning
before them (every fact, every Service, ``claims_to_json`` and ``encode``). After each change
and after its undo, the engine's ``plan`` line must be byte for byte the full planner's, and
only the Services the change touches may be re-planned.
"""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.engine_process import encode
from ansible_collections.baremetal.lb.daemons.speaker.layer2.planning import PlanOrder
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


def _same_line(full: FullPlanner, incremental: IncrementalPlanner) -> bool:
    return encode({"plan": full.sent}) == incremental.sent


# change: (Services the incremental planner may re-plan at most, at least)
CHANGES = {
    "endpoint": (1, 1),
    "node-notready": (0, 0),
    "node-delete": (SHAPE.services // 10, 1),
    "announcer-delete": (SHAPE.services, SHAPE.services // 4),
}


@pytest.mark.parametrize("name", CHANGES)
def test_one_change_replans_only_what_it_touches_and_sends_the_full_plans_line(name: str) -> None:
    store, full, incremental = _planned()
    assert _same_line(full, incremental), "the first plans differ"
    change = changes(SHAPE, store)[name]
    most, least = CHANGES[name]

    change.apply()
    full.replan()
    incremental.replan()
    assert _same_line(full, incremental), f"plans differ after {name}"
    assert least <= incremental.replanned <= most

    change.undo()
    full.replan()
    incremental.replan()
    assert _same_line(full, incremental), f"plans differ after undoing {name}"


def test_the_plan_line_is_not_joined_again_when_no_services_claims_changed() -> None:
    """With every Node a candidate the line is tens of MB: a re-plan that changed nothing reuses it."""
    _store, _full, incremental = _planned()
    order = PlanOrder()
    first = order.update(incremental.planning.claims)
    assert order.update(dict(incremental.planning.claims)) is first
    assert first == incremental.sent
