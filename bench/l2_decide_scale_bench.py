"""Benchmark the layer-2 engine's side at cluster scale: taking a plan in, and deciding over it.

    PYTHONPATH=.build/collections:. .venv/bin/python -m bench.l2_decide_scale_bench [--nodes 1000]
        [--services 10000] [--announcing-nodes 10] [--local-share 0.2] [--reps 5]

:mod:`bench.l2_plan_scale_bench` times the speaker's Kubernetes half up to the ``plan`` order.
The engine process then reads that order and decides, over every claim, which IPs this node
answers for; it decides again on every change of the live members (a peer's death: the
failover path) and of what the peers hold. This bench builds the same cluster in memory (the
plan bench's shapes), has the incremental planner write the order, and times in this process
(CPU seconds, ``time.process_time``; median and spread over ``--reps``):

take the plan
    the order's JSON line decoded and its claims built, as the engine does on each new plan;
decide after a death
    which IPs this node answers for once one announcing peer is gone, with the engine's
    :class:`~...ownership.Ranks` (each claim's candidate order kept between decisions, as the
    engine keeps it) and without (every candidate hashed again), alternating which runs first;
decide after a new plan
    the first decision over a new plan of the same claims, with the ranks of the one before.

A failed trial (the two ways disagreeing on what this node owns) is counted and printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import cast

from ansible_collections.baremetal.lb.daemons.speaker.layer2.engine_messages import claims_from_json
from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import IPClaim, owned
from ansible_collections.baremetal.lb.plugins.module_utils.ownership import Ranks

from .l2_plan_scale import ME, IncrementalPlanner, Shape, build_store


def plan_line(shape: Shape) -> bytes:
    """The ``plan`` order the speaker's Kubernetes half sends the engine for ``shape``."""
    store = build_store(shape)
    planner = IncrementalPlanner(store, shape.config())
    for kind, objects in (("node", store.nodes), ("service", store.services), ("slice", store.slices)):
        for key in objects:
            store.notify(kind, key)
    planner.replan()
    line: bytes = planner.sent
    return line


def taken(line: bytes) -> list[IPClaim]:
    """The claims of a ``plan`` order, as the engine reads them."""
    order: dict[str, list[dict[str, object]]] = json.loads(line)
    claims: list[IPClaim] = claims_from_json(order["plan"])
    return claims


def cpu_ms(work: Callable[..., object], *args: object) -> tuple[float, object]:
    """CPU milliseconds ``work(*args)`` took in this process, and what it returned."""
    started = time.process_time()
    result = work(*args)
    return (time.process_time() - started) * 1000, result


def figure(values: list[float]) -> str:
    """Median and spread, as the benches print them."""
    return f"{statistics.median(values):.1f} ms ({min(values):.1f}-{max(values):.1f})" if values else "-"


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
        announcing_nodes=args.announcing_nodes,
        local_share=args.local_share,
    )
    reps = max(1, min(args.reps, 50))
    line = plan_line(shape)
    members = frozenset(shape.node_name(i) for i in range(shape.nodes))
    peers = [
        shape.node_name(i) for i in range(shape.nodes) if shape.announcing(i) and shape.node_name(i) != ME
    ]
    print(
        f"decide-scale: {shape.nodes} Nodes ({args.announcing_nodes} announcing), {shape.services} Services, "
        f"plan order {len(line) / 1e6:.1f} MB, this node {ME}, {reps} reps",
        flush=True,
    )
    take: list[float] = []
    with_ranks: list[float] = []
    without: list[float] = []
    renewed: list[float] = []
    failed = 0
    ranks = Ranks()
    claims = taken(line)
    owned(claims, members, ME, {}, ranks)  # the decision on the plan's arrival: every rank computed
    for rep in range(reps):
        live = members - {peers[rep % len(peers)]} if peers else members
        results: dict[bool, object] = {}
        for keep in (True, False) if rep % 2 == 0 else (False, True):
            ms, results[keep] = cpu_ms(owned, claims, live, ME, {}, ranks if keep else None)
            (with_ranks if keep else without).append(ms)
        if results[True] != results[False]:
            failed += 1
            print(f"  rep {rep}: FAILED: the two ways disagree on what {ME} answers for", flush=True)
        ms, new_plan = cpu_ms(taken, line)
        claims = cast(list[IPClaim], new_plan)
        take.append(ms)
        ranks.renew()
        ms, _unused = cpu_ms(owned, claims, members, ME, {}, ranks)
        renewed.append(ms)
        print(
            f"  rep {rep}: take the plan {take[-1]:.1f} ms; after a death with ranks "
            f"{with_ranks[-1]:.1f} ms, without {without[-1]:.1f} ms; after a new plan {renewed[-1]:.1f} ms",
            flush=True,
        )
    print(f"take the plan (decode, build {len(claims)} claims): {figure(take)}")
    print(f"decide after a death, with the engine's ranks: {figure(with_ranks)}")
    print(f"decide after a death, every candidate hashed again: {figure(without)}")
    print(f"decide after a new plan of the same claims: {figure(renewed)}")
    print(f"failed trials: {failed} of {reps}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
