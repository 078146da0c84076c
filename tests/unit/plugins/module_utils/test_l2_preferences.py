"""Preferred nodes in layer 2 (``preferredNodeSelectors``): scores, and the election they order.

The cases are the examples of MetalLB's design (design/preferred-node-l2.md): scoring is per
advertisement (an advertisement lifts only the nodes its own nodeSelectors select), weights add
up within one advertisement and across the advertisements that select the Service, and without
preferences the election is the hash order alone.
"""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.config_model import (
    Config,
    L2Advertisement,
    NodePreference,
)
from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import (
    owned,
    plan_service,
    preference_scores,
)
from ansible_collections.baremetal.lb.plugins.module_utils.label_selectors import LabelSelector
from ansible_collections.baremetal.lb.plugins.module_utils.ownership import (
    Endpoint,
    NodeFacts,
    ServiceFacts,
    announcing_node,
    rank,
)
from ansible_collections.baremetal.lb.plugins.module_utils.pools import AddressPool

POOL = AddressPool.from_strings("p", ["192.0.2.64/26"])
IP = ipaddress.ip_address("192.0.2.70")


def _labels(**labels: str) -> LabelSelector:
    return LabelSelector(match_labels=labels)


def _ad(name: str, *preferences: tuple[int, LabelSelector], role: str = "", **kwargs) -> L2Advertisement:
    node_selectors = (_labels(role=role),) if role else ()
    return L2Advertisement(
        name,
        frozenset({"p"}),
        node_selectors=node_selectors,
        preferred_node_selectors=tuple(NodePreference(weight, selector) for weight, selector in preferences),
        **kwargs,
    )


def _nodes(**labels: dict[str, str]) -> dict[str, NodeFacts]:
    return {name: NodeFacts(labels=node_labels) for name, node_labels in labels.items()}


PRIMARY = _labels(zone="primary")
GPU = _labels(gpu="true")
SCORING = {
    "no preferences: every node scores 0": (
        [_ad("plain")],
        _nodes(a={}, b={"zone": "primary"}),
        {},
    ),
    "tiers: 100 for primary, 50 for secondary, 0 for neither": (
        [_ad("tiers", (100, PRIMARY), (50, _labels(zone="secondary")))],
        _nodes(p={"zone": "primary"}, s={"zone": "secondary"}, o={"zone": "other"}),
        {"p": 100, "s": 50},
    ),
    "cumulative: 60 + 50 = 110 for a node matching both": (
        [_ad("cumulative", (60, PRIMARY), (50, GPU))],
        _nodes(both={"zone": "primary", "gpu": "true"}, zone={"zone": "primary"}, gpu={"gpu": "true"}),
        {"both": 110, "zone": 60, "gpu": 50},
    ),
    "ad-scoped: a preference lifts only the nodes its own advertisement selects": (
        [_ad("lb", role="lb"), _ad("edge", role="edge"), _ad("gpu", (100, PRIMARY), role="gpu")],
        _nodes(
            a={"role": "lb"},
            c={"role": "edge", "zone": "primary"},  # eligible through "edge", which has no preference
            e={"role": "gpu", "zone": "primary"},
        ),
        {"e": 100},
    ),
    "multi-ad: the advertisements selecting the Service add up": (
        [_ad("one", (70, PRIMARY), role="lb"), _ad("two", (30, GPU), role="lb")],
        _nodes(
            x={"role": "lb", "zone": "primary", "gpu": "true"},
            y={"role": "lb", "zone": "primary"},
            z={"role": "lb"},
        ),
        {"x": 100, "y": 70},
    ),
    "empty preference: every node the advertisement selects, and only those": (
        [_ad("lb", (10, LabelSelector()), role="lb"), _ad("edge", role="edge")],
        _nodes(a={"role": "lb"}, b={"role": "lb"}, c={"role": "edge"}),
        {"a": 10, "b": 10},
    ),
    "empty preference without nodeSelectors: every node alike": (
        [_ad("all", (10, LabelSelector()))],
        _nodes(a={}, b={"zone": "primary"}),
        {"a": 10, "b": 10},
    ),
}


@pytest.mark.parametrize(("ads", "nodes", "expected"), SCORING.values(), ids=SCORING.keys())
def test_preference_scores(ads, nodes, expected) -> None:
    assert preference_scores(ads, nodes) == expected


HASH_ORDER = rank(("a", "b", "c"), str(IP))  # MetalLB's order without preferences
ELECTION = {
    "no scores: the hash order, unchanged": ({}, HASH_ORDER),
    "zero scores are no scores": (dict.fromkeys(HASH_ORDER, 0), HASH_ORDER),
    "the hash loser, preferred, goes first; the rest keep the hash order": (
        {HASH_ORDER[-1]: 1},
        [HASH_ORDER[-1], *HASH_ORDER[:-1]],
    ),
    "equal scores are tie-broken by the hash": (
        {HASH_ORDER[2]: 50, HASH_ORDER[1]: 50},
        [HASH_ORDER[1], HASH_ORDER[2], HASH_ORDER[0]],
    ),
    "110 beats 100": (
        {HASH_ORDER[2]: 110, HASH_ORDER[1]: 100},
        [HASH_ORDER[2], HASH_ORDER[1], HASH_ORDER[0]],
    ),
}


@pytest.mark.parametrize(("scores", "expected"), ELECTION.values(), ids=ELECTION.keys())
def test_rank_orders_by_score_then_hash(scores, expected) -> None:
    assert rank(("c", "a", "b"), str(IP), scores) == expected


def _claims(
    *ads: L2Advertisement, nodes: dict[str, NodeFacts], labels=None, local_on: str = "", me: str = "a"
):
    service = ServiceFacts(
        key="ns/web",
        ips=(IP,),
        endpoints=(Endpoint(local_on or "a", True),),
        pool="p",
        labels=labels or {},
        local_traffic_policy=bool(local_on),
    )
    config = Config(pools=(POOL,), l2_advertisements=ads)
    return plan_service(service, config=config, nodes=nodes, me=me, suitable_interfaces={4: ["eth0"]})


def _owner(claims, live) -> str | None:
    """The node the speakers elect for the claim of IP, given the live nodes."""
    (claim,) = claims
    return announcing_node(claim.key, claim.candidates & live, claim.scores)


NODES = {name: NodeFacts(labels={"kubernetes.io/hostname": name}) for name in HASH_ORDER}
LOSER = HASH_ORDER[-1]  # the node the hash alone would elect last
PREFER_LOSER = (100, _labels(**{"kubernetes.io/hostname": LOSER}))


def test_the_preferred_node_owns_while_alive_and_the_hash_order_decides_without_it() -> None:
    claims = _claims(_ad("prefer", PREFER_LOSER), nodes=NODES)
    assert claims[0].scores == {LOSER: 100}
    assert _owner(claims, set(NODES)) == LOSER
    # What each node's engine runs: only the preferred node answers.
    for node in NODES:
        mine = owned(_claims(_ad("prefer", PREFER_LOSER), nodes=NODES, me=node), set(NODES), node)
        assert list(mine) == ([IP] if node == LOSER else []), node
    assert _owner(claims, set(NODES) - {LOSER}) == HASH_ORDER[0]  # failover: any node can take over
    assert _owner(claims, set(NODES)) == LOSER  # it comes back: it takes the IP back (MetalLB's rule)


def test_without_preferences_the_claims_are_what_they_were() -> None:
    claims = _claims(_ad("plain"), nodes=NODES)
    assert claims[0].scores == {}
    assert _owner(claims, set(NODES)) == HASH_ORDER[0]


def test_preferences_order_only_the_eligible_nodes() -> None:
    # nodeSelectors leave the preferred node out: it gets no score and cannot own.
    others = [n for n in NODES if n != LOSER]
    ad = L2Advertisement(
        "hard",
        frozenset({"p"}),
        node_selectors=tuple(_labels(**{"kubernetes.io/hostname": n}) for n in others),
        preferred_node_selectors=(NodePreference(*PREFER_LOSER),),
    )
    claims = _claims(ad, nodes=NODES)
    assert claims[0].candidates == set(others) and claims[0].scores == {}
    assert _owner(claims, set(NODES)) == HASH_ORDER[0]


def test_local_traffic_policy_filters_before_preferences() -> None:
    host = next(n for n in HASH_ORDER if n != LOSER)
    claims = _claims(_ad("prefer", PREFER_LOSER), nodes=NODES, local_on=host)
    assert _owner(claims, set(NODES)) == host


def test_an_advertisement_that_does_not_select_the_service_adds_nothing() -> None:
    plain = _ad("plain")
    frontend_only = _ad("frontend", PREFER_LOSER, service_selectors=(_labels(tier="frontend"),))
    backend = _claims(plain, frontend_only, nodes=NODES, labels={"tier": "backend"})
    frontend = _claims(plain, frontend_only, nodes=NODES, labels={"tier": "frontend"})
    assert (_owner(backend, set(NODES)), _owner(frontend, set(NODES))) == (HASH_ORDER[0], LOSER)
