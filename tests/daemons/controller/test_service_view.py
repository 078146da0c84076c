import copy
import ipaddress
import json
import re

import pytest

from ansible_collections.baremetal.lb.daemons.controller.service_view import ServiceView, slim_service
from ansible_collections.baremetal.lb.daemons.controller.status_writer import Desired
from ansible_collections.baremetal.lb.plugins.module_utils.failback import service_annotation_problem
from ansible_collections.baremetal.lb.plugins.module_utils.services import (
    ServiceRequestError,
    ingress,
    service_from_manifest,
)


def _service(**spec):
    return {
        "metadata": {"namespace": "ns", "name": "web", "annotations": {}},
        "spec": {"type": "LoadBalancer", **spec},
    }


def test_class_less_service_is_served_only_by_the_class_less_controller():
    view = ServiceView.of(_service())
    assert view.key == "ns/web"
    assert view.served_by("")
    assert not view.served_by("example.com/lb")


def test_service_with_a_class_is_served_only_by_that_class():
    view = ServiceView.of(_service(loadBalancerClass="example.com/lb"))
    assert view.served_by("example.com/lb")
    assert not view.served_by("")


def test_other_types_are_never_served():
    assert not ServiceView.of(_service(type="ClusterIP")).served_by("")


def test_held_ips_skip_hostnames_and_garbage():
    service = _service()
    service["status"] = {
        "loadBalancer": {"ingress": [{"ip": "192.0.2.70"}, {"hostname": "x"}, {"ip": "2001:db8:1::1:5"}]}
    }
    assert ServiceView.of(service).held_ips == (
        ipaddress.ip_address("192.0.2.70"),
        ipaddress.ip_address("2001:db8:1::1:5"),
    )


def test_allocated_from_reads_the_deprecated_annotation_when_the_new_one_is_absent():
    service = _service()
    service["metadata"]["annotations"] = {"metallb.universe.tf/ip-allocated-from-pool": "old"}
    assert ServiceView.of(service).allocated_from == "old"
    service["metadata"]["annotations"]["metallb.io/ip-allocated-from-pool"] = ""
    assert ServiceView.of(service).allocated_from == ""


# -- the cached form: slim_service keeps every fact the controller reads --------------------------

_FULL = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {
        "name": "web",
        "namespace": "ns",
        "uid": "u-1",
        "resourceVersion": "42",
        "creationTimestamp": "2026-12-03T12:00:00Z",
        "labels": {"app": "web"},
        "annotations": {
            "metallb.io/ip-allocated-from-pool": "blue",
            "kubectl.kubernetes.io/last-applied-configuration": '{"a whole": "manifest"}',
        },
        "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {"f:type": {}}}}],
    },
    "spec": {
        "type": "LoadBalancer",
        "clusterIP": "fd00::1",
        "clusterIPs": ["fd00::1", "10.96.0.1"],
        "ipFamilies": ["IPv6", "IPv4"],
        "ipFamilyPolicy": "RequireDualStack",
        "externalTrafficPolicy": "Local",
        "selector": {"app": "web"},
        "sessionAffinity": "None",
        "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 31000}],
    },
    "status": {"loadBalancer": {"ingress": [{"ip": "2001:db8::1", "ipMode": "VIP"}]}},
}


def _variant(**changes):
    """_FULL with top-level parts replaced (None: removed)."""
    service = {key: value for key, value in _FULL.items() if changes.get(key, value) is not None}
    return {**service, **{key: value for key, value in changes.items() if value is not None}}


SERVICES = {
    "dual-stack, Local, held": _FULL,
    "asks for addresses, shares, another class": _variant(
        metadata={
            **_FULL["metadata"],
            "annotations": {"metallb.io/loadBalancerIPs": "192.0.2.7", "metallb.io/allow-shared-ip": "k"},
        },
        spec={"type": "LoadBalancer", "loadBalancerClass": "example.com/lb", "clusterIP": "10.96.0.9"},
    ),
    "spec.loadBalancerIP, no status": _variant(
        spec={**_FULL["spec"], "loadBalancerIP": "203.0.113.5", "clusterIPs": None}, status=None
    ),
    "Cluster traffic policy, with a selector": _variant(
        spec={**_FULL["spec"], "externalTrafficPolicy": "Cluster"}
    ),
    "hostname ingress": _variant(status={"loadBalancer": {"ingress": [{"hostname": "lb.example"}]}}),
    "not a LoadBalancer": _variant(spec={"type": "ClusterIP", "clusterIP": "None"}),
}


@pytest.mark.parametrize("name", SERVICES)
def test_the_cached_form_reads_as_the_listed_one(name):
    listed = copy.deepcopy(SERVICES[name])
    cached = slim_service(copy.deepcopy(listed))
    assert ServiceView.of(cached) == ServiceView.of(listed)
    try:
        expected = service_from_manifest(listed, {"team": "a"})
    except ServiceRequestError as error:
        with pytest.raises(ServiceRequestError, match=re.escape(str(error))):
            service_from_manifest(cached, {"team": "a"})
    else:
        assert service_from_manifest(cached, {"team": "a"}) == expected
    for desired in (Desired(("2001:db8::1",), "blue"), Desired(("192.0.2.9",), "red"), Desired((), "")):
        assert desired.patch_for(cached) == desired.patch_for(listed)
    assert ingress(cached) == ingress(listed)
    assert service_annotation_problem(cached["metadata"].get("annotations")) == service_annotation_problem(
        listed["metadata"].get("annotations")
    )
    for key in ("uid", "resourceVersion", "labels"):  # what Events and advertisements read
        assert cached["metadata"].get(key) == listed["metadata"].get(key)


def test_the_cached_form_drops_what_nobody_reads():
    cached = slim_service(copy.deepcopy(_FULL))
    assert "managedFields" not in cached["metadata"]
    assert "kubectl.kubernetes.io/last-applied-configuration" not in cached["metadata"]["annotations"]
    assert [dict(port) for port in cached["spec"]["ports"]] == [{"protocol": "TCP", "port": 80}]
    assert "sessionAffinity" not in cached["spec"] and "clusterIP" not in cached["spec"]
    cluster_policy = slim_service(
        {**copy.deepcopy(_FULL), "spec": {**_FULL["spec"], "externalTrafficPolicy": "Cluster"}}
    )
    assert "selector" not in cluster_policy["spec"]  # only a Local Service's backends are keyed by it
    assert slim_service({"metadata": {"name": "a"}, "spec": {"clusterIP": "10.96.0.1"}})["spec"] == {
        "clusterIP": "10.96.0.1"
    }


def test_repeated_values_are_held_once():
    """Two Services decoded apart (as watch events are) share every value they have alike."""
    first, second = (slim_service(json.loads(json.dumps(_FULL))) for _unused in range(2))
    for read in (
        lambda s: s["metadata"]["namespace"],
        lambda s: s["metadata"]["labels"],
        lambda s: s["metadata"]["annotations"],
        lambda s: s["spec"]["type"],
        lambda s: s["spec"]["ipFamilies"],
        lambda s: s["spec"]["ports"],
        lambda s: next(iter(s["spec"]["selector"])),
        lambda s: next(iter(s["status"]["loadBalancer"]["ingress"][0])),
    ):
        assert read(first) is read(second)


@pytest.mark.parametrize(
    "read",
    [
        lambda s: s["metadata"]["annotations"],
        lambda s: s["metadata"]["labels"],
        lambda s: s["spec"]["ports"][0],
    ],
    ids=["annotations", "labels", "a port"],
)
def test_shared_values_cannot_be_changed_in_place(read):
    with pytest.raises(TypeError):
        read(slim_service(copy.deepcopy(_FULL)))["changed"] = "by one Service for all"


def test_values_that_cannot_be_shared_are_kept_as_they_are():
    odd = copy.deepcopy(_FULL)
    odd["metadata"]["labels"] = {"app": ["not", "a", "label"]}
    odd["spec"]["ipFamilies"] = [{"not": "a family"}]
    odd["spec"]["ports"] = [{"protocol": ["TCP"], "port": 80}]
    cached = slim_service(odd)
    assert dict(cached["metadata"]["labels"]) == {"app": ["not", "a", "label"]}
    assert cached["spec"]["ipFamilies"] == ({"not": "a family"},)
    assert [dict(port) for port in cached["spec"]["ports"]] == [{"protocol": ["TCP"], "port": 80}]
