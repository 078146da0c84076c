import ipaddress

from ansible_collections.baremetal.lb.daemons.controller.service_view import ServiceView


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
