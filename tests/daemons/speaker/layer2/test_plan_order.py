"""The engine's ``plan`` line, kept by ``PlanOrder`` from parts, always carries the whole plan.

``PlanOrder`` re-encodes only the Services whose claims changed, keeps each claim's head (IP,
key) while the Service's IPs stay, and names terms shared by many claims by one entry of its
terms table. Each step below changes the claims the way a re-plan does; after each, the line
must decode to every claim, carry exactly the terms entries its claims name, and the engine,
fed the whole line first and then only the ``plan_changes`` orders, must hold the same claims.
"""

from __future__ import annotations

import ipaddress
import json

import pytest

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
    "a Service's IP changes, same terms objects": _plan(ns_b=("192.0.2.9", THREE)),
    "a dual-stack Service's second IP changes (same key)": _plan(ns_dual=("198.51.100.4,192.0.2.5", THREE)),
    "a dual-stack Service loses an IP": _plan(ns_dual=("198.51.100.4", THREE)),
    "scores, draining, non-revertive and two interfaces": _plan(
        ns_dual=(INGRESS["ns/dual"], RICH), ns_a=(INGRESS["ns/a"], RICH)
    ),
    "a Service goes, another comes": _plan(ns_b=None, ns_0=("192.0.2.7", THREE)),
    "nothing planned": {},
}


def _carried(line: bytes, kind: str = "plan") -> Claims:
    """The claims an order carries, by Service; its terms entries must be exactly those they name."""
    body = json.loads(line)[kind]
    named = {claim[2] for claims in body["services"].values() for claim in claims}
    assert set(body["terms"]) == named, "the order carries the terms its claims name, no others"
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


@pytest.mark.parametrize("step", STEPS)
def test_the_changes_orders_bring_the_engine_to_the_whole_plan_and_back(step: str) -> None:
    order, engine = PlanOrder(), PlannedClaims()
    order.update(START)
    engine.take("plan", json.loads(order.line)["plan"])
    order.changes_line()  # the whole line carried the first changes
    for claims, done in ((STEPS[step], step), (START, f"back from {step}")):
        order.update(claims)
        changes = order.changes_line()
        if changes is not None:
            _carried(changes, "plan_changes")
            engine.take("plan_changes", json.loads(changes)["plan_changes"])
        assert engine.claims == [claim for key in sorted(claims) for claim in _by_ip(claims)[key]], done
        assert order.changes_line() is None, "each change is sent once"


def test_a_nodes_death_sends_the_new_terms_once_for_every_service() -> None:
    order = PlanOrder()
    order.update(START)
    order.changes_line()
    order.update(STEPS["a node dies: every Service's terms change, heads stay"])
    changes = order.changes_line()
    assert changes is not None and changes.count(b'"candidates"') == 1


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
