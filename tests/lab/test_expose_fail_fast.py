"""expose says why at once: refused IPs before any write, the controller's AllocationFailed at once.

The controller runs as a real process (tests/lab/controller_harness.py); the module runs as a
playbook runs it (`ansible localhost -m baremetal.lb.expose`). Every failed call leaves nothing
behind: no Service, unless ``keep_on_failure`` asks to keep it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.ansible_module import ModuleRun, run_module
from tests.lab import controller_harness as harness
from tests.lab.controller_harness import ingress_ips, service_manifest, unique

controller_config = harness.controller_config
cluster = harness.cluster
start_controller = harness.start_controller

FAST = 5.0  # seconds a refused call may take, the module's own task time
BOOKKEEPING = ("managedFields", "resourceVersion", "uid", "creationTimestamp")


def expose(lab: Any, namespace: str, name: str, *, check: bool = False, **options: Any) -> ModuleRun:
    args = {
        "kubeconfig": str(Path(lab.kubeconfig).resolve()),
        "namespace": namespace,
        "name": name,
        "selector": {"app": name},
        "ports": [{"port": 80, "target_port": 8080}],
        "wait_timeout": 60,
        **options,
    }
    return run_module("expose", args, check=check, diff=True)


def refused_fast_and_left_nothing(run: ModuleRun, cluster: Any, namespace: str, name: str) -> None:
    assert run.failed, run.result
    assert run.task_seconds < FAST, f"took {run.task_seconds:.1f} s: {run.msg}"
    assert run.result["changed"] is False
    assert run.msg.endswith("; nothing was changed"), run.msg
    assert name not in cluster.services(namespace)


def holder(cluster: Any, namespace: str, ip: str) -> None:
    """A Service that holds ``ip``, given by the controller."""
    cluster.create_service(
        namespace, service_manifest("holder", annotations={"metallb.io/loadBalancerIPs": ip})
    )
    assert cluster.wait_ips(namespace, "holder") == [ip]


def test_a_taken_ip_is_refused_in_under_5_s_and_nothing_is_written(lab, cluster, start_controller, namespace):
    cluster.create_pool(unique("ux"), ["192.0.2.64/28"])
    start_controller()
    holder(cluster, namespace, "192.0.2.70")
    run = expose(lab, namespace, "web", load_balancer_ips=["192.0.2.70"])
    refused_fast_and_left_nothing(run, cluster, namespace, "web")
    assert run.msg.startswith("load_balancer_ips: address 192.0.2.70 cannot be shared: "), run.msg
    assert f"{namespace}/holder" in run.msg


def test_an_ip_outside_every_pool_is_refused_in_under_5_s(lab, cluster, start_controller, namespace):
    cluster.create_pool(unique("ux"), ["192.0.2.64/28"])
    run = expose(lab, namespace, "web", load_balancer_ips=["198.51.100.9"])
    refused_fast_and_left_nothing(run, cluster, namespace, "web")
    assert run.msg == (
        "load_balancer_ips: 198.51.100.9 is in no pool; use addresses of a pool or add them to one; "
        "nothing was changed"
    )


def test_an_ip_of_the_wrong_family_is_refused(lab, cluster, start_controller, namespace):
    cluster.create_pool(unique("ux"), ["192.0.2.64/28", "2001:db8:64::/120"])
    run = expose(lab, namespace, "web", load_balancer_ips=["2001:db8:64::5"], ip_family_policy="SingleStack")
    refused_fast_and_left_nothing(run, cluster, namespace, "web")
    assert "address 2001:db8:64::5 does not match the Service's IP families (IPv4)" in run.msg


def test_check_mode_fails_as_the_run_would(lab, cluster, start_controller, namespace):
    cluster.create_pool(unique("ux"), ["192.0.2.64/28"])
    run = expose(lab, namespace, "web", check=True, load_balancer_ips=["198.51.100.9"])
    refused_fast_and_left_nothing(run, cluster, namespace, "web")


def test_allocation_failed_is_returned_at_once_and_the_new_service_removed(
    lab, cluster, start_controller, namespace
):
    tiny = cluster.create_pool(unique("tiny"), ["192.0.2.80/32"], autoAssign=False)
    start_controller()
    cluster.create_service(
        namespace, service_manifest("holder", annotations={"metallb.io/address-pool": tiny})
    )
    assert cluster.wait_ips(namespace, "holder") == ["192.0.2.80"]
    run = expose(lab, namespace, "web", pool=tiny, wait_timeout=120)
    assert run.failed
    assert run.task_seconds < 30, f"waited {run.task_seconds:.0f} s of wait_timeout 120: {run.msg}"
    assert "AllocationFailed: " in run.msg, run.msg
    assert run.msg.endswith(
        "; the Service this run created was deleted again (keep_on_failure: true keeps it)"
    )
    assert run.result["changed"] is False
    assert "web" not in cluster.services(namespace)


def test_keep_on_failure_keeps_the_service_and_says_it_changed(lab, cluster, start_controller, namespace):
    tiny = cluster.create_pool(unique("tiny"), ["192.0.2.80/32"], autoAssign=False)
    start_controller()
    cluster.create_service(
        namespace, service_manifest("holder", annotations={"metallb.io/address-pool": tiny})
    )
    cluster.wait_ips(namespace, "holder")
    run = expose(lab, namespace, "web", pool=tiny, keep_on_failure=True)
    assert run.failed and "AllocationFailed: " in run.msg
    assert run.msg.endswith("; this run created the Service, and it stays")
    assert run.result["changed"] is True
    assert "web" in cluster.services(namespace)
    cluster.delete_service(namespace, "web")


def test_check_mode_predicts_the_run_and_the_diff_shows_no_bookkeeping(
    lab, cluster, start_controller, namespace
):
    cluster.create_pool(unique("ux"), ["192.0.2.64/28"])
    start_controller()
    checked = expose(lab, namespace, "web", check=True, load_balancer_ips=["192.0.2.75"])
    assert "web" not in cluster.services(namespace)
    done = expose(lab, namespace, "web", load_balancer_ips=["192.0.2.75"])
    try:
        assert not done.failed, done.msg
        assert (checked.result["changed"], checked.result["ips"]) == (True, ["192.0.2.75"])
        assert (done.result["changed"], done.result["ips"]) == (True, ["192.0.2.75"])
        assert checked.result["diff"] == done.result["diff"]
        after = done.result["diff"]["after"]
        assert set(after) == {"metadata", "spec"}
        assert not set(after["metadata"]) & set(BOOKKEEPING)
        assert "clusterIP" not in after["spec"]
        again = expose(lab, namespace, "web", check=True, load_balancer_ips=["192.0.2.75"])
        assert (again.result["changed"], again.result["ips"]) == (False, ["192.0.2.75"])
        assert ingress_ips(cluster.service(namespace, "web")) == ["192.0.2.75"]
    finally:
        cluster.delete_service(namespace, "web")


def test_a_changed_request_returns_the_new_ip_not_the_one_held_before(
    lab, cluster, start_controller, namespace
):
    cluster.create_pool(unique("ux"), ["192.0.2.64/28"])
    start_controller()
    first = expose(lab, namespace, "web")
    try:
        assert not first.failed, first.msg
        (held,) = first.result["ips"]
        wanted = "192.0.2.76" if held == "192.0.2.75" else "192.0.2.75"
        moved = expose(lab, namespace, "web", load_balancer_ips=[wanted])
        assert not moved.failed, moved.msg
        assert (moved.result["changed"], moved.result["ips"]) == (True, [wanted])
        assert ingress_ips(cluster.service(namespace, "web")) == [wanted]
    finally:
        cluster.delete_service(namespace, "web")


def test_a_full_pool_asked_of_an_existing_service_fails_at_once_and_the_change_stays(
    lab, cluster, start_controller, namespace
):
    cluster.create_pool(unique("ux"), ["192.0.2.64/28"])
    tiny = cluster.create_pool(unique("tiny"), ["192.0.2.80/32"], autoAssign=False)
    start_controller()
    cluster.create_service(
        namespace, service_manifest("holder", annotations={"metallb.io/address-pool": tiny})
    )
    assert cluster.wait_ips(namespace, "holder") == ["192.0.2.80"]
    first = expose(lab, namespace, "web")
    try:
        assert not first.failed, first.msg
        run = expose(lab, namespace, "web", pool=tiny, wait_timeout=120)
        assert run.failed, f"returned {run.result.get('ips')}, the IP the Service held before"
        assert run.task_seconds < 30, f"waited {run.task_seconds:.0f} s of wait_timeout 120: {run.msg}"
        assert "AllocationFailed: " in run.msg, run.msg
        assert run.msg.endswith("; the Service keeps this run's change"), run.msg
        assert run.result["changed"] is True
        assert "web" in cluster.services(namespace)
    finally:
        cluster.delete_service(namespace, "web")


def test_a_namespace_that_does_not_exist_is_named_without_a_traceback(lab, namespace):
    missing = f"{namespace}-missing"
    run = expose(lab, missing, "web")
    assert run.failed
    assert run.msg.startswith(f"Service {missing}/web: the API server refused the request (404): "), run.msg
    assert run.msg.endswith("; nothing was changed") and missing in run.msg.split("(404): ")[1], run.msg
    assert run.result["changed"] is False
    assert "Traceback" not in run.output
