"""site.yml killed at a task, then run again, converges: nothing duplicated, nothing orphaned.

In the session lab, from a cluster without the daemons, their heartbeat key, the metallb.io
configuration and the exposed Services: an uninterrupted `playbooks/site.yml` (the lab inventory,
as `make demo` runs it) gives the task list and the objects a clean run leaves. Then, for each
kill point, the same start, `kill -9` of the whole playbook (its process group) half a second
after the point's task has started, the playbook run again, which must succeed, and a third
time, which must change nothing; the cluster must hold exactly the objects of the clean run
(pools, advertisements, peers, Secrets, Services, workloads, pods per component) and every
Service its own IPs. The points are spread evenly over the task list (lab/site_interrupt.py);
here one, the middle of the tasks that do work (those the clean run changed), to keep `make test`
within its time; `bench/site_interrupt_bench.py` runs ten over the whole task list.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from lab import site_interrupt
from lab.state import LabState
from tests.lab.conftest import CONFIG_NAMESPACE, LAB_VARS

POINTS = 1
DELAY = 0.5  # seconds after the task's start: its module is running when the kill lands


def declared_services() -> tuple[tuple[str, str], ...]:
    """The (namespace, name) of every Service the lab inventory exposes."""
    return tuple((s["namespace"], s.get("name", s["deployment"])) for s in LAB_VARS["expose_services"])


@pytest.fixture(scope="module")
def site_lab(lab: LabState, kube: client.ApiClient) -> Iterator[site_interrupt.Lab]:
    """The session lab as site.yml sees it; reset afterwards so later tests run their own daemons."""
    services = declared_services()
    target = site_interrupt.Lab(
        api=kube,
        argv=tuple(site_interrupt.site_argv(lab.kubeconfig)),
        namespaces=tuple(dict.fromkeys([CONFIG_NAMESPACE, *(ns for ns, _name in services)])),
        services=services,
    )
    with site_interrupt.heartbeat_key_kept(kube):
        try:
            yield target
        finally:
            site_interrupt.reset(kube, services)


@pytest.fixture(scope="module")
def clean_run(site_lab: site_interrupt.Lab) -> tuple[site_interrupt.Run, dict[str, list[str]]]:
    """An uninterrupted run: its task list and the objects it leaves (then removed: no daemon
    may outlive a test of the session lab)."""
    try:
        return site_interrupt.reference(site_lab)
    finally:
        site_interrupt.reset(site_lab.api, site_lab.services)


@pytest.mark.parametrize("point", range(POINTS))
def test_site_killed_at_a_task_converges_on_the_next_run_and_the_third_changes_nothing(
    site_lab: site_interrupt.Lab, clean_run: tuple[site_interrupt.Run, dict[str, list[str]]], point: int
) -> None:
    run, expected = clean_run
    tasks = run.started
    index = site_interrupt.kill_points(tasks, POINTS, only=set(run.changed_tasks))[point]
    try:
        outcome = site_interrupt.interrupt_and_converge(site_lab, index, tasks[index], DELAY)
    finally:
        site_interrupt.reset(site_lab.api, site_lab.services)
    print(f"\n{site_interrupt.summary(outcome)}")
    found = site_interrupt.problems(outcome, expected, site_lab.services)
    assert not found, "\n".join(found)
