"""lb_info says why a Service is pending: the pool it asked for and the controller's reason,
in a sentence that names the Service once and quotes like the rest of the Event."""

from __future__ import annotations

from tests.lab.ansible_harness import run_tasks
from tests.lab.controller_harness import service_manifest, unique, wait_for


def test_a_pending_service_shows_the_pool_it_asked_for_and_why(
    lab, cluster, start_controller, namespace, tmp_path
):
    tiny = cluster.create_pool(unique("tiny"), ["203.0.113.200/32"], autoAssign=False)
    start_controller()
    for name in ("t1", "t3"):
        cluster.create_service(
            namespace, service_manifest(name, annotations={"metallb.io/address-pool": tiny})
        )
    cluster.wait_ips(namespace, "t1")
    wait_for("the AllocationFailed Event", lambda: cluster.events(namespace, "t3", "AllocationFailed"))
    (info,) = run_tasks(
        lab, tmp_path, [{"name": "lb_info", "baremetal.lb.lb_info": {"service_namespace": namespace}}]
    )
    pending = next(item for item in info["services"] if item["name"] == "t3")
    assert pending["pending"] is True
    assert pending["requested_pool"] == tiny
    assert pending["pending_reason"] == (
        f'Failed to allocate IP for "{namespace}/t3": pool "{tiny}" has no free IPv4 address '
        f'(pool "{tiny}": IPv4 1 of 1 in use); add addresses to a pool, free some, or allow sharing'
    )
