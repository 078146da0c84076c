"""The controller against the real lab: which Service gets which IP, from which pool, and why.

The controller runs as a subprocess with the controller ServiceAccount's RBAC.
"""

from __future__ import annotations

from tests.lab import controller_harness as harness
from tests.lab.controller_harness import ingress_ips, service_manifest, unique, wait_for

controller_config = harness.controller_config
cluster = harness.cluster
start_controller = harness.start_controller

ALLOCATED_FROM = "metallb.io/ip-allocated-from-pool"


def test_service_gets_the_first_ip_of_the_pool_with_annotation_event_and_metrics(
    cluster, start_controller, namespace
):
    pool = cluster.create_pool(unique("first"), ["192.0.2.64/26"])
    controller = start_controller()
    cluster.create_service(namespace, service_manifest("web"))
    assert cluster.wait_ips(namespace, "web") == ["192.0.2.64"]
    service = cluster.service(namespace, "web")
    assert service["metadata"]["annotations"][ALLOCATED_FROM] == pool
    wait_for("the IPAllocated event", lambda: cluster.events(namespace, "web", "IPAllocated"))
    assert cluster.events(namespace, "web", "IPAllocated") == ['Assigned IP ["192.0.2.64"]']
    assert controller.metric("metallb_allocator_addresses_total", f'pool="{pool}"') == 64
    assert controller.metric("metallb_allocator_addresses_in_use_total", f'pool="{pool}"') == 1
    assert controller.metric("metallb_k8s_client_config_loaded_bool") == 1


def test_address_pool_annotation_and_auto_assign(cluster, start_controller, namespace):
    auto = cluster.create_pool(unique("auto"), ["203.0.113.0/28"])
    manual = cluster.create_pool(unique("manual"), ["203.0.113.16/28"], autoAssign=False)
    start_controller()
    cluster.create_service(namespace, service_manifest("plain"))
    cluster.create_service(
        namespace, service_manifest("picked", annotations={"metallb.io/address-pool": manual})
    )
    cluster.create_service(
        namespace, service_manifest("old-style", annotations={"metallb.universe.tf/address-pool": manual})
    )
    assert cluster.wait_ips(namespace, "plain") == ["203.0.113.0"]
    assert cluster.wait_ips(namespace, "picked") == ["203.0.113.16"]
    assert cluster.wait_ips(namespace, "old-style") == ["203.0.113.17"]
    services = cluster.services(namespace)
    assert services["plain"]["metadata"]["annotations"][ALLOCATED_FROM] == auto
    assert services["picked"]["metadata"]["annotations"][ALLOCATED_FROM] == manual


def test_service_allocation_priority_namespaces_and_selectors(cluster, start_controller, namespace):
    other = unique("t-other")
    cluster.api.request("POST", "/api/v1/namespaces", body={"metadata": {"name": other}})
    try:
        general = cluster.create_pool(unique("general"), ["192.0.2.64/28"])
        by_namespace = cluster.create_pool(
            unique("by-ns"), ["192.0.2.80/28"], serviceAllocation={"priority": 20, "namespaces": [namespace]}
        )
        by_label = cluster.create_pool(
            unique("by-label"),
            ["192.0.2.96/28"],
            serviceAllocation={"priority": 10, "serviceSelectors": [{"matchLabels": {"tier": "gold"}}]},
        )
        start_controller()
        cluster.create_service(namespace, service_manifest("in-ns"))
        cluster.create_service(namespace, service_manifest("gold", labels={"tier": "gold"}))
        cluster.create_service(other, service_manifest("elsewhere"))
        cluster.wait_ips(namespace, "in-ns")
        cluster.wait_ips(namespace, "gold")
        cluster.wait_ips(other, "elsewhere")
        pool_of = {
            name: svc["metadata"]["annotations"][ALLOCATED_FROM]
            for name, svc in {**cluster.services(namespace), **cluster.services(other)}.items()
        }
        assert pool_of == {"in-ns": by_namespace, "gold": by_label, "elsewhere": general}
    finally:
        cluster.api.request("DELETE", f"/api/v1/namespaces/{other}")


def test_requested_ips_in_all_three_spellings(cluster, start_controller, namespace):
    cluster.create_pool(unique("req"), ["192.0.2.64/26"])
    start_controller()
    cluster.create_service(
        namespace, service_manifest("new", annotations={"metallb.io/loadBalancerIPs": "192.0.2.100"})
    )
    cluster.create_service(
        namespace, service_manifest("old", annotations={"metallb.universe.tf/loadBalancerIPs": "192.0.2.101"})
    )
    cluster.create_service(namespace, service_manifest("spec", loadBalancerIP="192.0.2.102"))
    cluster.create_service(
        namespace, service_manifest("outside", annotations={"metallb.io/loadBalancerIPs": "198.18.0.1"})
    )
    assert cluster.wait_ips(namespace, "new") == ["192.0.2.100"]
    assert cluster.wait_ips(namespace, "old") == ["192.0.2.101"]
    assert cluster.wait_ips(namespace, "spec") == ["192.0.2.102"]
    failed = wait_for("AllocationFailed", lambda: cluster.events(namespace, "outside", "AllocationFailed"))
    assert (
        failed[0].startswith(f'Failed to allocate IP for "{namespace}/outside": ')
        and "198.18.0.1" in failed[0]
    )
    assert ingress_ips(cluster.service(namespace, "outside")) == []


def test_sharing_an_ip(cluster, start_controller, namespace):
    cluster.create_pool(unique("share"), ["192.0.2.64/26"])
    start_controller()
    shared = {"metallb.io/allow-shared-ip": "team-a"}
    cluster.create_service(namespace, service_manifest("http", annotations=shared, ports=[80]))
    first = cluster.wait_ips(namespace, "http")
    cluster.create_service(namespace, service_manifest("dns", annotations=shared, ports=[53]))
    assert cluster.wait_ips(namespace, "dns") == first
    cluster.create_service(namespace, service_manifest("http2", annotations=shared, ports=[80]))
    assert cluster.wait_ips(namespace, "http2") != first
    cluster.create_service(namespace, service_manifest("loner", ports=[443]))
    assert cluster.wait_ips(namespace, "loner") != first


def test_dual_stack(cluster, start_controller, namespace):
    cluster.create_pool(unique("dual"), ["192.0.2.64/28", "2001:db8:1::1:0/112"])
    cluster.create_pool(unique("v4only"), ["192.0.2.80/28"], autoAssign=False)
    start_controller()
    cluster.create_service(
        namespace,
        service_manifest("both", ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="RequireDualStack"),
    )
    assert cluster.wait_ips(namespace, "both", count=2) == ["192.0.2.64", "2001:db8:1::1:0"]
    cluster.create_service(
        namespace,
        service_manifest(
            "prefer",
            annotations={"metallb.io/address-pool": cluster._pools[1]},
            ipFamilies=["IPv4", "IPv6"],
            ipFamilyPolicy="PreferDualStack",
        ),
    )
    assert cluster.wait_ips(namespace, "prefer") == ["192.0.2.80"]


def test_exhausted_pool_leaves_service_pending_until_an_ip_frees(cluster, start_controller, namespace):
    pool = cluster.create_pool(unique("tiny"), ["192.0.2.64/31"])
    controller = start_controller()
    for name in ("a", "b"):
        cluster.create_service(namespace, service_manifest(name))
        cluster.wait_ips(namespace, name)
    cluster.create_service(namespace, service_manifest("c"))
    failed = wait_for("AllocationFailed on c", lambda: cluster.events(namespace, "c", "AllocationFailed"))
    assert pool in failed[0]
    assert controller.metric("metallb_allocator_addresses_in_use_total", f'pool="{pool}"') == 2
    freed = ingress_ips(cluster.service(namespace, "a"))
    cluster.delete_service(namespace, "a")
    assert cluster.wait_ips(namespace, "c") == freed


def test_pool_shrink_and_deletion_move_services(cluster, start_controller, namespace):
    old = cluster.create_pool(unique("old"), ["192.0.2.64/30"])
    start_controller()
    for name in ("a", "b"):
        cluster.create_service(namespace, service_manifest(name))
    assert cluster.wait_ips(namespace, "a") == ["192.0.2.64"]
    assert cluster.wait_ips(namespace, "b") == ["192.0.2.65"]
    cluster.patch_pool(old, {"addresses": ["192.0.2.65/32"]})
    wait_for("a to lose its IP", lambda: not ingress_ips(cluster.service(namespace, "a")))
    wait_for("ClearAssignment on a", lambda: cluster.events(namespace, "a", "ClearAssignment"))
    assert ingress_ips(cluster.service(namespace, "b")) == ["192.0.2.65"]
    new = cluster.create_pool(unique("new"), ["203.0.113.0/28"])
    assert cluster.wait_ips(namespace, "a") == ["203.0.113.0"]
    cluster.delete_pool(old)
    wait_for("b to move", lambda: ingress_ips(cluster.service(namespace, "b")) == ["203.0.113.1"])
    assert cluster.service(namespace, "b")["metadata"]["annotations"][ALLOCATED_FROM] == new


def test_load_balancer_class_and_type_changes(cluster, start_controller, namespace):
    cluster.create_pool(unique("cls"), ["192.0.2.64/31"])
    start_controller("--lb-class=example.com/ours")
    cluster.create_service(namespace, service_manifest("classless"))
    cluster.create_service(namespace, service_manifest("theirs", loadBalancerClass="example.com/theirs"))
    cluster.create_service(namespace, service_manifest("ours", loadBalancerClass="example.com/ours"))
    assert cluster.wait_ips(namespace, "ours") == ["192.0.2.64"]
    cluster.create_service(namespace, service_manifest("ours2", loadBalancerClass="example.com/ours"))
    assert cluster.wait_ips(namespace, "ours2") == ["192.0.2.65"]
    cluster.create_service(namespace, service_manifest("ours3", loadBalancerClass="example.com/ours"))
    wait_for("ours3 to be refused", lambda: cluster.events(namespace, "ours3", "AllocationFailed"))
    # Leaving LoadBalancer frees the IP (and our annotation); the pending Service gets it.
    cluster.patch_service(namespace, "ours", {"spec": {"type": "ClusterIP"}})
    assert cluster.wait_ips(namespace, "ours3") == ["192.0.2.64"]
    wait_for(
        "the annotation to go",
        lambda: (
            ALLOCATED_FROM not in (cluster.service(namespace, "ours")["metadata"].get("annotations") or {})
        ),
    )
    services = cluster.services(namespace)
    assert ingress_ips(services["classless"]) == [] and ingress_ips(services["theirs"]) == []


def test_invalid_configuration_keeps_the_last_good_one(cluster, start_controller, namespace):
    good = cluster.create_pool(unique("good"), ["192.0.2.64/28"])
    controller = start_controller()
    cluster.create_service(namespace, service_manifest("before"))
    assert cluster.wait_ips(namespace, "before") == ["192.0.2.64"]
    bad = cluster.create_pool(unique("bad"), ["192.0.2.64/30"])  # overlaps "good": CEL cannot see it
    wait_for("the stale metric", lambda: controller.metric("metallb_k8s_client_config_stale_bool") == 1)
    wait_for(
        "an event on a pool of the overlap",
        lambda: [
            message
            for pool in (good, bad)
            for message in cluster.events("metallb-system", pool, "InvalidConfiguration")
            if bad in message
        ],
    )
    cluster.create_service(namespace, service_manifest("during"))
    assert cluster.wait_ips(namespace, "during") == ["192.0.2.65"]
    assert cluster.service(namespace, "during")["metadata"]["annotations"][ALLOCATED_FROM] == good
    cluster.delete_pool(bad)
    wait_for(
        "the stale metric to clear", lambda: controller.metric("metallb_k8s_client_config_stale_bool") == 0
    )
    assert ingress_ips(cluster.service(namespace, "before")) == ["192.0.2.64"]
