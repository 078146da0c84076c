from __future__ import annotations

import hashlib
import random

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.ownership import (
    EXCLUDE_LB_LABEL,
    RANKS_KEPT,
    Endpoint,
    NodeFacts,
    Ranks,
    announcer,
    announcing_node,
    eligible_nodes,
    ownership_key,
    rank,
)

ALL = ("node-a", "node-b", "node-c")
READY = [Endpoint("node-a")]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        # sha256("node-x#ip") ordering, computed once and pinned: a change here breaks
        # compatibility with MetalLB speakers deciding the same IP.
        ("192.0.2.10", ["node-c", "node-b", "node-a"]),
        ("2001:db8::10", ["node-b", "node-a", "node-c"]),
    ],
)
def test_rank_is_metallb_order(key: str, expected: list[str]) -> None:
    assert rank(ALL, key) == expected
    by_hand = sorted(ALL, key=lambda n: hashlib.sha256((n + "#" + key).encode()).hexdigest())
    assert by_hand == expected


def test_rank_does_not_depend_on_input_order() -> None:
    assert rank(reversed(ALL), "192.0.2.10") == rank(ALL, "192.0.2.10")


@pytest.mark.parametrize(
    ("ips", "key"),
    [
        (["2001:0db8:0000::0010", "192.0.2.1"], "2001:db8::10"),
        (["192.0.2.1", "2001:db8::10"], "192.0.2.1"),
    ],
)
def test_ownership_key_is_first_ip_canonical(ips: list[str], key: str) -> None:
    assert ownership_key(ips) == key


def test_ownership_key_needs_an_ip() -> None:
    with pytest.raises(ValueError, match="nothing to announce"):
        ownership_key([])


CASES = {
    "all eligible": ({}, {}, False, READY, set(ALL)),
    "dead speaker": ({"speakers": ("node-a", "node-b")}, {}, False, READY, {"node-a", "node-b"}),
    "network unavailable": (
        {},
        {"node-b": NodeFacts(network_unavailable=True)},
        False,
        READY,
        {"node-a", "node-c"},
    ),
    "exclude label, any value": (
        {},
        {"node-c": NodeFacts(labels={EXCLUDE_LB_LABEL: ""})},
        False,
        READY,
        {"node-a", "node-b"},
    ),
    "not advertised to": ({"advertised_to": ("node-a",)}, {}, False, READY, {"node-a"}),
    "local: only nodes with a serving endpoint": (
        {},
        {},
        True,
        [Endpoint("node-b"), Endpoint("node-c", ready=False, serving=True), Endpoint("node-a", ready=False)],
        {"node-b", "node-c"},
    ),
    "local: endpoint on a node without a live speaker": (
        {"speakers": ("node-a",)},
        {},
        True,
        [Endpoint("node-b")],
        set(),
    ),
    "no serving endpoint anywhere, cluster policy": (
        {},
        {},
        False,
        [Endpoint("node-a", ready=False, serving=False)],
        set(),
    ),
    "no endpoints at all": ({}, {}, False, [], set()),
    "endpoint without node counts as serving for cluster policy": (
        {},
        {},
        False,
        [Endpoint(None)],
        set(ALL),
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_eligible_nodes(case: tuple) -> None:  # type: ignore[type-arg]
    overrides, nodes, local, endpoints, expected = case
    args = {"speakers": ALL, "advertised_to": ALL, **overrides}
    assert (
        eligible_nodes(
            speakers=args["speakers"],
            nodes=nodes,
            advertised_to=args["advertised_to"],
            endpoints=endpoints,
            local_traffic_policy=local,
        )
        == expected
    )


def test_exclude_label_can_be_ignored() -> None:
    nodes = {"node-a": NodeFacts(labels={EXCLUDE_LB_LABEL: "true"})}
    got = eligible_nodes(
        speakers=("node-a",),
        nodes=nodes,
        advertised_to=("node-a",),
        endpoints=READY,
        local_traffic_policy=False,
        ignore_exclude_label=True,
    )
    assert got == {"node-a"}


@pytest.mark.parametrize(
    ("eligible", "expected"),
    [
        (ALL, "node-c"),
        (("node-a", "node-b"), "node-b"),  # the owner dies: the next in its order takes over
        (("node-a",), "node-a"),
        ((), None),
    ],
)
def test_announcing_node(eligible: tuple[str, ...], expected: str | None) -> None:
    assert announcing_node("192.0.2.10", eligible) == expected


# rank(ALL, "192.0.2.10") is node-c, node-b, node-a (pinned above).
ANNOUNCER_CASES = {
    "nobody draining: MetalLB's rule": ((), ALL, "node-c"),
    "the first is draining: the next takes it": (("node-c",), ALL, "node-b"),
    "a draining node ranks behind every live one": (("node-c", "node-b"), ALL, "node-a"),
    "a dead node is no alternative": (("node-c",), ("node-a", "node-c"), "node-a"),
    "every live candidate draining: the IP stays announced": (
        ("node-c", "node-b"),
        ("node-b", "node-c"),
        "node-c",
    ),
    "the only node, draining, keeps it": (("node-c",), ("node-c",), "node-c"),
    "draining names a non-candidate: no effect": (("node-x",), ALL, "node-c"),
    "nobody alive": ((), (), None),
}


@pytest.mark.parametrize("case", ANNOUNCER_CASES.values(), ids=ANNOUNCER_CASES.keys())
def test_draining_nodes_announce_last(case: tuple) -> None:  # type: ignore[type-arg]
    draining, live, expected = case
    assert announcer("192.0.2.10", ALL, draining, live) == expected


def test_live_nodes_outside_the_candidates_do_not_replace_a_draining_candidate() -> None:
    assert announcer("192.0.2.10", ("node-a",), ("node-a",), ALL) == "node-a"


def test_a_preferred_node_being_drained_gives_way_and_preference_still_orders_the_rest() -> None:
    scores = {"node-a": 100, "node-b": 50}
    assert announcer("192.0.2.10", ALL, (), ALL, scores) == "node-a"
    assert announcer("192.0.2.10", ALL, ("node-a",), ALL, scores) == "node-b"
    assert announcer("192.0.2.10", ALL, ("node-a", "node-b"), ALL, scores) == "node-c"


def _announcer_by_sets(key, candidates, draining, live, scores, holders):  # type: ignore[no-untyped-def]
    """The rule as the module docstring states it, over sets: the oracle for the ranked walk."""
    up = set(candidates) & set(live)
    settled = up - set(draining)
    keeping = settled & set(holders)
    return announcing_node(key, keeping or settled or up, scores)


@pytest.mark.parametrize("nodes", [8, 3 * RANKS_KEPT], ids=["heads-whole", "heads-partial"])
def test_a_reused_rank_head_decides_as_the_rule_over_sets(nodes: int) -> None:
    """Random candidates, members, drains, holders and preferences; one Ranks reused throughout."""
    pick = random.Random(14)
    names = [f"node-{i}" for i in range(nodes)]
    ranks = Ranks()
    for _unused in range(3000):
        key = pick.choice(("192.0.2.10", "192.0.2.11", "2001:db8::10"))
        candidates = frozenset(pick.sample(names, pick.randint(0, nodes - 2)))
        live, draining, holders = (pick.sample(names, pick.randint(0, nodes)) for _unused in range(3))
        scores = pick.choice(({}, {"node-1": 10}, {"node-2": 5, "node-5": 5}))
        expected = _announcer_by_sets(key, candidates, draining, live, scores, holders)
        assert announcer(key, candidates, draining, live, scores, holders=holders) == expected
        assert announcer(key, candidates, draining, live, scores, holders=holders, ranks=ranks) == expected


def test_when_every_node_of_the_kept_head_is_dead_the_whole_rank_decides() -> None:
    candidates = frozenset(f"node-{i}" for i in range(3 * RANKS_KEPT))
    ranks = Ranks()
    head = ranks.head("192.0.2.10", candidates)
    assert len(head) == RANKS_KEPT
    live = candidates - set(head)
    expected = rank(candidates, "192.0.2.10")[RANKS_KEPT]
    assert announcer("192.0.2.10", candidates, (), live, ranks=ranks) == expected


def test_ranks_keep_what_is_asked_for_again_and_forget_the_rest_a_renewal_later() -> None:
    ranks = Ranks()
    kept = ranks.head("192.0.2.10", frozenset(ALL))
    ranks.head("192.0.2.11", frozenset(ALL))
    ranks.renew()
    assert ranks.head("192.0.2.10", frozenset(ALL)) is kept  # asked for again: not hashed again
    ranks.renew()
    assert len(ranks) == 1  # 192.0.2.11 was not asked for between the renewals
    assert ranks.head("192.0.2.10", frozenset(ALL)) is kept
    assert list(kept) == rank(ALL, "192.0.2.10")
