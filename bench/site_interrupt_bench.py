"""site.yml killed at ten points of its task list, each run again to convergence.

    .venv/bin/python -m bench.site_interrupt_bench [--points 10] [--delay 0.5] [--state-dir .lab]   (as root)

Without --state-dir it starts a lab of its own in a temporary directory and removes it at the
end. An uninterrupted run from a reset cluster gives the task list and the objects a clean run
leaves; then each point (spread evenly over the task list, lab/site_interrupt.py) starts from
the same reset, kills the playbook's process group --delay seconds after its task has started,
runs site.yml again and a third time, and compares. Prints one line per point (where the kill
landed, the runs' durations, what the resumed run changed) and every broken promise; exits 1
when any point broke one. tests/lab/test_site_interrupted.py runs one point of the same.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

from lab import lifecycle, site_interrupt
from lab.state import LabState

CONFIG_NAMESPACE = "metallb-system"


def _declared_services() -> tuple[tuple[str, str], ...]:
    group_vars = yaml.safe_load((site_interrupt.REPO / "inventories/lab/group_vars/all.yml").read_text())
    return tuple((s["namespace"], s.get("name", s["deployment"])) for s in group_vars["expose_services"])


def bench(state: LabState, points: int, delay: float) -> int:
    """Run the kill points against the lab; return how many broke a promise."""
    services = _declared_services()
    target = site_interrupt.Lab(
        api=lifecycle.api_client(state),
        argv=tuple(site_interrupt.site_argv(state.kubeconfig)),
        namespaces=tuple(dict.fromkeys([CONFIG_NAMESPACE, *(ns for ns, _name in services)])),
        services=services,
    )
    with site_interrupt.heartbeat_key_kept(target.api):
        return _points(target, points, delay)


def _points(target: site_interrupt.Lab, points: int, delay: float) -> int:
    try:
        run, expected = site_interrupt.reference(target)
        tasks = run.started
        print(f"uninterrupted run: {run.seconds:.1f}s, {len(tasks)} tasks", flush=True)
        failed = 0
        started = time.monotonic()
        for index in site_interrupt.kill_points(tasks, points, only=run.working_tasks):
            outcome = site_interrupt.interrupt_and_converge(target, index, tasks[index], delay)
            found = site_interrupt.problems(outcome, expected, target.services)
            failed += bool(found)
            print(f"{'FAIL' if found else 'ok  '} {site_interrupt.summary(outcome)}", flush=True)
            for problem in found:
                print(f"     {problem}", flush=True)
        print(f"{points} points, {failed} broke a promise, {time.monotonic() - started:.0f}s")
        return failed
    finally:
        site_interrupt.reset(target.api, target.services)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--points", type=int, default=10)
    parser.add_argument("--delay", type=float, default=0.5)
    parser.add_argument("--state-dir", type=Path, help="a lab started with `make lab-up` (default: its own)")
    args = parser.parse_args()
    if args.state_dir:
        state = LabState.load(args.state_dir)
        if state is None:
            sys.exit(f"no lab in {args.state_dir}")
        return 1 if bench(state, args.points, args.delay) else 0
    with tempfile.TemporaryDirectory(prefix="site-interrupt-") as tmp:
        try:
            state = lifecycle.up(Path(tmp), node_count=3)
            return 1 if bench(state, args.points, args.delay) else 0
        finally:
            lifecycle.down(Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
