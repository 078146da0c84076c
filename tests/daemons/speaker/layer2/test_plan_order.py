"""The engine's ``plan`` line, kept by ``PlanOrder`` from parts, is always the line of the whole plan.

``PlanOrder`` re-encodes only the Services whose claims changed, keeps each claim's head (IP,
Service, key) while the Service's IPs stay, and encodes terms shared by many claims once. Each
step below changes the claims the way a re-plan does; after each, the line must be byte for
byte ``encode({"plan": claims_to_json(every claim)})``, and the engine, fed the whole line
first and then only the ``plan_changes`` orders, must hold the whole plan's claims.
"""

from __future__ import annotations

import ipaddress
import json

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.engine_process import encode
from ansible_collections.baremetal.lb.daemons.speaker.layer2.engine_messages import (
    PlannedClaims,
    claims_from_json,
    claims_to_json,
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


def _whole_line(claims: Claims) -> bytes:
    return encode({"plan": claims_to_json(claim for planned in claims.values() for claim in planned)})


@pytest.mark.parametrize("told", [False, True], ids=["every key checked", "told the re-planned keys"])
@pytest.mark.parametrize("step", STEPS)
def test_the_line_is_the_whole_plans_line_after_each_change_and_back(step: str, told: bool) -> None:
    order = PlanOrder()
    order.update(START)
    assert order.line == _whole_line(START)
    replanned = START.keys() | STEPS[step].keys() if told else None  # every Service, gone ones too
    order.update(STEPS[step], replanned)
    assert order.line == _whole_line(STEPS[step]), step
    order.update(START, replanned)
    assert order.line == _whole_line(START), f"back from {step}"


@pytest.mark.parametrize("step", STEPS)
def test_the_changes_orders_bring_the_engine_to_the_whole_plan_and_back(step: str) -> None:
    order, engine = PlanOrder(), PlannedClaims()
    order.update(START)
    engine.replace(json.loads(order.line)["plan"])
    order.changes_line()  # the whole line carried the first changes
    for claims, done in ((STEPS[step], step), (START, f"back from {step}")):
        order.update(claims)
        changes = order.changes_line()
        if changes is not None:
            engine.change(json.loads(changes)["plan_changes"])
        assert engine.claims == claims_from_json(json.loads(_whole_line(claims))["plan"]), done
        assert order.changes_line() is None, "each change is sent once"


def test_keys_not_re_planned_are_not_looked_at() -> None:
    """Told which Services were re-planned, it trusts the others' claims unchanged (l2_replan's promise)."""
    order = PlanOrder()
    order.update(START)
    first = order.line
    changed = dict(STEPS["a node dies: every Service's terms change, heads stay"])
    order.update(changed, replanned=frozenset())
    assert order.line is first
    order.update(changed, replanned={"ns/b"})
    assert order.line == _whole_line({**START, "ns/b": changed["ns/b"]})
