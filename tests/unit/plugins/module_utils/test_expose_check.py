"""expose refuses, before writing, what the controller would refuse, and reads its verdict from Events."""

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.expose_check import (
    allocation_failure,
    answers_request,
    latest_failure,
    request_refusal,
)

POOLS = [
    {
        "kind": "IPAddressPool",
        "metadata": {"name": "web", "namespace": "metallb-system"},
        "spec": {"addresses": ["192.0.2.64/28", "2001:db8:1::/120"]},
    }
]


def service(name, ips=(), held=(), sharing="", families=("IPv4",), ports=((80, "TCP"),), **spec):
    annotations = {}
    if ips:
        annotations["metallb.io/loadBalancerIPs"] = ",".join(ips)
    if sharing:
        annotations["metallb.io/allow-shared-ip"] = sharing
    cluster_ips = {"IPv4": "10.96.0.10", "IPv6": "fd00::10"}
    return {
        "metadata": {"name": name, "namespace": "shop", "annotations": annotations, "uid": f"uid-{name}"},
        "spec": {
            "type": "LoadBalancer",
            "clusterIPs": [cluster_ips[f] for f in families],
            "ipFamilies": list(families),
            "ports": [{"port": port, "protocol": proto} for port, proto in ports],
            **spec,
        },
        "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in held]}},
    }


def refusal(desired, others=()):
    return request_refusal(desired, POOLS, [desired, *others], {"shop": {}})


def test_an_ip_outside_every_pool_is_refused_naming_the_option():
    assert refusal(service("web", ips=["198.51.100.9"])) == (
        "load_balancer_ips: 198.51.100.9 is in no pool; use addresses of a pool or add them to one"
    )


def test_an_ip_another_service_holds_is_refused_with_the_holder():
    taken = service("other", held=["192.0.2.70"])
    message = refusal(service("web", ips=["192.0.2.70"]), [taken])
    assert message.startswith("load_balancer_ips: address 192.0.2.70 cannot be shared: ")
    assert "shop/other" in message


def test_sharing_under_one_key_on_other_ports_is_allowed():
    taken = service("other", held=["192.0.2.70"], sharing="k", ports=((53, "UDP"),))
    assert refusal(service("web", ips=["192.0.2.70"], sharing="k"), [taken]) is None


def test_an_ip_of_a_family_the_service_lacks_is_refused():
    message = refusal(service("web", ips=["2001:db8:1::5"]))
    assert message.startswith(
        "load_balancer_ips: address 2001:db8:1::5 does not match the Service's IP families"
    )


def test_the_service_keeps_its_own_ip_on_a_rerun():
    assert refusal(service("web", ips=["192.0.2.70"], held=["192.0.2.70"])) is None


def test_a_service_of_another_load_balancer_class_does_not_take_the_ip():
    elsewhere = service("other", held=["192.0.2.70"], loadBalancerClass="other.example/lb")
    assert refusal(service("web", ips=["192.0.2.70"]), [elsewhere]) is None


def test_a_pool_named_with_an_ip_outside_it_is_refused():
    other = {"kind": "IPAddressPool", "metadata": {"name": "dmz"}, "spec": {"addresses": ["198.51.100.0/28"]}}
    desired = service("web", ips=["192.0.2.70"])
    desired["metadata"]["annotations"]["metallb.io/address-pool"] = "dmz"
    message = request_refusal(desired, [*POOLS, other], [desired], {"shop": {}})
    assert message == 'load_balancer_ips: 192.0.2.70 is in pool "web", not in "dmz" (address-pool annotation)'


def test_no_request_no_refusal():
    assert refusal(service("web")) is None


def event(reason, message, uid="uid-web", version="7", when="2026-12-02T17:00:00Z"):
    return {
        "involvedObject": {"uid": uid, "resourceVersion": version},
        "reason": reason,
        "message": message,
        "lastTimestamp": when,
    }


def current(version="7"):
    svc = service("web")
    svc["metadata"]["resourceVersion"] = version
    return svc


def test_allocation_failed_about_the_written_version_is_the_answer():
    events = [event("AllocationFailed", "pool 'web' has no free IPv4 address")]
    assert allocation_failure(events, current(), written_version="7") == (
        "AllocationFailed: pool 'web' has no free IPv4 address"
    )


def test_a_failure_about_the_written_version_counts_after_the_controller_wrote_a_newer_one():
    # the Service held an IP; the controller failed the new request and cleared its status (v8)
    events = [event("AllocationFailed", 'pool "tiny" has no free IPv4 address', version="7")]
    assert allocation_failure(events, current(version="8"), written_version="7") == (
        'AllocationFailed: pool "tiny" has no free IPv4 address'
    )


def test_a_failure_about_an_older_version_does_not_count_after_a_change():
    events = [event("AllocationFailed", "old news", version="6")]
    assert allocation_failure(events, current(), written_version="7") is None


def test_an_unchanged_service_answers_with_the_latest_verdict():
    events = [
        event("AllocationFailed", "old news", version="5", when="2026-12-02T16:00:00Z"),
        event("IPAllocated", "Assigned IP", version="6", when="2026-12-02T16:10:00Z"),
        event("AllocationFailed", "pool 'web' is full", version="6", when="2026-12-02T16:20:00Z"),
    ]
    latest = allocation_failure(events, current(), written_version=None)
    assert latest == "AllocationFailed: pool 'web' is full"
    assert allocation_failure(events[:2], current(), written_version=None) is None


def test_events_of_a_deleted_namesake_do_not_count():
    events = [event("AllocationFailed", "about a Service deleted since", uid="uid-gone")]
    assert allocation_failure(events, current(), written_version=None) is None


def test_lb_info_quotes_the_latest_failure_about_this_service_only():
    why = 'Failed to allocate IP for "shop/web": pool "tiny" has no free IPv4 address'
    events = [
        event("AllocationFailed", "about a deleted namesake", uid="uid-gone", when="2026-12-02T18:00:00Z"),
        event("AllocationFailed", why, version="5"),
    ]
    assert latest_failure(events, current())["message"] == why
    assert latest_failure(events[:1], current()) is None


def allocated(held, pool=""):
    svc = service("web", held=held)
    if pool:
        svc["metadata"]["annotations"]["metallb.io/ip-allocated-from-pool"] = pool
    return svc


@pytest.mark.parametrize(
    ("case", "svc", "requested", "pool", "answers"),
    [
        ("no IP yet", allocated(()), (), None, False),
        ("any IP answers a request for none", allocated(("192.0.2.64",), "web"), (), None, True),
        ("the requested IP is held", allocated(("192.0.2.75",), "web"), ("192.0.2.75",), None, True),
        ("spelled otherwise", allocated(("2001:db8:1::5",), "web"), ("2001:db8:1:0::5",), None, True),
        ("the IP held before the request", allocated(("192.0.2.64",), "web"), ("192.0.2.75",), None, False),
        ("from the requested pool", allocated(("192.0.2.64",), "tiny"), (), "tiny", True),
        ("from the pool held before", allocated(("192.0.2.64",), "web"), (), "tiny", False),
        ("no pool annotation yet", allocated(("192.0.2.64",)), (), "tiny", False),
    ],
)
def test_only_the_controllers_answer_to_this_request_ends_the_wait(case, svc, requested, pool, answers):
    assert answers_request(svc, requested, pool) is answers, case
