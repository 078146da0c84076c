from ansible_collections.baremetal.lb.daemons.controller.status_writer import Desired


def _service(ips=(), annotations=None):
    return {
        "metadata": {"resourceVersion": "7", "annotations": annotations or {}},
        "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}},
    }


def test_no_patch_when_the_service_already_shows_the_state():
    service = _service(["192.0.2.70"], {"metallb.io/ip-allocated-from-pool": "p"})
    assert Desired(("192.0.2.70",), "p").patch_for(service) is None


def test_patch_is_conditional_and_carries_ips_and_annotation():
    patch = Desired(("192.0.2.70",), "p").patch_for(_service())
    assert patch == {
        "metadata": {"resourceVersion": "7", "annotations": {"metallb.io/ip-allocated-from-pool": "p"}},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.70"}]}},
    }


def test_clearing_removes_both_annotations():
    service = _service(
        ["192.0.2.70"],
        {"metallb.io/ip-allocated-from-pool": "p", "metallb.universe.tf/ip-allocated-from-pool": "p"},
    )
    patch = Desired((), "").patch_for(service)
    assert patch["metadata"]["annotations"] == {
        "metallb.io/ip-allocated-from-pool": None,
        "metallb.universe.tf/ip-allocated-from-pool": None,
    }
    assert patch["status"] == {"loadBalancer": {"ingress": []}}


def test_entries_the_controller_did_not_write_are_replaced():
    service = _service(["192.0.2.70"], {"metallb.io/ip-allocated-from-pool": "p"})
    service["status"]["loadBalancer"]["ingress"].append({"hostname": "lb.example.com"})
    patch = Desired(("192.0.2.70",), "p").patch_for(service)
    assert patch["status"] == {"loadBalancer": {"ingress": [{"ip": "192.0.2.70"}]}}
