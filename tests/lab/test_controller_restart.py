"""Restarts and crashes: status is the only state, so a restarted controller must keep every IP.

Hundreds of Services are IPv6 single-stack: the lab's IPv4 Service range has room for ~250.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from tests.lab import controller_harness as harness
from tests.lab.controller_harness import ingress_ips, service_manifest, unique, wait_for

controller_config = harness.controller_config
cluster = harness.cluster
start_controller = harness.start_controller


def _create_many(cluster, namespace, names):
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(lambda name: cluster.create_service(namespace, service_manifest(name, ipv6=True)), names)
        )


def _ips_by_service(cluster, namespace):
    return {name: ingress_ips(service) for name, service in cluster.services(namespace).items()}


def _all_allocated(cluster, namespace, count):
    ips = _ips_by_service(cluster, namespace)
    return len(ips) == count and all(ips.values()) and ips


def test_restart_keeps_every_ip_and_new_services_never_take_held_ones(cluster, start_controller, namespace):
    cluster.create_pool(unique("restart"), ["2001:db8:2::/64"])
    controller = start_controller()
    first = [f"svc-{index:03d}" for index in range(200)]
    _create_many(cluster, namespace, first)
    before = wait_for("200 Services to get IPs", lambda: _all_allocated(cluster, namespace, 200), timeout=120)
    controller.stop()
    # Free the lowest addresses and add Services while the controller is down: on start the
    # newcomers must get the freed addresses, never one a running Service holds.
    for name in first[:5]:
        cluster.delete_service(namespace, name)
    newcomers = [f"new-{index:02d}" for index in range(10)]
    _create_many(cluster, namespace, newcomers)
    controller.start()
    after = wait_for("the newcomers to get IPs", lambda: _all_allocated(cluster, namespace, 205), timeout=60)
    for name in first[5:]:
        assert after[name] == before[name], name
    every_ip = [ip for ips in after.values() for ip in ips]
    assert len(every_ip) == len(set(every_ip)) == 205
    freed = {before[name][0] for name in first[:5]}
    assert freed <= {after[name][0] for name in newcomers}
    # Services of other (terminating) test namespaces may be counted too.
    reclaimed = re.findall(r"re-claimed the addresses of (\d+) services before allocating", controller.logs())
    assert int(reclaimed[-1]) >= 195


def test_kill_9_during_mass_allocation_loses_and_duplicates_nothing(cluster, start_controller, namespace):
    cluster.create_pool(unique("crash"), ["2001:db8:2::/64"])
    controller = start_controller()
    names = [f"svc-{index:03d}" for index in range(300)]
    _create_many(cluster, namespace, names)
    wait_for(
        "some but not all Services to get IPs",
        lambda: sum(bool(ips) for ips in _ips_by_service(cluster, namespace).values()) >= 30,
        interval=0.02,
    )
    controller.kill()
    at_crash = {name: ips for name, ips in _ips_by_service(cluster, namespace).items() if ips}
    controller.start()
    after = wait_for(
        "every Service to get an IP", lambda: _all_allocated(cluster, namespace, 300), timeout=120
    )
    for name, ips in at_crash.items():
        assert after[name] == ips, name
    every_ip = [ip for ips in after.values() for ip in ips]
    assert len(every_ip) == len(set(every_ip)) == 300
