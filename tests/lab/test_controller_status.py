"""What the controller writes besides Service status: pool counters and who wrote what.

IPAddressPool ``status`` counts assigned and available addresses per family as MetalLB's
controller does (a /64 is uncountable: the int64 maximum), follows allocation and release, and
costs at most one write per pool per second however many Services change. Every write carries
the field manager ``baremetal-lb-controller``, so managedFields say who wrote what.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.baremetal.lb.daemons.kube.informer import Informer
from ansible_collections.baremetal.lb.daemons.kube.kubeapi import Resource
from tests.lab import controller_harness as harness
from tests.lab.controller_harness import POOLS, service_manifest, unique, wait_for

controller_config = harness.controller_config
cluster = harness.cluster
start_controller = harness.start_controller

INT64_MAX = 2**63 - 1
MANAGER = "baremetal-lb-controller"


def _counters(cluster, pool):
    status = cluster.api.request("GET", f"{POOLS}/{pool}").get("status") or {}
    return tuple(
        status.get(field) for field in ("assignedIPv4", "assignedIPv6", "availableIPv4", "availableIPv6")
    )


def _wait_counters(cluster, pool, expected):
    seen = []

    def _check():
        seen[:] = [_counters(cluster, pool)]
        return seen[0] == expected

    try:
        wait_for(f"pool {pool} to show {expected}", _check, timeout=30)
    except AssertionError as error:
        raise AssertionError(f"{error}; it shows {seen}") from None


def test_pool_status_counts_assigned_and_available_addresses_per_family(cluster, start_controller, namespace):
    pool = cluster.create_pool(unique("counted"), ["192.0.2.64/30", "2001:db8:5::/64"])
    start_controller()
    _wait_counters(cluster, pool, (0, 0, 4, INT64_MAX))
    cluster.create_service(namespace, service_manifest("v4"))
    cluster.wait_ips(namespace, "v4")
    _wait_counters(cluster, pool, (1, 0, 3, INT64_MAX))
    cluster.create_service(namespace, service_manifest("v6", ipv6=True))
    cluster.wait_ips(namespace, "v6")
    _wait_counters(cluster, pool, (1, 1, 3, INT64_MAX - 1))
    shared = {"metallb.io/allow-shared-ip": "k"}
    cluster.create_service(namespace, service_manifest("share-a", annotations=shared, ports=[80]))
    cluster.create_service(namespace, service_manifest("share-b", annotations=shared, ports=[53]))
    assert cluster.wait_ips(namespace, "share-a") == cluster.wait_ips(namespace, "share-b")
    _wait_counters(cluster, pool, (2, 1, 2, INT64_MAX - 1))  # a shared address counts once
    cluster.delete_service(namespace, "v4")
    _wait_counters(cluster, pool, (1, 1, 3, INT64_MAX - 1))
    cluster.delete_service(namespace, "v6")
    _wait_counters(cluster, pool, (1, 0, 3, INT64_MAX))


def test_a_burst_of_services_costs_at_most_one_pool_status_write_per_second(
    cluster, start_controller, namespace
):
    pool = cluster.create_pool(unique("burst"), ["2001:db8:6::/64"])
    start_controller()
    _wait_counters(cluster, pool, (0, 0, 0, INT64_MAX))
    writes: list[float] = []
    stop = threading.Event()

    def _seen(_key, old, new):
        if old and new and old.get("status") != new.get("status"):
            writes.append(time.monotonic())

    watcher = Informer(
        cluster.api, Resource("/apis/metallb.io/v1beta1", "ipaddresspools", "metallb-system"), _seen
    )
    watcher.list_now()
    threading.Thread(target=watcher.run, args=(stop,), daemon=True).start()
    try:
        count = 60
        with ThreadPoolExecutor(16) as creators:
            list(
                creators.map(
                    lambda index: cluster.create_service(namespace, service_manifest(f"s{index}", ipv6=True)),
                    range(count),
                )
            )
        _wait_counters(cluster, pool, (0, count, 0, INT64_MAX - count))
        wait_for("the last write to be watched", lambda: writes, timeout=10)
    finally:
        stop.set()
    span = writes[-1] - writes[0]
    assert len(writes) <= span + 2, f"{len(writes)} pool status writes in {span:.1f}s for {count} Services"
    assert len(writes) < count


def _managers(obj, subresource=""):
    return {
        entry["manager"]
        for entry in obj["metadata"].get("managedFields") or []
        if entry.get("subresource", "") == subresource
    }


def test_service_status_pool_status_and_events_name_our_field_manager(cluster, start_controller, namespace):
    pool = cluster.create_pool(unique("managed"), ["192.0.2.64/30"])
    start_controller()
    cluster.create_service(namespace, service_manifest("web"))
    cluster.wait_ips(namespace, "web")
    assert _managers(cluster.service(namespace, "web"), "status") == {MANAGER}
    _wait_counters(cluster, pool, (1, 0, 3, 0))
    assert _managers(cluster.api.request("GET", f"{POOLS}/{pool}"), "status") == {MANAGER}
    events = wait_for(
        "the IPAllocated event",
        lambda: cluster.api.request(
            "GET",
            f"/api/v1/namespaces/{namespace}/events",
            {"fieldSelector": "involvedObject.name=web,reason=IPAllocated"},
        )["items"],
    )
    assert events[0]["message"] == 'Assigned IP ["192.0.2.64"]'
    assert _managers(events[0]) == {MANAGER}
