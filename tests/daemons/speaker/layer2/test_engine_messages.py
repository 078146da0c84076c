"""The JSON lines between the speaker and its layer-2 engine: what is sent is what is read."""

from __future__ import annotations

import ipaddress
import json

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.engine_process import encode
from ansible_collections.baremetal.lb.daemons.speaker.layer2.engine_messages import (
    PlannedClaims,
    StartOrder,
    claim_terms_json,
    plan_from_json,
    plan_to_json,
)
from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import ClaimTerms, IPClaim

ORDER = StartOrder(
    node="node1",
    key=b"\x00\xff",
    bind=("192.0.2.1", 7946),
    peers={"node2": ("192.0.2.2", 7946)},
    interval=0.1,
    dead_after=0.3,
    watch_links=("eth0",),
    log_level="debug",
    handover_overlap=0.5,
)


def test_the_start_order_survives_one_line_of_json():
    line = encode({"start": ORDER.to_json()})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert StartOrder.from_json(json.loads(line)["start"]) == ORDER


TERMS = ClaimTerms(frozenset({"n2", "n1"}), ("eth0",), {}, frozenset(), False)
RICH = ClaimTerms(
    frozenset({"n2", "n1"}),
    ("eth0", "eth1"),
    {"n2": 110},  # preference scores reach the engine, which elects with them
    frozenset({"n2"}),  # so does who is being drained
    True,  # and the failback policy (non-revertive)
)


def _claim(service: str, ip: str, terms: ClaimTerms = TERMS) -> IPClaim:
    return IPClaim(ipaddress.ip_address(ip), service, ip, *terms)


def test_claims_survive_the_trip_by_service_and_ip_and_bad_ips_are_skipped():
    claims = [_claim("ns/b", "2001:db8::1", RICH), _claim("ns/a", "192.0.2.6"), _claim("ns/a", "192.0.2.5")]
    data = plan_to_json(claims)
    assert list(data["services"]) == ["ns/a", "ns/b"]
    assert plan_from_json(data) == {"ns/a": [claims[2], claims[1]], "ns/b": [claims[0]]}
    data["services"]["ns/a"].append(["not-an-ip", "192.0.2.5", data["services"]["ns/a"][0][2]])
    assert plan_from_json(data)["ns/a"] == [claims[2], claims[1]]


def test_claims_alike_name_one_terms_entry_which_says_only_what_is_set():
    data = plan_to_json(
        [_claim("ns/a", "192.0.2.1"), _claim("ns/b", "192.0.2.2"), _claim("ns/c", "192.0.2.3", RICH)]
    )
    assert data["terms"] == {
        "0": {"candidates": ["n1", "n2"], "interfaces": ["eth0"]},  # no scores, drain or policy: not there
        "1": {
            "candidates": ["n1", "n2"],
            "interfaces": ["eth0", "eth1"],
            "scores": {"n2": 110},
            "draining": ["n2"],
            "non_revertive": True,
        },
    }
    assert [claims[0][2] for claims in data["services"].values()] == ["0", "0", "1"]


def test_a_claim_naming_terms_the_order_lacks_is_refused():
    data = plan_to_json([_claim("ns/a", "192.0.2.1")])
    data["terms"] = {}
    with pytest.raises(ValueError, match=r"claim on 192\.0\.2\.1 of ns/a names terms .0. no order carried"):
        plan_from_json(data)


def test_planned_claims_take_a_whole_plan_then_only_changes_and_keep_claims_in_order():
    planned = PlannedClaims()
    planned.take("plan", plan_to_json([_claim("ns/a", "192.0.2.1"), _claim("ns/c", "192.0.2.3")]))
    changes = plan_to_json([_claim("ns/b", "192.0.2.2")])
    changes["services"]["ns/c"] = []
    planned.take("plan_changes", changes)
    assert [(claim.service, str(claim.ip)) for claim in planned.claims] == [
        ("ns/a", "192.0.2.1"),
        ("ns/b", "192.0.2.2"),
    ]
    assert planned.ips == {ipaddress.ip_address("192.0.2.1"), ipaddress.ip_address("192.0.2.2")}


def _terms_json(terms: ClaimTerms) -> dict[str, object]:
    """``terms`` as an order's terms table entry."""
    return claim_terms_json(_claim("any", "192.0.2.99", terms))


# ns/a and ns/b name entry "0", ns/c's IPv4 claim "0" too, its IPv6 claim "1"
KEPT = {
    "terms": {"0": _terms_json(TERMS), "1": _terms_json(RICH)},
    "services": {
        "ns/a": [["192.0.2.1", "192.0.2.1", "0"]],
        "ns/b": [["192.0.2.2", "192.0.2.2", "0"]],
        "ns/c": [["192.0.2.3", "192.0.2.3", "0"], ["2001:db8::3", "192.0.2.3", "1"]],
    },
}
ONE_NODE = ClaimTerms(frozenset({"n1"}), ("eth0",), {}, frozenset(), False)

# a plan_changes order after KEPT: the terms of each Service's claims after it (by IP text), and
# the Services whose claims must stay the very objects they were
REDEFINED = {
    "new terms for a kept id reach every claim naming it, listed or not": (
        {"terms": {"0": _terms_json(ONE_NODE)}, "services": {}},
        {"ns/a": [ONE_NODE], "ns/b": [ONE_NODE], "ns/c": [ONE_NODE, RICH]},
        set(),
    ),
    "a listed Service takes them too": (
        {"terms": {"0": _terms_json(ONE_NODE)}, "services": {"ns/a": [["192.0.2.9", "192.0.2.9", "0"]]}},
        {"ns/a": [ONE_NODE], "ns/b": [ONE_NODE], "ns/c": [ONE_NODE, RICH]},
        set(),
    ),
    "an entry carried again unchanged changes no other claim": (
        {"terms": {"1": _terms_json(RICH)}, "services": {"ns/a": [["192.0.2.1", "192.0.2.1", "1"]]}},
        {"ns/a": [RICH], "ns/b": [TERMS], "ns/c": [TERMS, RICH]},
        {"ns/b", "ns/c"},
    ),
    "two ids redefined at once": (
        {"terms": {"0": _terms_json(RICH), "1": _terms_json(TERMS)}, "services": {}},
        {"ns/a": [RICH], "ns/b": [RICH], "ns/c": [RICH, TERMS]},
        set(),
    ),
}


@pytest.mark.parametrize("case", REDEFINED)
def test_planned_claims_give_a_kept_ids_new_terms_to_every_claim_naming_it(case: str) -> None:
    changes, expected, untouched = REDEFINED[case]
    planned = PlannedClaims()
    planned.take("plan", KEPT)
    before = {claim.ip: claim for claim in planned.claims if claim.service in untouched}
    planned.take("plan_changes", changes)
    terms: dict[str, list[ClaimTerms]] = {}
    for claim in planned.claims:
        terms.setdefault(claim.service, []).append(ClaimTerms(*claim[3:]))
    assert terms == expected
    assert all(claim is before[claim.ip] for claim in planned.claims if claim.service in untouched)


def test_planned_claims_forget_the_terms_no_claim_names_any_more() -> None:
    planned = PlannedClaims()
    planned.take("plan", KEPT)
    planned.take("plan_changes", {"terms": {}, "services": {"ns/c": []}})  # "1" named by no claim now
    with pytest.raises(ValueError, match=r"claim on 192\.0\.2\.4 of ns/d names terms .1. no order carried"):
        planned.take("plan_changes", {"terms": {}, "services": {"ns/d": [["192.0.2.4", "192.0.2.4", "1"]]}})
    planned.take("plan_changes", {"terms": {}, "services": {"ns/d": [["192.0.2.4", "192.0.2.4", "0"]]}})
    assert [claim.service for claim in planned.claims] == ["ns/a", "ns/b", "ns/d"]


def test_planned_claims_refuse_an_order_that_is_not_one_of_claims():
    with pytest.raises(ValueError, match="not an order of claims: 'peers'"):
        PlannedClaims().take("peers", {})
