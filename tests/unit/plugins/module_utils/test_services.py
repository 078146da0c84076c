import ipaddress

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPFamily
from ansible_collections.baremetal.lb.plugins.module_utils.services import (
    FamilyPolicy,
    ServiceRequestError,
    allocated_pool,
    annotation,
    annotation_value,
    frozen_labels,
    ingress_ips,
    requested_ips,
    selector_is_read,
    service_from_manifest,
)


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({}, None),
        ({"metallb.universe.tf/address-pool": "old"}, "old"),
        ({"metallb.io/address-pool": "new", "metallb.universe.tf/address-pool": "old"}, "new"),
        ({"metallb.io/address-pool": "", "metallb.universe.tf/address-pool": "old"}, ""),
    ],
)
def test_new_annotation_wins(annotations, expected):
    assert annotation_value(annotations, "address-pool") == expected


def test_annotation_names():
    assert annotation("address-pool") == "metallb.io/address-pool"
    assert annotation("allow-shared-ip", deprecated=True) == "metallb.universe.tf/allow-shared-ip"


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({}, ""),
        ({"metallb.io/ip-allocated-from-pool": "lan"}, "lan"),
        ({"metallb.universe.tf/ip-allocated-from-pool": "old"}, "old"),
        (
            {"metallb.io/ip-allocated-from-pool": "lan", "metallb.universe.tf/ip-allocated-from-pool": "old"},
            "lan",
        ),
        ({"metallb.io/ip-allocated-from-pool": "", "metallb.universe.tf/ip-allocated-from-pool": "old"}, ""),
        ({"metallb.io/address-pool": "asked"}, ""),  # the pool asked for is not the pool allocated from
    ],
)
def test_allocated_pool_reads_both_forms_and_the_new_one_wins_even_empty(annotations, expected):
    assert allocated_pool({"metadata": {"annotations": annotations}}) == expected


@pytest.mark.parametrize(
    ("ingress", "expected"),
    [
        (None, ()),
        ([], ()),
        ([{"ip": "192.0.2.10"}], ("192.0.2.10",)),
        ([{"ip": "2001:db8::a"}, {"ip": "192.0.2.10"}], ("2001:db8::a", "192.0.2.10")),  # order kept
        ([{"hostname": "lb.example.com"}], ()),
        ([{"hostname": "lb.example.com"}, {"ip": "198.51.100.7"}], ("198.51.100.7",)),
        ([{"ip": "192.0.2.300"}, {"ip": "not-an-ip"}, {"ip": ""}, {"ip": "203.0.113.1"}], ("203.0.113.1",)),
        ([{"ip": " 192.0.2.10 "}], ("192.0.2.10",)),
        ([{"ip": "2001:DB8:0::1"}], ("2001:db8::1",)),  # parsed, so compared canonically
    ],
)
def test_ingress_ips_are_the_addresses_held_in_order(ingress, expected):
    status = {} if ingress is None else {"loadBalancer": {"ingress": ingress}}
    assert ingress_ips({"status": status}) == tuple(map(ipaddress.ip_address, expected))


def test_ingress_ips_of_a_service_without_status():
    assert ingress_ips({"metadata": {"name": "new"}}) == ()
    assert ingress_ips({"status": {"loadBalancer": {}}}) == ()


@pytest.mark.parametrize(
    ("annotations", "spec_ip", "expected"),
    [
        ({}, "", ()),
        ({}, "192.0.2.1", ("192.0.2.1",)),
        ({"metallb.io/loadBalancerIPs": "192.0.2.1, 2001:db8::1"}, "", ("192.0.2.1", "2001:db8::1")),
        ({"metallb.universe.tf/loadBalancerIPs": "2001:db8::1"}, "", ("2001:db8::1",)),
    ],
)
def test_requested_ips(annotations, spec_ip, expected):
    assert requested_ips(annotations, spec_ip) == tuple(map(ipaddress.ip_address, expected))


@pytest.mark.parametrize(
    ("annotations", "spec_ip", "says"),
    [
        ({"metallb.io/loadBalancerIPs": "192.0.2.1"}, "192.0.2.2", "keep only the annotation"),
        ({"metallb.io/loadBalancerIPs": "192.0.2.1,192.0.2.2"}, "", "at most one IPv4 and one IPv6"),
        ({"metallb.io/loadBalancerIPs": "192.0.2.300"}, "", "not an IPv4 or IPv6 address"),
    ],
)
def test_bad_requests(annotations, spec_ip, says):
    with pytest.raises(ServiceRequestError) as error:
        requested_ips(annotations, spec_ip)
    assert says in str(error.value)


def test_service_from_manifest():
    service = service_from_manifest(
        {
            "metadata": {
                "namespace": "shop",
                "name": "web",
                "labels": {"app": "web"},
                "annotations": {"metallb.io/allow-shared-ip": "k", "metallb.universe.tf/address-pool": "p"},
            },
            "spec": {
                "clusterIPs": ["2001:db8::10", "10.96.0.10"],
                "ipFamilyPolicy": "PreferDualStack",
                "externalTrafficPolicy": "Local",
                "selector": {"b": "2", "a": "1"},
                "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}],
            },
        },
        {"env": "prod"},
    )
    assert service.key == "shop/web"
    assert service.ip_families == (IPFamily.IPV6, IPFamily.IPV4)
    assert service.ip_family_policy is FamilyPolicy.PREFER_DUAL_STACK
    assert (service.pool, service.sharing_key, service.backend_key) == ("p", "k", "a=1,b=2")
    assert service.ports == {("TCP", 80), ("UDP", 53)}
    assert service.namespace_labels == {"env": "prod"}


def test_cluster_policy_has_empty_backend_key():
    service = service_from_manifest({"metadata": {"name": "x"}, "spec": {"selector": {"a": "1"}}})
    assert service.backend_key == ""
    assert service.ip_families == (IPFamily.IPV4,)


def _manifest(namespace, labels, ports):
    return {
        "metadata": {"namespace": namespace, "name": f"svc-{len(ports)}", "labels": labels},
        "spec": {"ports": [{"protocol": protocol, "port": port} for protocol, port in ports]},
    }


def test_equal_label_sets_and_ports_are_one_read_only_copy():
    """The controller's allocator keeps a Service for each of 100,000: equal parts are shared."""
    namespace_labels = {"team": "a", "kubernetes.io/metadata.name": "ns"}
    first = service_from_manifest(_manifest("ns", {"app": "web"}, [("TCP", 80)]), namespace_labels)
    second = service_from_manifest(_manifest("ns", {"app": "web"}, [("TCP", 80)]), dict(namespace_labels))
    assert first.namespace_labels is second.namespace_labels
    assert first.labels is second.labels
    assert first.ports is second.ports
    assert first.namespace_labels == namespace_labels
    assert first.ports == frozenset({("TCP", 80)})
    namespace_labels["team"] = "b"  # the caller's dict changes: the Service's copy does not
    assert first.namespace_labels["team"] == "a"
    with pytest.raises(TypeError):
        first.labels["app"] = "db"  # type: ignore[index]


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({}, {}),
        ({"b": "2", "a": "1"}, {"a": "1", "b": "2"}),
        ({"odd": ["not", "a", "label"]}, {"odd": ["not", "a", "label"]}),  # unhashable: its own copy
    ],
)
def test_frozen_labels_read_as_the_labels(labels, expected):
    assert frozen_labels(labels) == expected


@pytest.mark.parametrize(
    ("policy", "read"),
    [("Local", True), ("Cluster", False), (None, False), ("local", False)],  # the API spells it "Local"
)
def test_only_a_local_services_selector_is_read_and_kept(policy, read):
    spec = {"selector": {"app": "web"}, **({"externalTrafficPolicy": policy} if policy else {})}
    service = service_from_manifest({"metadata": {"name": "web"}, "spec": spec})
    assert selector_is_read(spec) is read
    assert dict(service.selector) == ({"app": "web"} if read else {})
    assert service.backend_key == ("app=web" if read else "")
