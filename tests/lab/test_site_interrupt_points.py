"""lab/site_interrupt.py's pure parts: where the kills land, and what counts as a broken promise."""

from __future__ import annotations

import signal

import pytest

from lab.site_interrupt import Outcome, Run, kill_points, problems

TASKS = [f"task {i}" for i in range(31)]
CHECK = "role : Validating arguments against arg spec 'main' - x"


@pytest.mark.parametrize(
    ("tasks", "count", "only", "points"),
    [
        (TASKS, 10, None, [1, 4, 7, 10, 13, 17, 20, 23, 26, 29]),
        (TASKS, 3, None, [5, 15, 25]),
        (TASKS[:2], 3, None, [0, 1]),
        ([], 3, None, []),
        ([CHECK, "a", CHECK, "b", "c"], 3, None, [1, 3, 4]),
        (["a", "b", "c", "d", "e"], 2, {"b", "d", "e"}, [1, 4]),
    ],
    ids=["10 of 31", "3 of 31", "more points than tasks", "no tasks", "argument checks skipped", "only"],
)
def test_kill_points_spread_evenly_and_stay_the_same(tasks, count, only, points):
    assert kill_points(tasks, count, only) == points


EXPECTED = {"ipaddresspools metallb-system": ["lab-l2"], "Service demo": ["web"]}
RECAP = {"v2_playbook_on_stats": {"_event": "v2_playbook_on_stats", "stats": {"localhost": {"changed": 0}}}}


def _outcome(**changes) -> Outcome:
    fine = {
        "index": 3,
        "task": "task 3",
        "killed": Run(returncode=-signal.SIGKILL),
        "resumed": Run(returncode=0),
        "third": Run(returncode=0, events=[RECAP["v2_playbook_on_stats"]]),
        "objects": dict(EXPECTED),
        "ips": {"demo/web": ["192.0.2.64"]},
    }
    return Outcome(**{**fine, **changes})


@pytest.mark.parametrize(
    ("changes", "broken"),
    [
        ({}, []),
        ({"killed": Run(returncode=0)}, ["the playbook ended (0) before the kill"]),
        ({"resumed": Run(returncode=2)}, ["the run after the kill failed (2)"]),
        (
            {
                "third": Run(
                    returncode=0,
                    events=[{"_event": "v2_playbook_on_stats", "stats": {"localhost": {"changed": 1}}}],
                )
            },
            ["the third run changed {'localhost': 1}"],
        ),
        (
            {"objects": {**EXPECTED, "ipaddresspools metallb-system": ["lab-l2", "stray"]}},
            ["ipaddresspools metallb-system: ['lab-l2', 'stray'] where an uninterrupted run leaves"],
        ),
        (
            {"objects": {**EXPECTED, "Secret metallb-system": ["memberlist"]}},
            ["Secret metallb-system: ['memberlist'] where an uninterrupted run leaves []"],
        ),
        ({"ips": {"demo/web": []}}, ["demo/web has no IP"]),
        (
            {"ips": {"demo/web": ["192.0.2.64"], "demo/other": ["192.0.2.64"]}},
            ["192.0.2.64 is held by ['demo/other', 'demo/web']"],
        ),
    ],
    ids=[
        "converged",
        "kill too late",
        "resume failed",
        "third changed",
        "orphan",
        "duplicate",
        "no IP",
        "shared IP",
    ],
)
def test_problems_name_each_broken_promise(changes, broken):
    found = problems(_outcome(**changes), EXPECTED, [("demo", "web")])
    assert len(found) == len(broken), found
    for problem, start in zip(found, broken, strict=True):
        assert problem.startswith(start), problem


def test_working_tasks_leave_out_what_only_prints_or_computes_and_what_was_skipped():
    def ok(name: str, action: str, **result: object) -> dict:
        return {
            "_event": "v2_runner_on_ok",
            "task": {"name": name},
            "hosts": {"localhost": {"action": action, **result}},
        }

    run = Run(
        returncode=0,
        events=[
            ok("apply", "kubernetes.core.k8s"),
            ok("show", "ansible.builtin.debug"),
            ok("record", "ansible.builtin.set_fact"),
            {"_event": "v2_runner_on_skipped", "task": {"name": "host only"}, "hosts": {"localhost": {}}},
            ok("expose", "baremetal.lb.expose", changed=True),
        ],
    )
    assert run.working_tasks == {"apply", "expose"}
