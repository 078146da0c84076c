import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.failback import (
    FAILBACK_ANNOTATION,
    NON_REVERTIVE,
    REVERTIVE,
)
from ansible_collections.baremetal.lb.plugins.module_utils.service_expose import (
    ExposeError,
    ExposeRequest,
    check_ips,
    diff_view,
    manifest,
    parse_ports,
    predicted_ips,
    selector_of,
)


def test_manifest_is_what_kubectl_expose_makes_plus_annotations():
    request = ExposeRequest(
        name="dns",
        namespace="kube-system",
        selector={"k8s-app": "kube-dns"},
        ports=parse_ports([{"port": 53, "protocol": "udp"}, {"port": 53, "protocol": "TCP"}]),
        load_balancer_ips=check_ips(["192.0.2.70", "2001:db8:1::1:7"]),
        pool="lab-l2",
        sharing_key="dns",
        external_traffic_policy="Local",
    )
    service = manifest(request)
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["ports"] == [
        {"port": 53, "protocol": "UDP", "targetPort": 53, "name": "udp-53"},
        {"port": 53, "protocol": "TCP", "targetPort": 53, "name": "tcp-53"},
    ]
    assert service["metadata"]["annotations"] == {
        "metallb.io/loadBalancerIPs": "192.0.2.70,2001:db8:1::1:7",
        "metallb.io/address-pool": "lab-l2",
        "metallb.io/allow-shared-ip": "dns",
    }


def test_a_single_port_keeps_no_name_and_no_annotations_are_written_unasked():
    service = manifest(ExposeRequest("web", "default", {"app": "web"}, parse_ports([{"port": 80}])))
    assert service["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert "annotations" not in service["metadata"]


@pytest.mark.parametrize(
    ("ports", "message"),
    [
        ([], "give at least one port"),
        ([{"port": 0}], r"ports\[0\].port: 0 is outside 1-65535"),
        ([{"port": "http"}], r"ports\[0\].port: 'http' is not a port number"),
        ([{"port": 80, "protocol": "icmp"}], "'ICMP' is not one of TCP, UDP, SCTP"),
        ([{"port": 80}, {"port": 80, "protocol": "TCP"}], r"ports\[1\]: TCP/80 is listed twice"),
    ],
)
def test_bad_ports_name_the_field(ports, message):
    with pytest.raises(ExposeError, match=message):
        parse_ports(ports)


@pytest.mark.parametrize(
    ("ips", "message"),
    [
        (["192.0.2.300"], r"load_balancer_ips\[0\]: '192.0.2.300' is not an IP address"),
        (["192.0.2.1", "192.0.2.2"], "at most one IP per family"),
    ],
)
def test_bad_requested_ips(ips, message):
    with pytest.raises(ExposeError, match=message):
        check_ips(ips)


def test_selector_comes_from_match_labels_only():
    assert selector_of({"spec": {"selector": {"matchLabels": {"app": "web"}}}}) == {"app": "web"}
    with pytest.raises(ExposeError, match="matchExpressions"):
        selector_of({"spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Exists"}]}}})


def server_side(name="web", **annotations):
    """A Service as the API server returns it: bookkeeping, defaults and status included."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "uid": "0d5c",
            "resourceVersion": "812",
            "creationTimestamp": "2026-12-02T17:00:00Z",
            "managedFields": [{"manager": "baremetal.lb", "operation": "Apply"}],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", **annotations},
        },
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": "web"},
            "externalTrafficPolicy": "Cluster",
            "clusterIP": "10.96.0.12",
            "clusterIPs": ["10.96.0.12"],
            "sessionAffinity": "None",
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 31234}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.64"}]}},
    }


WEB = ExposeRequest(
    "web", "shop", {"app": "web"}, parse_ports([{"port": 80, "target_port": 8080}]), pool="lab"
)


def test_the_diff_shows_what_expose_declares_and_no_bookkeeping():
    view = diff_view(server_side(**{"metallb.io/address-pool": "lab"}), WEB)
    assert view == {
        "metadata": {"name": "web", "namespace": "shop", "annotations": {"metallb.io/address-pool": "lab"}},
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": "web"},
            "externalTrafficPolicy": "Cluster",
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}],
        },
    }


def test_declared_node_ports_stay_in_the_diff():
    request = ExposeRequest("web", "shop", {"app": "web"}, parse_ports([{"port": 80, "node_port": 31234}]))
    assert diff_view(server_side(), request)["spec"]["ports"][0]["nodePort"] == 31234


@pytest.mark.parametrize(
    ("failback", "annotations"),
    [
        (None, None),  # no policy: the advertisements' (server-side apply drops one set before)
        (REVERTIVE, {FAILBACK_ANNOTATION: REVERTIVE}),
        (NON_REVERTIVE, {FAILBACK_ANNOTATION: NON_REVERTIVE}),
    ],
)
def test_failback_is_the_services_annotation(failback, annotations):
    request = ExposeRequest("web", "shop", {"app": "web"}, parse_ports([{"port": 80}]), failback=failback)
    assert manifest(request)["metadata"].get("annotations") == annotations


@pytest.mark.parametrize(
    ("before", "after", "same"),
    [
        ({}, {FAILBACK_ANNOTATION: NON_REVERTIVE}, False),  # set
        ({FAILBACK_ANNOTATION: REVERTIVE}, {FAILBACK_ANNOTATION: NON_REVERTIVE}, False),  # changed
        ({FAILBACK_ANNOTATION: NON_REVERTIVE}, {}, False),  # removed
        ({FAILBACK_ANNOTATION: NON_REVERTIVE}, {FAILBACK_ANNOTATION: NON_REVERTIVE}, True),
    ],
)
def test_the_diff_shows_the_failback_annotation(before, after, same):
    shown_before, shown_after = diff_view(server_side(**before), WEB), diff_view(server_side(**after), WEB)
    assert (shown_before == shown_after) is same
    assert shown_after["metadata"].get("annotations") == (after or None)


def test_check_mode_predicts_requested_ips_then_held_ones():
    requested = ExposeRequest(
        "web", "shop", {}, parse_ports([{"port": 80}]), load_balancer_ips=("192.0.2.70",)
    )
    assert predicted_ips(None, requested) == ["192.0.2.70"]
    assert predicted_ips(None, WEB) == []
    assert predicted_ips(server_side(**{"metallb.io/ip-allocated-from-pool": "lab"}), WEB) == ["192.0.2.64"]
    assert predicted_ips(server_side(**{"metallb.io/ip-allocated-from-pool": "other"}), WEB) == []
