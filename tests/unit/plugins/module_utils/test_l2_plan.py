"""The layer-2 plan: candidates from advertisements, nodes and endpoints; ownership from liveness."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.config_model import Config, L2Advertisement
from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import (
    by_interface,
    owned,
    plan_service,
    successors,
)
from ansible_collections.baremetal.lb.plugins.module_utils.label_selectors import LabelSelector
from ansible_collections.baremetal.lb.plugins.module_utils.ownership import (
    Endpoint,
    NodeFacts,
    ServiceFacts,
    rank,
)
from ansible_collections.baremetal.lb.plugins.module_utils.pools import AddressPool

NODES = {name: NodeFacts(labels={"kubernetes.io/hostname": name}) for name in ("a", "b", "c")}
POOL = AddressPool.from_strings("p", ["192.0.2.64/26", "2001:db8:1::1:0/112"])
IFACES = {4: ["eth0"], 6: ["eth0"]}
IP = ipaddress.ip_address("192.0.2.70")


def _config(*ads: L2Advertisement) -> Config:
    return Config(pools=(POOL,), l2_advertisements=ads)


def _service(**kwargs) -> ServiceFacts:
    defaults = {"key": "ns/web", "ips": (IP,), "endpoints": (Endpoint("a", True),), "pool": "p"}
    return ServiceFacts(**{**defaults, **kwargs})


def test_every_node_is_a_candidate_and_only_the_ranked_first_owns():
    claims = plan_service(
        _service(),
        config=_config(L2Advertisement("ad", frozenset({"p"}))),
        nodes=NODES,
        me="a",
        suitable_interfaces=IFACES,
    )
    assert [c.candidates for c in claims] == [frozenset(NODES)]
    first = rank(NODES, str(IP))[0]
    assert bool(owned(claims, set(NODES), first)) and not owned(
        claims, set(NODES), next(n for n in NODES if n != first)
    )


def test_no_advertisement_for_the_pool_means_no_claim():
    assert (
        plan_service(
            _service(),
            config=_config(L2Advertisement("ad", frozenset({"other"}))),
            nodes=NODES,
            me="a",
            suitable_interfaces=IFACES,
        )
        == []
    )


def test_node_selectors_and_named_interfaces():
    selector = LabelSelector(match_labels={"kubernetes.io/hostname": "b"})
    ad = L2Advertisement("ad", frozenset({"p"}), node_selectors=(selector,), interfaces=("eth1",))
    on_b = plan_service(_service(), config=_config(ad), nodes=NODES, me="b", suitable_interfaces=IFACES)
    assert on_b[0].candidates == {"b"} and on_b[0].interfaces == ("eth1",)
    assert by_interface(owned(on_b, {"a", "b"}, "b")) == {"eth1": {IP}}
    on_a = plan_service(_service(), config=_config(ad), nodes=NODES, me="a", suitable_interfaces=IFACES)
    assert on_a[0].interfaces == () and not owned(on_a, {"a", "b"}, "a")


def test_local_policy_keeps_only_nodes_with_serving_endpoints_and_dead_nodes_drop_out():
    service = _service(local_traffic_policy=True, endpoints=(Endpoint("b", True), Endpoint("c", False)))
    claims = plan_service(
        service,
        config=_config(L2Advertisement("ad", frozenset({"p"}))),
        nodes=NODES,
        me="b",
        suitable_interfaces=IFACES,
    )
    assert claims[0].candidates == {"b"}
    assert owned(claims, {"a", "b", "c"}, "b")
    assert not owned(claims, {"a", "c"}, "b")  # not alive in its own view (link down)


def test_pool_is_found_from_the_address_when_the_annotation_is_missing():
    claims = plan_service(
        _service(pool=""),
        config=_config(L2Advertisement("ad", frozenset({"p"}))),
        nodes=NODES,
        me="a",
        suitable_interfaces=IFACES,
    )
    assert len(claims) == 1


FIRST, SECOND, THIRD = rank(NODES, str(IP))
CORDONED = {**NODES, FIRST: NodeFacts(labels=NODES[FIRST].labels, draining=True)}


def _plan(nodes, me, **options):
    return plan_service(
        _service(),
        config=_config(L2Advertisement("ad", frozenset({"p"}))),
        nodes=nodes,
        me=me,
        suitable_interfaces=IFACES,
        **options,
    )


def test_a_cordoned_owner_hands_its_ip_to_the_next_node_and_every_speaker_agrees():
    for me in NODES:  # every speaker plans from the same Node objects
        claims = _plan(CORDONED, me)
        assert [c.draining for c in claims] == [frozenset({FIRST})]
        assert bool(owned(claims, set(NODES), me)) is (me == SECOND)


def test_without_drain_awareness_the_cordoned_owner_keeps_its_ip_as_in_metallb():
    claims = _plan(CORDONED, FIRST, drain_aware=False)
    assert [c.draining for c in claims] == [frozenset()]
    assert owned(claims, set(NODES), FIRST)


def test_a_cordoned_owner_keeps_its_ip_when_no_other_candidate_is_alive():
    assert owned(_plan(CORDONED, FIRST), {FIRST}, FIRST)


SUCCESSOR_CASES = {
    "the owner leaves: the next in rank": (NODES, {SECOND, THIRD}, FIRST, {IP: SECOND}),
    "the owner is cordoned: the next in rank": (CORDONED, set(NODES), FIRST, {IP: SECOND}),
    "the owner stays: nothing to hand over": (NODES, set(NODES), FIRST, {}),
    "a node that does not own it sees the owner": (NODES, set(NODES), THIRD, {IP: FIRST}),
    "nobody else alive: nobody to hand to": (NODES, set(), FIRST, {}),
}


@pytest.mark.parametrize("case", SUCCESSOR_CASES.values(), ids=SUCCESSOR_CASES.keys())
def test_successors(case):
    nodes, live, me, expected = case
    assert successors(_plan(nodes, me), live, me) == expected
