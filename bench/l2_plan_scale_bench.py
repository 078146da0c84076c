"""Benchmark the speaker's layer-2 re-plan at cluster scale: latency of one change, and memory.

The speaker's Kubernetes half, as it runs: informer caches of Nodes, Services and
EndpointSlices, the facts read from them, the layer-2 plan and the ``plan`` order for the engine
(encoded as the engine gets it), plus what every re-plan also runs (the BGP planner and the
unannounced-address check). Two planners, each in a child process of its own so that its memory
is its own:

full
    the speaker before incremental planning: every change rebuilds the facts of every object
    and plans every Service over every Node (``layer2.handler.plan``).
incremental
    the speaker now: ``ClusterFacts`` re-reads the objects that changed and ``Layer2Planning``
    re-plans the Services they touch.

Changes, each timed ``--reps`` times (default 5) from the informer's notice of the new object to
the encoded plan order, then undone untimed:

endpoint
    one EndpointSlice of an ``externalTrafficPolicy: Local`` Service moves an endpoint to
    a Node that may announce, so the Service gains a candidate and the plan order changes;
node-notready
    a Node goes NotReady as the node lifecycle controller marks it (Ready Unknown, unreachable
    taints) - liveness is the engine's business, so no plan changes;
node-delete
    a Node that hosts endpoints but announces nothing is deleted;
announcer-delete
    a Node that may announce (selected by the L2Advertisement) is deleted: every Cluster
    Service it could announce changes its candidates (with ``--announcing-nodes 0`` that is
    every Cluster Service).

Where the objects come from:

in-process (default)
    API-shaped objects built in the child's memory, so 1,000 Nodes and 10,000 Services cost no
    API writes. The caches hold these objects, kept as the speaker's informers keep them
    (``cluster_state.slim_*``), instead of what the API server returns (which adds uids,
    timestamps, kwok's Node conditions and more), so the memory figure is a lower bound;
    ``--api`` measures the real one.
``--api STATE_DIR``
    a running lab's API server (``python -m lab --state-dir STATE_DIR up``): the bench creates
    kwok Nodes (kwok keeps them Ready), IPv6 Services with their status and EndpointSlices in
    a namespace of its own (each ``Local`` Service takes a health-check NodePort, and the
    lab's range holds 2,768: at 10,000 Services use ``--local-share 0.2``), runs the speaker's
    real informers (list + watch) into the incremental planner in this process, and times each
    change from the API write to the new plan order (``node-notready`` writes the Ready
    condition only). It deletes what it created at the end. Only the incremental planner; the
    RSS is the bench process's (informers, planner and the idle writer threads);
    another child caches the same objects whole, as the speaker did before (source
    ``api-whole``), for the memory figure. The children run slim, whole, whole, slim, each
    source's trials pooled (its memory figures are its later child's): the first child starts
    right after 10,000 Services were created, while the lab's control plane and nodes are still
    taking them in, so each source runs once first and once last.

Object shapes (both sources): ``--nodes`` Nodes of which ``--announcing-nodes`` carry the label
the L2Advertisement selects (0: the advertisement has no node selector, every Node may
announce); ``--services`` single-stack IPv6 LoadBalancer Services of one pool, one IP each, a
``--local-share`` of them ``externalTrafficPolicy: Local``; one EndpointSlice per Service with
``--endpoints`` ready endpoints on Nodes picked by a seeded random generator. With ``--bgp``
the speaker's node also has a BGP session and a BGPAdvertisement announces every Service, so
each re-plan also plans BGP (in-process only).

It prints every trial's figure, then per planner and change the median and the spread
(min-max) in ms, the Services re-planned, failed trials (a trial over ``--trial-timeout``, or
an error: counted, never dropped), the median CPU time of the planning thread (on a machine
shared with other work it moves less than the wall-clock time), through the API also when the
informer saw the write and how long the re-plan itself took (medians), and the RSS after the
first plan and at peak. After the first plan the child freezes the objects alive, as the
speaker does (``daemons/speaker/heap.py``).

    .venv/bin/python -m bench.l2_plan_scale_bench                      # 1,000 Nodes, 10,000 Services
    .venv/bin/python -m bench.l2_plan_scale_bench --nodes 100 --services 1000 --reps 5
    .venv/bin/python -m bench.l2_plan_scale_bench --api /tmp/lab --nodes 100 --services 1000
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from ansible_collections.baremetal.lb.daemons.speaker.heap import freeze_long_lived
from bench import l2_plan_scale_api as through_api
from bench.l2_plan_scale import (
    JSON,
    PLANNERS,
    FullPlanner,
    IncrementalPlanner,
    Planner,
    Results,
    Shape,
    build_store,
    changes,
    collect,
)
from bench.process_memory import memory_mb

MAX_LOCAL_THROUGH_API = 2500  # the API server's NodePort range (30000-32767) less some room
API_CHILDREN = (False, True, True, False)  # through the API: whether each child caches objects whole

# -- one planner in a child process ------------------------------------------------------------------


def run_child(args: argparse.Namespace) -> int:
    """Time every change with one planner over in-process objects; print one JSON line per result."""
    shape = shape_of(args)
    store = build_store(shape)
    planner: Planner = (FullPlanner if args.child == "full" else IncrementalPlanner)(store, shape.config())
    for kind, objects in (("node", store.nodes), ("service", store.services), ("slice", store.slices)):
        for key in objects:
            store.notify(kind, key)
    began = time.monotonic()
    planner.replan()
    first = time.monotonic() - began
    freeze_long_lived()  # as the speaker does after its first plan
    rss, _peak = memory_mb()
    print(json.dumps({"first_plan_s": first, "rss_mb": rss, "services": len(store.services)}), flush=True)
    for change in changes(shape, store).values():
        for rep in range(args.reps):
            trial = {"change": change.name, "rep": rep}
            try:
                began, began_cpu = time.monotonic(), time.thread_time()
                change.apply()
                planner.replan()
                trial["ms"] = (time.monotonic() - began) * 1000
                trial["cpu_ms"] = (time.thread_time() - began_cpu) * 1000
                trial["replanned"] = planner.replanned
                if trial["ms"] > args.trial_timeout * 1000:
                    trial["error"] = f"over {args.trial_timeout:g}s"
                change.undo()
                planner.replan()
            except Exception as error:  # counted as a failed trial, never dropped
                trial["error"] = f"{type(error).__name__}: {error}"
            print(json.dumps(trial), flush=True)
    rss, peak = memory_mb()
    print(json.dumps({"rss_mb_end": rss, "peak_mb": peak}), flush=True)
    return 0


# -- the parent: run the children, print the table ---------------------------------------------------


def run_planner(
    args: argparse.Namespace, planner: str, source: str = "in-process", results: Results | None = None
) -> Results:
    """Run one planner's child with a bound on its whole run; collect what it printed (into ``results``)."""
    command = [sys.executable, "-m", "bench.l2_plan_scale_bench", "--child", planner, *shape_arguments(args)]
    results = results or Results("incremental" if planner == "api" else planner, source)
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=args.child_timeout, check=False
        )
        output, status = done.stdout, done.returncode
        stopped = f"exit {status}: {done.stderr.strip()[-500:]}" if status else ""
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout.decode() if isinstance(expired.stdout, bytes) else (expired.stdout or "")
        stopped = f"cut off after {args.child_timeout:g}s"
    if stopped:  # a source's second child adds its own
        results.error = f"{results.error}; {stopped}" if results.error else stopped
    for line in output.splitlines():
        collect(results, json.loads(line))
    return results


def run_through_api(args: argparse.Namespace, shape: Shape) -> list[Results]:
    """Create the objects in the lab, measure in the children of :data:`API_CHILDREN`, delete them all."""
    api = through_api.connect(args.api)
    args.namespace = shape.namespace
    try:
        began = time.monotonic()
        through_api.create_objects(api, shape)
        print(
            f"  created {shape.nodes} Nodes, {shape.services} Services and EndpointSlices"
            f" in {time.monotonic() - began:.0f}s",
            flush=True,
        )
        by_source = {False: Results("incremental", "api"), True: Results("incremental", "api-whole")}
        for whole in API_CHILDREN:
            args.keep_managed_fields = whole  # the same objects cached whole, as the speaker did before
            run_planner(args, "api", results=by_source[whole])
        return list(by_source.values())
    except Exception as error:  # a set-up failure: said under whatever was measured
        return [Results("incremental", "api", error=f"{type(error).__name__}: {error}")]
    finally:
        through_api.delete_objects(api, shape)


def summary(all_results: list[Results], shape: Shape, reps: int) -> list[str]:
    """The table: per planner and change, median and spread over the trials, failures counted."""
    lines = [
        f"\nspeaker layer-2 re-plan, {shape.nodes} Nodes ({shape.announcing_nodes or 'all'} announcing),"
        f" {shape.services} Services ({shape.local_share:.0%} Local, {shape.endpoints} endpoints each),"
        f" {reps} reps, {time.strftime('%Y-%m-%d %H:%M %Z')}",
        f"{'planner':12} {'source':10} {'change':17} {'median ms':>10} {'spread ms':>17} {'re-planned':>10}"
        f" {'failed':>6} {'CPU median ms':>13} {'seen median ms':>14} {'re-plan median ms':>17}"
        f" {'core wait median ms':>19}",
    ]
    for results in all_results:
        for change, trials in results.trials.items():
            times = sorted(t["ms"] if "ms" in t and "error" not in t else float("inf") for t in trials)
            failed = sum(1 for t in trials if "error" in t)
            replanned = sorted({t.get("replanned", "?") for t in trials}, key=str)
            lines.append(
                f"{results.planner:12} {results.source:10} {change:17} {statistics.median(times):10.1f}"
                f" {f'{times[0]:.1f}-{times[-1]:.1f}':>17} {'/'.join(map(str, replanned)):>10} {failed:>6}"
                f" {median_of(trials, 'cpu_ms'):>13} {median_of(trials, 'seen_ms'):>14}"
                f" {median_of(trials, 'plan_ms'):>17} {median_of(trials, 'core_wait_ms'):>19}"
            )
        fact = results.facts
        if fact:
            lines.append(
                f"{results.planner:12} {results.source:10} first plan {fact.get('first_plan_s', 0):.2f}s,"
                f" RSS {fact.get('rss_mb', 0):.0f} MB after it,"
                f" {fact.get('rss_mb_end', 0):.0f} MB at the end, peak {fact.get('peak_mb', 0):.0f} MB"
            )
        if results.error:
            lines.append(f"{results.planner:12} {results.source:10} stopped: {results.error}")
    return lines


def median_of(trials: list[JSON], figure: str) -> str:
    """The median of one figure over the trials that passed and report it, as printed ('-': none)."""
    values = [t[figure] for t in trials if figure in t and "error" not in t]
    return f"{statistics.median(values):.1f}" if values else "-"


def shape_of(args: argparse.Namespace) -> Shape:
    """The shape the arguments describe."""
    return Shape(
        nodes=args.nodes,
        services=args.services,
        announcing_nodes=args.announcing_nodes,
        local_share=args.local_share,
        endpoints=args.endpoints,
        namespace=args.namespace or through_api.new_namespace(),
        bgp=args.bgp,
    )


def shape_arguments(args: argparse.Namespace) -> list[str]:
    """The arguments a child needs to build the same shape and trials."""
    return [
        f"--nodes={args.nodes}",
        f"--services={args.services}",
        f"--announcing-nodes={args.announcing_nodes}",
        f"--local-share={args.local_share}",
        f"--endpoints={args.endpoints}",
        f"--reps={args.reps}",
        f"--trial-timeout={args.trial_timeout}",
        f"--namespace={args.namespace}",
        *([f"--api={args.api}"] if args.api else []),
        *(["--keep-managed-fields"] if args.keep_managed_fields else []),
        *(["--bgp"] if args.bgp else []),
    ]


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--services", type=int, default=10000)
    parser.add_argument("--announcing-nodes", type=int, default=10, help="0: every Node may announce")
    parser.add_argument("--local-share", type=float, default=0.5)
    parser.add_argument("--endpoints", type=int, default=3)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--planner", choices=PLANNERS, action="append", help="default: both")
    parser.add_argument("--trial-timeout", type=float, default=30.0, help="a slower trial counts as failed")
    parser.add_argument("--child-timeout", type=float, default=600.0, help="bound on one planner's whole run")
    parser.add_argument("--api", metavar="STATE_DIR", help="a running lab's state dir: use its API server")
    parser.add_argument(
        "--bgp",
        action="store_true",
        help="the speaker's node also has a BGP session announcing every Service",
    )
    parser.add_argument(
        "--keep-managed-fields",
        action="store_true",
        help=argparse.SUPPRESS,  # the second --api child: objects cached whole, as before
    )
    parser.add_argument("--child", choices=(*PLANNERS, "api"), help=argparse.SUPPRESS)
    parser.add_argument("--namespace", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 0 < args.nodes <= 5000 or not 0 < args.services <= 65000 or not 1 <= args.reps <= 100:
        parser.error("--nodes 1..5000, --services 1..65000, --reps 1..100")
    if args.api and args.services * args.local_share > MAX_LOCAL_THROUGH_API:
        parser.error(f"--api: at most {MAX_LOCAL_THROUGH_API} Local Services (health-check NodePorts)")
    if args.announcing_nodes >= args.nodes or args.nodes < 3:
        parser.error("--announcing-nodes must leave Nodes that announce nothing (and --nodes >= 3)")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the bench; 1 when a trial failed or a planner's run was cut short."""
    args = arguments(argv)
    if args.child == "api":
        return through_api.measure(args, shape_of(args))
    if args.child:
        return run_child(args)
    shape = shape_of(args)
    if args.api:
        all_results = run_through_api(args, shape)
    else:
        all_results = [run_planner(args, planner) for planner in args.planner or PLANNERS]
    print("\n".join(summary(all_results, shape, args.reps)))
    failed = any(r.error or any("error" in t for ts in r.trials.values() for t in ts) for r in all_results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
