"""The chaos bench's judge and write-log reader, on hand-made Services and log lines.

The bench is only as good as its verdicts: these pin what counts as a duplicate (by the sharing
rules of plugins/module_utils), a lost or changed IP, and a kill between choosing and writing.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.pools import AddressPool
from bench.chaos import judge
from bench.chaos.write_log import WriteTracker, in_flight

POOL = [AddressPool.from_strings("p", ["2001:db8:c5::/112"])]
IN_POOL, OTHER_IN_POOL, OUTSIDE = "2001:db8:c5::1", "2001:db8:c5::2", "2001:db8:ff::1"


def service(name, ip=None, *, share="", ports=(80,), local_selector=None, created="2026-01-01T00:00:00Z"):
    annotations = {"metallb.io/allow-shared-ip": share} if share else {}
    spec = {"type": "LoadBalancer", "ports": [{"port": port, "protocol": "TCP"} for port in ports]}
    if local_selector is not None:
        spec.update(externalTrafficPolicy="Local", selector=local_selector)
    return {
        "metadata": {
            "namespace": "ns",
            "name": name,
            "annotations": annotations,
            "creationTimestamp": created,
        },
        "spec": spec,
        "status": {"loadBalancer": {"ingress": [{"ip": ip}] if ip else []}},
    }


@pytest.mark.parametrize(
    ("first", "second", "duplicate"),
    [
        pytest.param({}, {}, True, id="neither-allows-sharing"),
        pytest.param({"share": "k"}, {}, True, id="only-one-allows-sharing"),
        pytest.param(
            {"share": "k", "ports": (80,)}, {"share": "k", "ports": (81,)}, False, id="same-key-ports-apart"
        ),
        pytest.param(
            {"share": "k", "ports": (80,)}, {"share": "k", "ports": (80,)}, True, id="same-key-same-port"
        ),
        pytest.param({"share": "k", "ports": (80,)}, {"share": "j", "ports": (81,)}, True, id="other-keys"),
        pytest.param(
            {"share": "k", "ports": (80,), "local_selector": {"app": "a"}},
            {"share": "k", "ports": (81,), "local_selector": {"app": "b"}},
            True,
            id="local-policy-other-backends",
        ),
    ],
)
def test_two_services_on_one_ip_are_a_duplicate_unless_the_sharing_rules_allow_it(first, second, duplicate):
    services = [service("a", IN_POOL, **first), service("b", IN_POOL, **second)]
    assert bool(judge.duplicates(services)) is duplicate


def test_services_on_different_ips_are_never_duplicates():
    assert judge.duplicates([service("a", IN_POOL), service("b", OTHER_IN_POOL)]) == {}


@pytest.mark.parametrize(
    ("before", "after", "requested", "verdict"),
    [
        pytest.param(IN_POOL, IN_POOL, None, "kept", id="kept"),
        pytest.param(IN_POOL, None, None, "lost", id="lost-while-the-pool-holds-it"),
        pytest.param(IN_POOL, OTHER_IN_POOL, None, "changed", id="changed-while-the-pool-holds-it"),
        pytest.param(OUTSIDE, IN_POOL, None, "moved_by_shrink", id="moved-after-the-pool-shrank"),
        pytest.param(OUTSIDE, None, None, "moved_by_shrink", id="lost-after-the-pool-shrank"),
        pytest.param(None, IN_POOL, None, "kept", id="had-none-before"),
        pytest.param(IN_POOL, OTHER_IN_POOL, OTHER_IN_POOL, "moved_on_request", id="asked-for-another"),
        pytest.param(IN_POOL, OTHER_IN_POOL, IN_POOL, "changed", id="asked-for-what-it-had"),
    ],
)
def test_a_service_that_showed_an_ip_keeps_it_unless_its_pool_or_its_request_says_otherwise(
    before, after, requested, verdict
):
    old = service("a", before)
    if requested:
        old["metadata"]["annotations"]["metallb.io/loadBalancerIPs"] = requested
    comparison = judge.compare([old], judge.shown([service("a", after)]), POOL)
    found = {name for name, keys in vars(comparison).items() if keys}
    assert found == (set() if verdict == "kept" else {verdict})


def test_a_deleted_service_is_not_judged():
    assert judge.compare([service("a", IN_POOL)], {}, POOL) == judge.Comparison()


def test_a_service_left_outside_every_pool_is_reported():
    snapshot = judge.shown([service("a", OUTSIDE), service("b", IN_POOL)])
    assert judge.outside_pools(snapshot, POOL) == ("ns/a",)


def line(msg, service, ips):
    return json.dumps({"level": "info", "msg": msg, "service": service, "ips": ips})


CHOSEN = line("service ns/a gets 2001:db8:c5::1 from pool p", "ns/a", ["2001:db8:c5::1"])
SENDING = line(
    "writing status of service ns/a: ingress 2001:db8:c5::1 from pool p", "ns/a", ["2001:db8:c5::1"]
)
WROTE = line("wrote status of service ns/a: ingress 2001:db8:c5::1 from pool p", "ns/a", ["2001:db8:c5::1"])
RELEASED = line("service ns/a releases 2001:db8:c5::1 of pool p: service deleted", "ns/a", ["2001:db8:c5::1"])


@pytest.mark.parametrize(
    ("lines", "server_shows", "not_written", "on_the_wire", "landed"),
    [
        pytest.param([CHOSEN], (), 1, 0, 0, id="chosen-then-killed"),
        pytest.param([CHOSEN, SENDING], (), 1, 1, 0, id="killed-with-the-patch-on-the-wire"),
        pytest.param([CHOSEN, SENDING], ("2001:db8:c5::1",), 0, 0, 1, id="patch-landed-before-its-log-line"),
        pytest.param([CHOSEN, SENDING, WROTE], ("2001:db8:c5::1",), 0, 0, 0, id="written"),
        pytest.param([CHOSEN, RELEASED], (), 0, 0, 0, id="released-before-the-write"),
        pytest.param([CHOSEN, '{"msg": "cut sho'], (), 1, 0, 0, id="last-line-cut-by-the-kill"),
    ],
)
def test_a_kill_between_choosing_and_writing_is_read_from_the_log(
    lines, server_shows, not_written, on_the_wire, landed
):
    tracker = WriteTracker()
    for text in lines:
        tracker.feed(text)
    found = in_flight(tracker, {"ns/a": server_shows})
    assert (len(found.not_written), len(found.on_the_wire), len(found.landed)) == (
        not_written,
        on_the_wire,
        landed,
    )


def test_a_choice_for_a_service_deleted_meanwhile_is_not_in_flight():
    tracker = WriteTracker()
    tracker.feed(CHOSEN)
    assert in_flight(tracker, {}).not_written == ()
