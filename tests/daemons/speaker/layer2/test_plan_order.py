"""The engine's ``plan`` line, kept by ``PlanOrder`` from parts, always carries the whole plan.

``PlanOrder`` re-encodes only the Services whose claims changed, keeps each claim's head (IP,
key) while the Service's IPs stay, and names terms shared by many claims by one entry of its
terms table; when every claim naming an entry takes the same new terms, the entry is
redefined and none of those Services is sent. Each step below changes the claims the way a
re-plan does; after each, the line must decode to every claim, carry exactly the terms entries
its claims name, and the engine, fed the whole line first and then only the ``plan_changes``
orders, must hold the same claims.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.layer2 import planning
from ansible_collections.baremetal.lb.daemons.speaker.layer2.engine_messages import (
    PlannedClaims,
    plan_from_json,
)
from ansible_collections.baremetal.lb.daemons.speaker.layer2.planning import PlanOrder
from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import ClaimTerms, IPClaim

Claims = dict[str, tuple[IPClaim, ...]]

THREE = ClaimTerms(frozenset({"n1", "n2", "n3"}), ("eth0",), {}, frozenset(), False)
TWO = ClaimTerms(frozenset({"n1", "n3"}), ("eth0",), {}, frozenset(), False)  # n2 died
RICH = ClaimTerms(frozenset({"n1", "n3"}), ("eth0", "eth1"), {"n3": 10}, frozenset({"n1"}), True)


def _claims(service: str, ips: str, terms: ClaimTerms) -> tuple[str, tuple[IPClaim, ...]]:
    """A Service's claims as l2_replan builds them: in ingress order, keyed by the first IP."""
    addresses = [ipaddress.ip_address(text) for text in ips.split(",")]
    return service, tuple(IPClaim(ip, service, str(addresses[0]), *terms) for ip in addresses)


INGRESS = {
    "ns/dual": "198.51.100.4,192.0.2.4",
    "ns/b": "192.0.2.2",
    "ns/a": "2001:db8::1",
}  # dual: 192... first


def _plan(terms: ClaimTerms = THREE, **changed: tuple[str, ClaimTerms] | None) -> Claims:
    """Each Service of INGRESS with ``terms``, but ``changed`` (``ns_b``: ``ns/b``): (IPs, terms) or gone."""
    wanted: dict[str, tuple[str, ClaimTerms] | None] = {key: (ips, terms) for key, ips in INGRESS.items()}
    wanted.update({key.replace("_", "/"): change for key, change in changed.items()})
    return dict(_claims(key, *change) for key, change in wanted.items() if change is not None)


START = _plan()
STEPS: dict[str, Claims] = {
    "a node dies: every Service's terms change, heads stay": _plan(TWO),
    "one Service's terms change, the others' stay": _plan(ns_b=(INGRESS["ns/b"], TWO)),
    "a Service's IP changes, same terms objects": _plan(ns_b=("192.0.2.9", THREE)),
    "a dual-stack Service's second IP changes (same key)": _plan(ns_dual=("198.51.100.4,192.0.2.5", THREE)),
    "a dual-stack Service loses an IP": _plan(ns_dual=("198.51.100.4", THREE)),
    "scores, draining, non-revertive and two interfaces": _plan(
        ns_dual=(INGRESS["ns/dual"], RICH), ns_a=(INGRESS["ns/a"], RICH)
    ),
    "a Service goes, another comes": _plan(ns_b=None, ns_0=("192.0.2.7", THREE)),
    "nothing planned": {},
}


def _carried(line: bytes, kind: str = "plan", held: frozenset[str] = frozenset()) -> Claims:
    """The claims an order carries, by Service.

    Its terms entries must be those its claims name and, in a ``plan_changes`` order, ids of
    ``held`` (carried before) redefined.
    """
    body = json.loads(line)[kind]
    named = {claim[2] for claims in body["services"].values() for claim in claims}
    assert named <= set(body["terms"]) <= named | held, "the order carries the terms its claims name"
    return {service: tuple(claims) for service, claims in plan_from_json(body).items()}


def _by_ip(claims: Claims) -> Claims:
    """``claims`` as the orders list them: each Service's by IP text."""
    return {key: tuple(sorted(planned, key=lambda claim: str(claim.ip))) for key, planned in claims.items()}


@pytest.mark.parametrize("told", [False, True], ids=["every key checked", "told the re-planned keys"])
@pytest.mark.parametrize("step", STEPS)
def test_the_line_carries_the_whole_plan_after_each_change_and_back(step: str, told: bool) -> None:
    order = PlanOrder()
    order.update(START)
    assert _carried(order.line) == _by_ip(START)
    replanned = START.keys() | STEPS[step].keys() if told else None  # every Service, gone ones too
    order.update(STEPS[step], replanned)
    assert _carried(order.line) == _by_ip(STEPS[step]), step
    order.update(START, replanned)
    assert _carried(order.line) == _by_ip(START), f"back from {step}"


class _Engine:
    """The engine's claims, fed the whole line of ``order`` and then only its ``plan_changes`` orders."""

    def __init__(self, order: PlanOrder) -> None:
        self.order, self.claims = order, PlannedClaims()
        self.claims.take("plan", json.loads(order.line)["plan"])
        self.carried = frozenset(json.loads(order.line)["plan"]["terms"])  # every terms id carried so far
        order.changes_line()  # the whole line carried the first changes

    def follow(self, claims: Claims) -> dict[str, Any]:
        """Update the order to ``claims`` and take the ``plan_changes`` order it makes; its body."""
        self.order.update(claims)
        line = self.order.changes_line()
        if line is None:
            return {"terms": {}, "services": {}}
        _carried(line, "plan_changes", self.carried)
        body: dict[str, Any] = json.loads(line)["plan_changes"]
        self.claims.take("plan_changes", body)
        self.carried |= frozenset(body["terms"])
        assert self.order.changes_line() is None, "each change is sent once"
        return body


def _all_by_ip(claims: Claims) -> list[IPClaim]:
    """``claims`` as the engine lists them: by Service key, then IP text."""
    return [claim for key in sorted(claims) for claim in _by_ip(claims)[key]]


@pytest.mark.parametrize("step", STEPS)
def test_the_changes_orders_bring_the_engine_to_the_whole_plan_and_back(step: str) -> None:
    order = PlanOrder()
    order.update(START)
    engine = _Engine(order)
    for claims, done in ((STEPS[step], step), (START, f"back from {step}")):
        engine.follow(claims)
        assert engine.claims.claims == _all_by_ip(claims), done


def test_a_nodes_death_gives_the_shared_entry_new_terms_and_sends_no_service() -> None:
    order = PlanOrder()
    order.update(START)
    engine = _Engine(order)
    (shared,) = engine.carried
    body = engine.follow(STEPS["a node dies: every Service's terms change, heads stay"])
    assert body == {"services": {}, "terms": {shared: {"candidates": ["n1", "n3"], "interfaces": ["eth0"]}}}
    assert engine.claims.claims == _all_by_ip(STEPS["a node dies: every Service's terms change, heads stay"])
    assert engine.claims.redefined_given == len(START), "the speaker's metric counts every Service re-termed"


def test_when_a_few_services_take_other_terms_only_they_are_sent() -> None:
    order = PlanOrder()
    order.update(START)
    engine = _Engine(order)
    (shared,) = engine.carried
    few = dict(  # the shared entry's claims go two ways; the one going its own way is seen first
        _claims(key, INGRESS[key], RICH if key == "ns/b" else TWO) for key in ("ns/b", "ns/dual", "ns/a")
    )
    body = engine.follow(few)
    assert list(body["services"]) == ["ns/b"]
    assert body["terms"][shared] == {"candidates": ["n1", "n3"], "interfaces": ["eth0"]}
    assert engine.claims.claims == _all_by_ip(few)
    assert engine.claims.redefined_given == 2, "ns/a and ns/dual took the redefined terms; ns/b was sent"


def test_entries_that_become_alike_become_one_and_only_the_services_of_the_other_are_sent() -> None:
    order = PlanOrder()
    order.update(_plan(ns_a=(INGRESS["ns/a"], RICH)))
    engine = _Engine(order)
    body = engine.follow(_plan(TWO))
    assert list(body["services"]) == ["ns/a"]
    assert engine.claims.claims == _all_by_ip(_plan(TWO))
    assert len(json.loads(order.line)["plan"]["terms"]) == 1, "the entry no claim names is forgotten"


def test_keys_not_re_planned_are_not_looked_at() -> None:
    """Told which Services were re-planned, it trusts the others' claims unchanged (l2_replan's promise)."""
    order = PlanOrder()
    order.update(START)
    first = order.line
    changed = dict(STEPS["a node dies: every Service's terms change, heads stay"])
    order.update(changed, replanned=frozenset())
    assert order.line is first
    order.update(changed, replanned={"ns/b"})
    assert _carried(order.line) == _by_ip({**START, "ns/b": changed["ns/b"]})


# -- Services re-termed in groups (l2_replan's Replanned.retermed) ---------------------------------

ONE_EACH = {"ns/a": "192.0.2.1", "ns/b": "192.0.2.2", "ns/c": "2001:db8::3"}
THREE_AGAIN = ClaimTerms(frozenset({"n1", "n2", "n3"}), ("eth0",), {}, frozenset(), False)  # new objects


def _one_each(**terms: ClaimTerms) -> Claims:
    """Each Service of ONE_EACH with one claim of THREE's terms, but ``terms`` (``a``: ``ns/a``)."""
    return dict(_claims(key, ips, terms.get(key[3:], THREE)) for key, ips in ONE_EACH.items())


GROUPS: dict[str, tuple[Claims, Claims, list[frozenset[str]], set[str]]] = {
    # name: (claims before, after, the groups told, the Services the plan_changes order carries)
    "a node's death: the group alone named its entry, which is redefined": (
        _one_each(),
        _one_each(a=TWO, b=TWO, c=TWO),
        [frozenset({"ns/a", "ns/b", "ns/c"})],
        set(),
    ),
    "equal terms in new objects: nothing to send": (
        _one_each(),
        _one_each(a=THREE_AGAIN, b=THREE_AGAIN, c=THREE_AGAIN),
        [frozenset({"ns/a", "ns/b", "ns/c"})],
        set(),
    ),
    "another claim still names the entry: the group is sent": (
        _one_each(),
        _one_each(a=TWO, b=TWO),
        [frozenset({"ns/a", "ns/b"})],
        {"ns/a", "ns/b"},
    ),
    "the new terms have an entry already: the group names it": (
        _one_each(c=TWO),
        _one_each(a=TWO, b=TWO, c=TWO),
        [frozenset({"ns/a", "ns/b"})],
        {"ns/a", "ns/b"},
    ),
    "the group named two entries: Service by Service": (
        _one_each(b=RICH),
        _one_each(a=TWO, b=TWO),
        [frozenset({"ns/a", "ns/b"})],
        {"ns/a"},  # ns/b's entry, RICH, is named by no other claim: redefined to TWO
    ),
}


@pytest.mark.parametrize("before, after, groups, sent", GROUPS.values(), ids=GROUPS.keys())
def test_groups_told_re_termed_bring_the_engine_to_the_whole_plan(
    before: Claims, after: Claims, groups: list[frozenset[str]], sent: set[str]
) -> None:
    order = PlanOrder()
    order.update(before)
    engine = _Engine(order)
    order.update(after, replanned={key for group in groups for key in group}, retermed=groups)
    line = order.changes_line()
    body = json.loads(line)["plan_changes"] if line else {"terms": {}, "services": {}}
    if line:
        _carried(line, "plan_changes", engine.carried)
        engine.claims.take("plan_changes", body)
    assert set(body["services"]) == sent
    assert engine.claims.claims == _all_by_ip(after)
    assert _carried(order.line) == _by_ip(after)


def test_a_group_it_can_take_is_not_shaped_service_by_service(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Node's death re-terms thousands of Services alike: the order takes them in once, not each."""
    death = "a node's death: the group alone named its entry, which is redefined"
    before, after, groups, _sent = GROUPS[death]
    order = PlanOrder()
    order.update(before)
    engine = _Engine(order)
    monkeypatch.setattr(planning, "_shape", _not_called)
    order.update(after, replanned=set(ONE_EACH), retermed=groups)
    (shared,) = engine.carried
    assert json.loads(order.changes_line() or b"null")["plan_changes"] == {
        "terms": {shared: {"candidates": ["n1", "n3"], "interfaces": ["eth0"]}},
        "services": {},
    }


def _not_called(*_args: object) -> None:
    raise AssertionError("a Service of a group taken at once was shaped")
