"""Benchmark the layer-2 engine's side at cluster scale: taking orders in, and deciding over them.

    PYTHONPATH=.build/collections:. .venv/bin/python -m bench.l2_decide_scale_bench [--nodes 1000]
        [--services 10000] [--announcing-nodes 10] [--local-share 0.2] [--reps 5]

:mod:`bench.l2_plan_scale_bench` times the speaker's Kubernetes half up to the order it sends
the engine. The engine process then reads that order and decides, over every claim, which IPs
this node answers for; it decides again on every change of the live members (a peer's death:
the failover path) and of what the peers hold. This bench builds the same cluster in memory
(the plan bench's shapes and changes), has the speaker's incremental planner write the orders,
feeds them to the engine's :class:`~...layer2.engine_messages.PlannedClaims`, freezes what it
holds then (``heap.freeze_long_lived``, as both of the speaker's processes do after their first
plan) and times, in this process (CPU time, ``time.process_time``; median and spread over
``--reps``):

take the whole plan
    the first order (every claim) decoded and its claims built;
take a change
    the order after each of the plan bench's changes that alters the plan (``endpoint``: one
    Service; ``announcer-delete``: every Service that Node could announce, most by new terms
    for the terms id they share), as the engine takes it: the named Services' claims decoded
    and replaced, and the claims naming redefined terms made again. Each change is undone
    (untimed) before the next;
decide after a death
    which IPs this node answers for once one announcing peer is gone, with the engine's
    :class:`~...ownership.Ranks` (each claim's candidate order kept between decisions) and
    without (every candidate hashed again), alternating which runs first;
decide after a new plan
    the first decision after an order that changed nothing the ranks depend on.

A failed trial (the two ways of deciding disagreeing, or the engine's claims after a change
differing from the whole plan's) is counted and printed.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from ansible_collections.baremetal.lb.daemons.speaker.heap import freeze_long_lived
from ansible_collections.baremetal.lb.daemons.speaker.layer2.engine_messages import (
    PlannedClaims,
)
from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import IPClaim, owned
from ansible_collections.baremetal.lb.plugins.module_utils.ownership import Ranks

from .figures import median_spread
from .l2_plan_scale import ME, IncrementalPlanner, Shape, build_store, changes

TIMED_CHANGES = ("endpoint", "announcer-delete")  # the plan bench's changes that alter the plan


def take(engine: PlannedClaims, order: bytes) -> None:
    """Feed ``engine`` one order, as the engine process reads it."""
    ((kind, body),) = json.loads(order).items()
    engine.take(kind, body)


def whole_plan_claims(line: bytes) -> list[IPClaim]:
    """The claims an engine holds after taking only ``line`` (a whole ``plan`` order)."""
    engine = PlannedClaims()
    take(engine, line)
    claims: list[IPClaim] = engine.claims
    return claims


def cpu_ms(work: Callable[..., object], *args: object) -> tuple[float, object]:
    """CPU milliseconds ``work(*args)`` took in this process, and what it returned."""
    started = time.process_time()
    result = work(*args)
    return (time.process_time() - started) * 1000, result


def figure(values: list[float]) -> str:
    """Median and spread of CPU milliseconds."""
    return median_spread(values, "{:.1f} ms".format)


class _Bench:
    """The cluster, the speaker's planner, the engine's claims and ranks, and the figures so far."""

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.store = build_store(shape)
        self.planner = IncrementalPlanner(self.store, shape.config())
        for kind, objects in (
            ("node", self.store.nodes),
            ("service", self.store.services),
            ("slice", self.store.slices),
        ):
            for key in objects:
                self.store.notify(kind, key)
        self.planner.replan()
        self.whole: bytes = self.planner.sent
        self.members = frozenset(shape.node_name(i) for i in range(shape.nodes))
        self.peers = [
            shape.node_name(i) for i in range(shape.nodes) if shape.announcing(i) and shape.node_name(i) != ME
        ]
        self.timings: dict[str, list[float]] = {}
        self.sizes: dict[str, int] = {}
        self.ranks = Ranks()
        self.engine = PlannedClaims()
        take(self.engine, self.whole)
        owned(self.engine.claims, self.members, ME, {}, self.ranks)  # on arrival: every rank computed
        freeze_long_lived()  # as both of the speaker's processes do after their first plan

    def timed(self, figure: str, work: Callable[..., object], *args: object) -> object:
        """Run ``work(*args)``, filing its CPU time under ``figure``."""
        ms, result = cpu_ms(work, *args)
        self.timings.setdefault(figure, []).append(ms)
        return result

    def rep(self, rep: int) -> list[str]:
        """One repetition of every figure; why it failed, if it did."""
        problems = []
        self.timed("whole", take, PlannedClaims(), self.whole)
        for name in TIMED_CHANGES:
            change = changes(self.shape, self.store)[name]
            change.apply()
            self.planner.replan()
            self.sizes[name] = len(self.planner.sent)
            self.timed(name, take, self.engine, self.planner.sent)
            change.undo()
            self.planner.replan()
            take(self.engine, self.planner.sent)
            if self.engine.claims != whole_plan_claims(self.planner.planning.whole_line):
                problems.append(
                    f"FAILED: the engine's claims after {name} and back differ from the whole plan"
                )
            self.ranks.renew()
            self.timed("renewed", owned, self.engine.claims, self.members, ME, {}, self.ranks)
        live = self.members - {self.peers[rep % len(self.peers)]} if self.peers else self.members
        decided = {
            keep: self.timed(
                "ranks" if keep else "none",
                owned,
                self.engine.claims,
                live,
                ME,
                {},
                self.ranks if keep else None,
            )
            for keep in ((True, False) if rep % 2 == 0 else (False, True))
        }
        if decided[True] != decided[False]:
            problems.append(f"FAILED: the two ways disagree on what {ME} answers for")
        return problems

    def last(self, figure: str) -> str:
        """The latest time filed under ``figure``."""
        return f"{self.timings[figure][-1]:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    """Run the bench and print its figures; exit status 1 when a trial failed."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--services", type=int, default=10000)
    parser.add_argument("--announcing-nodes", type=int, default=10)
    parser.add_argument("--local-share", type=float, default=0.2)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    shape = Shape(
        nodes=args.nodes,
        services=args.services,
        announcing_nodes=max(1, args.announcing_nodes),
        local_share=args.local_share,
    )
    reps = max(1, min(args.reps, 50))
    bench = _Bench(shape)
    print(
        f"decide-scale: {shape.nodes} Nodes ({shape.announcing_nodes} announcing), {shape.services} "
        f"Services, whole plan order {len(bench.whole) / 1e6:.1f} MB, this node {ME}, {reps} reps",
        flush=True,
    )
    failed = 0
    for rep in range(reps):
        problems = bench.rep(rep)
        failed += bool(problems)
        taken = ", ".join(f"{name} {bench.last(name)}" for name in TIMED_CHANGES)
        print(
            f"  rep {rep}: take the whole plan {bench.last('whole')}, a change: {taken}; after a death with "
            f"ranks {bench.last('ranks')}, without {bench.last('none')}"
            + "".join(f"; {p}" for p in problems),
            flush=True,
        )
    timings = bench.timings
    print(f"take the whole plan ({len(bench.engine.claims)} claims): {figure(timings['whole'])}")
    for name in TIMED_CHANGES:
        print(f"take the change after {name} ({bench.sizes[name] / 1e3:.1f} kB): {figure(timings[name])}")
    print(f"decide after a death, with the engine's ranks: {figure(timings['ranks'])}")
    print(f"decide after a death, every candidate hashed again: {figure(timings['none'])}")
    print(f"decide after a new plan: {figure(timings['renewed'])}")
    print(f"failed trials: {failed} of {reps}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
