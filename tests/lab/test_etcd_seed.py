"""Services stored straight in etcd (``bench/etcd_seed.py``) are what the API server would have stored.

``bench/controller_bench.py --seed-through-etcd`` stores 100,000 Services this way, since
creating them through kube-apiserver 1.37 takes hours. This checks, at a small size, what makes
the bench's figures those of a real cluster: the API server serves every Service with its
ClusterIP, each ClusterIP has the IPAddress object the allocator would have made, naming its
Service (so the API server's repair loop has nothing to mend), and storing a name again
overwrites nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.baremetal.lb.daemons.kube.kubeapi import KubeApi
from bench import etcd_seed
from lab.state import LabState
from tests.lab.controller_harness import service_manifest, wait_for

COUNT = 300  # more than two transactions of IPAddresses and of Services


def _ip_addresses(api: KubeApi) -> list[dict[str, Any]]:
    """The IPAddress objects of ClusterIPs."""
    items: list[dict[str, Any]] = api.request(
        "GET",
        "/apis/networking.k8s.io/v1/ipaddresses",
        {"labelSelector": "ipaddress.kubernetes.io/managed-by=ipallocator.k8s.io"},
    )["items"]
    return items


def test_seeded_services_are_served_with_the_cluster_ips_the_allocator_would_have_recorded(
    lab: LabState, namespace: str
) -> None:
    api = KubeApi.connect(str(lab.kubeconfig))
    manifests = [service_manifest(f"svc-{index:03d}", ipv6=True) for index in range(COUNT)]
    assert etcd_seed.seed(lab, namespace, manifests) == COUNT
    wait_for(f"the API server to list {COUNT} Services", lambda: etcd_seed.listed(api, namespace) == COUNT)

    services = api.request("GET", f"/api/v1/namespaces/{namespace}/services")["items"]
    parent = {item["metadata"]["name"]: item["spec"]["parentRef"] for item in _ip_addresses(api)}
    for service in services:
        name, spec = service["metadata"]["name"], service["spec"]
        assert spec["type"] == "LoadBalancer" and spec["ipFamilies"] == ["IPv6"], name
        (cluster_ip,) = spec["clusterIPs"]
        assert cluster_ip == spec["clusterIP"], name
        assert parent.get(cluster_ip) == {  # the core group, "", is left out as the API server writes it
            "resource": "services",
            "namespace": namespace,
            "name": name,
        }, f"{name}: the IPAddress of {cluster_ip}"
    assert len({service["spec"]["clusterIP"] for service in services}) == COUNT, "ClusterIPs are unique"


def test_storing_a_service_that_exists_fails_and_overwrites_nothing(lab: LabState, namespace: str) -> None:
    api = KubeApi.connect(str(lab.kubeconfig))
    etcd_seed.seed(lab, namespace, [service_manifest("svc-kept", ipv6=True)])
    wait_for("the API server to list the Service", lambda: etcd_seed.listed(api, namespace) == 1)
    before = api.request("GET", f"/api/v1/namespaces/{namespace}/services/svc-kept")
    addresses = _ip_addresses(api)
    with pytest.raises(RuntimeError, match=f"storing Services in etcd failed: {namespace} has svc-kept"):
        etcd_seed.seed(lab, namespace, [service_manifest("svc-new", ipv6=True), service_manifest("svc-kept")])
    assert etcd_seed.listed(api, namespace) == 1, "no Service stored"
    assert _ip_addresses(api) == addresses, "no ClusterIP recorded"
    after = api.request("GET", f"/api/v1/namespaces/{namespace}/services/svc-kept")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["spec"]["ports"] == before["spec"]["ports"]
