"""Non-revertive failback: the policy, where it comes from, and who announces under it."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.cluster_facts import service_facts
from ansible_collections.baremetal.lb.plugins.module_utils.config_errors import InvalidConfigError
from ansible_collections.baremetal.lb.plugins.module_utils.config_model import ClusterResources
from ansible_collections.baremetal.lb.plugins.module_utils.failback import (
    FAILBACK_ANNOTATION,
    NON_REVERTIVE,
    REVERTIVE,
    effective_policy,
)
from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import (
    failback_policy,
    held,
    owned,
    plan_service,
    successors,
)
from ansible_collections.baremetal.lb.plugins.module_utils.ownership import (
    Endpoint,
    NodeFacts,
    ServiceFacts,
    announcer,
    holds_against_rank,
    rank,
)
from ansible_collections.baremetal.lb.plugins.module_utils.validation import parse_config

IP = ipaddress.ip_address("192.0.2.70")
KEY = str(IP)
ALL = ("a", "b", "c")
FIRST, SECOND, THIRD = rank(ALL, KEY)  # MetalLB's order for IP
NODES = {name: NodeFacts() for name in ALL}


def _pool() -> dict:
    return {"kind": "IPAddressPool", "metadata": {"name": "lan"}, "spec": {"addresses": ["192.0.2.64/26"]}}


def _ad(name: str, policy: object | None) -> dict:
    annotations = {} if policy is None else {FAILBACK_ANNOTATION: policy}
    return {
        "kind": "L2Advertisement",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"ipAddressPools": ["lan"]},
    }


def _config(*ad_policies: object | None):
    return parse_config(
        ClusterResources(
            pools=[_pool()], l2_advertisements=[_ad(f"l2-{i}", p) for i, p in enumerate(ad_policies)]
        )
    )


def _service(policy: str | None = None) -> ServiceFacts:
    annotations = {} if policy is None else {FAILBACK_ANNOTATION: policy}
    service = {
        "metadata": {"namespace": "shop", "name": "web", "annotations": annotations},
        "spec": {"type": "LoadBalancer"},
        "status": {"loadBalancer": {"ingress": [{"ip": KEY}]}},
    }
    return service_facts(service, {"shop/web": [Endpoint("a", True)]})


POLICIES = {
    "nothing set: MetalLB's rule": (None, (None,), REVERTIVE),
    "the advertisement says non-revertive": (None, (NON_REVERTIVE,), NON_REVERTIVE),
    "any advertisement saying non-revertive is enough": (None, (REVERTIVE, NON_REVERTIVE), NON_REVERTIVE),
    "the Service overrides its advertisements": (REVERTIVE, (NON_REVERTIVE,), REVERTIVE),
    "the Service alone": (NON_REVERTIVE, (None,), NON_REVERTIVE),
    "a wrong Service value is no policy": ("never", (None,), REVERTIVE),
}


@pytest.mark.parametrize(("service", "ads", "expected"), POLICIES.values(), ids=POLICIES.keys())
def test_the_policy_comes_from_the_service_else_the_advertisements(service, ads, expected) -> None:
    facts = _service(service)
    config = _config(*ads)
    assert failback_policy(config, facts, IP) == expected
    (claim,) = plan_service(facts, config=config, nodes=NODES, me="a", suitable_interfaces={4: ["eth0"]})
    assert claim.non_revertive is (expected == NON_REVERTIVE)
    assert effective_policy(facts.failback, (ad.failback for ad in config.l2_advertisements)) == expected


def test_no_policy_without_an_l2_advertisement() -> None:
    assert failback_policy(_config(), _service(NON_REVERTIVE), IP) is None


@pytest.mark.parametrize("value", ["never", "", 1, "Non-Revertive"])
def test_a_wrong_annotation_on_an_advertisement_is_an_error_naming_it(value) -> None:
    with pytest.raises(InvalidConfigError) as raised:
        _config(value)
    message = str(raised.value)
    assert f"metadata.annotations[{FAILBACK_ANNOTATION}]" in message
    assert "non-revertive" in message and "revertive" in message


# (holders, live, draining) -> announcer; holders say they hold IP against the rank
HOLDERS = {
    "no holder: MetalLB's rule": ((), ALL, (), FIRST),
    "the holder keeps it though the first node is back": ((SECOND,), ALL, (), SECOND),
    "a dead holder counts for nothing": ((SECOND,), (FIRST, THIRD), (), FIRST),
    "a draining holder gives it up": ((SECOND,), ALL, (SECOND,), FIRST),
    "two holders (a healed split): the better ranked keeps it": ((THIRD, SECOND), ALL, (), SECOND),
    "a holder that is no candidate counts for nothing": (("x",), ALL, (), FIRST),
}


@pytest.mark.parametrize(("holders", "live", "draining", "expected"), HOLDERS.values(), ids=HOLDERS.keys())
def test_a_live_holder_keeps_the_ip(holders, live, draining, expected) -> None:
    assert announcer(KEY, ALL, draining, live, holders=holders) == expected


def test_only_a_node_that_is_not_first_in_the_rank_holds_against_it() -> None:
    assert not holds_against_rank(KEY, FIRST, ALL)
    assert holds_against_rank(KEY, SECOND, ALL)
    assert holds_against_rank(KEY, FIRST, ALL, {SECOND: 10})  # a preferred node ranks first


def _claims(policy: str) -> list:
    return plan_service(
        _service(policy), config=_config(None), nodes=NODES, me="a", suitable_interfaces={4: ["eth0"]}
    )


def test_the_node_that_took_over_holds_and_keeps_the_ip_when_the_first_returns() -> None:
    claims = _claims(NON_REVERTIVE)
    without_first = set(ALL) - {FIRST}
    taken = owned(claims, without_first, SECOND)  # the failover
    assert set(taken) == {IP}
    assert held(taken, SECOND) == {IP}  # what SECOND tells its peers
    holders = {IP: {SECOND}}
    assert set(owned(claims, set(ALL), SECOND, holders)) == {IP}  # the first is back: kept
    assert not owned(claims, set(ALL), FIRST, holders)  # and the first does not take it
    assert successors(claims, set(ALL) - {SECOND}, SECOND, {}) == {IP: FIRST}  # SECOND leaves


def test_a_revertive_ip_ignores_holders() -> None:
    claims = _claims(REVERTIVE)
    assert held(owned(claims, set(ALL) - {FIRST}, SECOND), SECOND) == frozenset()
    assert set(owned(claims, set(ALL), FIRST, {IP: {SECOND}})) == {IP}


def test_the_first_node_holds_nothing() -> None:
    claims = _claims(NON_REVERTIVE)
    assert held(owned(claims, set(ALL), FIRST), FIRST) == frozenset()
