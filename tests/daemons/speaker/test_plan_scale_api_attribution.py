"""The through-API plan bench times a change to the re-plan that took its notice in.

A re-plan that began before the informer saw a change still takes it in if its notice came
before the planner read its notices; the bench must time that re-plan, not the (empty) one
after it, and must never credit a re-plan that read its notices before the change came.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.cluster_state import Caches
from bench.l2_plan_scale import IncrementalPlanner, Shape, Store
from bench.l2_plan_scale_api import _PLAN, InformerStore, PlanningLoop

WAIT = 5.0  # seconds any step of the test may take on a busy machine


class GatedPlanner:
    """A planner that reads the store's notices as the real one does, at points the test chooses."""

    def __init__(self, store: InformerStore) -> None:
        self.store = store
        self.took = 0
        self.replanned = 0  # which re-plan this was: 1, 2, ...
        self.entered = threading.Event()
        self.may_read = threading.Event()
        self.read = threading.Event()
        self.may_finish = threading.Event()

    def replan(self) -> None:
        self.entered.set()
        assert self.may_read.wait(WAIT)
        self.took = self.store.handed_over
        self.read.set()
        assert self.may_finish.wait(WAIT)
        self.replanned += 1


def _store() -> InformerStore:
    empty = SimpleNamespace(get={}.get)
    return InformerStore(empty, empty, empty)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("when", "credited"),
    [
        ("notice arrives after the re-plan began but before it read its notices", 1),
        ("notice arrives after the re-plan read its notices", 2),
    ],
)
def test_the_replan_that_took_the_notice_in_is_timed(when: str, credited: int) -> None:
    store = _store()
    planner = GatedPlanner(store)
    loop = PlanningLoop(planner)  # type: ignore[arg-type]
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    thread.start()
    try:
        loop.queue.add(_PLAN)  # re-plan 1 begins (say, for a heartbeat)
        assert planner.entered.wait(WAIT)
        if credited == 2:
            planner.may_read.set()
            assert planner.read.wait(WAIT)
        notice = store.hand_over("node", "node-7")
        loop.queue.add(_PLAN)  # the informer's handler asks for re-plan 2
        planner.may_read.set()
        planner.may_finish.set()
        replan = loop.wait_replan_taking(notice, WAIT)
        assert replan is not None, when
        assert (replan.replanned, replan.took >= notice) == (credited, True), when
    finally:
        stop.set()
        loop.queue.close()
        thread.join(WAIT)


class NoticeDuringRead(Store):
    """A store whose informers hand over one more notice while the planner reads its caches."""

    def caches(self) -> Caches:
        self.handed_over += 1
        return super().caches()


def test_the_planner_counts_the_notices_it_had_before_it_read_them() -> None:
    shape = Shape(nodes=3, services=2, announcing_nodes=1)
    store = NoticeDuringRead()
    planner = IncrementalPlanner(store, shape.config())
    store.handed_over = 4
    planner.replan()
    assert planner.took == 4  # the fifth came while it read: a later re-plan takes it in
