"""Incremental layer-2 planning (``l2_replan.L2Plans``) equals a full re-plan and re-plans only what changed.

Every case starts from the same cluster (two pools, an advertisement per pool, one of them
announcing only from ``role=lb`` Nodes with a preference; Cluster and Local Services, a
dual-stack one across both pools, a non-revertive one alike in all else to another), applies
one change to the facts, and checks that the claims after an incremental update are exactly
those of :func:`.l2_plan.plan_service` over every Node, and which Services were re-planned.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils import l2_replan
from ansible_collections.baremetal.lb.plugins.module_utils.config_model import (
    Config,
    L2Advertisement,
    NodePreference,
)
from ansible_collections.baremetal.lb.plugins.module_utils.failback import NON_REVERTIVE
from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import ClaimTerms, IPClaim, plan_service
from ansible_collections.baremetal.lb.plugins.module_utils.l2_replan import L2Plans, PlanSettings, Replanned
from ansible_collections.baremetal.lb.plugins.module_utils.label_selectors import LabelSelector
from ansible_collections.baremetal.lb.plugins.module_utils.ownership import (
    EXCLUDE_LB_LABEL,
    Endpoint,
    NodeFacts,
    ServiceFacts,
)
from ansible_collections.baremetal.lb.plugins.module_utils.pools import AddressPool

ME = "n0"
POOLS = (
    AddressPool.from_strings("any", ["192.0.2.0/26"]),
    AddressPool.from_strings("lb", ["198.51.100.0/26"]),
)
LB_ONLY = (LabelSelector(match_labels={"role": "lb"}),)
CONFIG = Config(
    pools=POOLS,
    l2_advertisements=(
        L2Advertisement("everywhere", frozenset({"any"})),
        L2Advertisement(
            "lb-nodes",
            frozenset({"lb"}),
            node_selectors=LB_ONLY,
            preferred_node_selectors=(NodePreference(10, LabelSelector(match_labels={"zone": "a"})),),
        ),
    ),
)
SETTINGS = PlanSettings(config=CONFIG, me=ME, suitable_interfaces={4: ["eth0"], 6: ["eth0"]})

Facts = tuple[dict[str, NodeFacts], dict[str, ServiceFacts]]


def _nodes() -> dict[str, NodeFacts]:
    found = {}
    for i in range(8):
        labels = {"kubernetes.io/hostname": f"n{i}"}
        if i % 2:
            labels["role"] = "lb"
        if i % 4 == 1:
            labels["zone"] = "a"
        found[f"n{i}"] = NodeFacts(labels=labels)
    return found


def _service(
    name: str, ip: str, *nodes: str, local: bool = False, pool: str = "", failback: str | None = None
) -> ServiceFacts:
    return ServiceFacts(
        key=f"default/{name}",
        ips=tuple(ipaddress.ip_address(text) for text in ip.split(",")),
        local_traffic_policy=local,
        endpoints=tuple(Endpoint(node, True) for node in nodes),
        pool=pool,
        failback=failback,
    )


def _services() -> dict[str, ServiceFacts]:
    services = [
        _service("cluster-any", "192.0.2.1", "n2"),
        _service("cluster-lb", "198.51.100.1", "n4"),
        _service("local-n2", "192.0.2.2", "n2", "n3", local=True),
        _service("local-n5", "198.51.100.2", "n5", local=True),
        _service("no-endpoints", "192.0.2.3"),
        _service("outside-pools", "203.0.113.1", "n1"),
        _service("dual", "198.51.100.4,192.0.2.4", "n6"),
        _service("cluster-any-sticky", "192.0.2.5", "n2", failback=NON_REVERTIVE),
    ]
    return {service.key: service for service in services}


def _full(
    settings: PlanSettings, nodes: Mapping[str, NodeFacts], services: Mapping[str, ServiceFacts]
) -> dict:
    claims = {}
    for key, service in services.items():
        planned = plan_service(
            service,
            config=settings.config,
            nodes=nodes,
            me=settings.me,
            suitable_interfaces=settings.suitable_interfaces,
            ignore_exclude_label=settings.ignore_exclude_label,
            drain_aware=settings.drain_aware,
        )
        if planned:
            claims[key] = tuple(planned)
    return claims


def _relabel(name: str, **labels: str) -> Callable[[dict, dict], None]:
    def change(nodes: dict, _services: dict) -> None:
        nodes[name] = NodeFacts(labels={**nodes[name].labels, **labels})

    return change


def _node(name: str, **facts: object) -> Callable[[dict, dict], None]:
    def change(nodes: dict, _services: dict) -> None:
        nodes[name] = dataclasses.replace(nodes[name], **facts)

    return change


def _add_node(name: str, **labels: str) -> Callable[[dict, dict], None]:
    def change(nodes: dict, _services: dict) -> None:
        nodes[name] = NodeFacts(labels=labels)

    return change


def _delete_node(name: str) -> Callable[[dict, dict], None]:
    def change(nodes: dict, _services: dict) -> None:
        del nodes[name]

    return change


def _endpoints(service: str, *nodes: str, ready: bool = True) -> Callable[[dict, dict], None]:
    def change(_nodes: dict, services: dict) -> None:
        key = f"default/{service}"
        endpoints = tuple(Endpoint(node, ready) for node in nodes)
        services[key] = dataclasses.replace(services[key], endpoints=endpoints)

    return change


def _put_service(service: ServiceFacts) -> Callable[[dict, dict], None]:
    def change(_nodes: dict, services: dict) -> None:
        services[service.key] = service

    return change


def _delete_service(name: str) -> Callable[[dict, dict], None]:
    def change(_nodes: dict, services: dict) -> None:
        del services[f"default/{name}"]

    return change


def _nothing(_nodes: dict, _services: dict) -> None:
    """A Node going NotReady or renewing its heartbeat changes none of the facts the plan reads."""


ALL = frozenset(_services())
ANY_AD = frozenset({"default/cluster-any", "default/cluster-any-sticky", "default/dual"})  # Cluster, ad 0
LB_AD = frozenset({"default/cluster-lb", "default/dual"})  # Cluster, ad 1
CHANGES: dict[str, tuple[Callable[[dict, dict], None], PlanSettings, frozenset[str]]] = {
    # name: (change to the facts, settings after it, the Services re-planned)
    "node NotReady (no planned fact changes)": (_nothing, SETTINGS, frozenset()),
    "endpoint moves to another node (Local)": (
        _endpoints("local-n2", "n2", "n4"),
        SETTINGS,
        frozenset({"default/local-n2"}),
    ),
    "every endpoint not ready (Cluster)": (
        _endpoints("cluster-any", "n2", ready=False),
        SETTINGS,
        frozenset({"default/cluster-any"}),
    ),
    "Service added": (
        _put_service(_service("new", "192.0.2.9", "n6", local=True)),
        SETTINGS,
        frozenset({"default/new"}),
    ),
    "Service removed": (_delete_service("cluster-lb"), SETTINGS, frozenset({"default/cluster-lb"})),
    "Service ingress changes pool": (
        _put_service(_service("cluster-any", "198.51.100.9", "n2")),
        SETTINGS,
        frozenset({"default/cluster-any"}),
    ),
    "Cluster Service turns Local (leaves its group)": (
        _put_service(_service("cluster-any", "192.0.2.1", "n2", local=True)),
        SETTINGS,
        frozenset({"default/cluster-any"}),
    ),
    "Service gains a second IP (leaves its group)": (
        _put_service(_service("cluster-lb", "198.51.100.1,192.0.2.7", "n4")),
        SETTINGS,
        frozenset({"default/cluster-lb"}),
    ),
    "dual-stack Service keeps one IP (joins a group)": (
        _put_service(_service("dual", "198.51.100.4", "n6")),
        SETTINGS,
        frozenset({"default/dual"}),
    ),
    "failback policy changes (another group)": (
        _put_service(_service("cluster-any-sticky", "192.0.2.5", "n2")),
        SETTINGS,
        frozenset({"default/cluster-any-sticky"}),
    ),
    "node deleted (an lb node hosting an endpoint)": (
        _delete_node("n5"),
        SETTINGS,
        ANY_AD | LB_AD | {"default/local-n5"},
    ),
    "an announcing node deleted (an lb node without endpoints)": (
        _delete_node("n7"),
        SETTINGS,
        ANY_AD | LB_AD,
    ),
    "node added without role": (_add_node("n9"), SETTINGS, ANY_AD),
    "node label change makes it an lb node": (
        _relabel("n2", role="lb"),
        SETTINGS,
        ANY_AD | LB_AD | {"default/local-n2"},
    ),
    "node label change moves its preference": (
        _relabel("n3", zone="a"),
        SETTINGS,
        ANY_AD | LB_AD | {"default/local-n2"},
    ),
    "node label change no selector reads": (_relabel("n3", team="x"), SETTINGS, frozenset()),
    "node excluded from load balancers": (_relabel("n6", **{EXCLUDE_LB_LABEL: ""}), SETTINGS, ANY_AD),
    "node cordoned (draining)": (_node("n3", draining=True), SETTINGS, ANY_AD | LB_AD | {"default/local-n2"}),
    "node NetworkUnavailable": (_node("n4", network_unavailable=True), SETTINGS, ANY_AD),
    "this node's labels change: everything": (_relabel(ME, role="lb"), SETTINGS, ALL),
    "advertisement changes: everything": (
        _nothing,
        dataclasses.replace(
            SETTINGS,
            config=dataclasses.replace(CONFIG, l2_advertisements=CONFIG.l2_advertisements[:1]),
        ),
        ALL,
    ),
    "pool changes: everything": (
        _nothing,
        dataclasses.replace(
            SETTINGS,
            config=dataclasses.replace(
                CONFIG, pools=(POOLS[0], AddressPool.from_strings("lb", ["198.51.100.0/27"]))
            ),
        ),
        ALL,
    ),
    "interfaces change: everything": (
        _nothing,
        dataclasses.replace(SETTINGS, suitable_interfaces={4: ["eth1"], 6: []}),
        ALL,
    ),
}


@pytest.mark.parametrize("change, settings, replanned", CHANGES.values(), ids=CHANGES.keys())
def test_incremental_plan_equals_full_plan(
    change: Callable[[dict, dict], None], settings: PlanSettings, replanned: frozenset[str]
) -> None:
    nodes, services = _nodes(), _services()
    plans = L2Plans()
    plans.update(SETTINGS, nodes, services.values())
    _assert_claims(plans, _full(SETTINGS, nodes, services))

    before = dict(plans.claims)
    change(nodes, services)
    result = plans.update(settings, nodes, services.values())

    _assert_claims(plans, _full(settings, nodes, services))
    assert result.services == replanned
    assert result.everything == (replanned == ALL)
    _assert_retermed_as_promised(before, plans.claims, result)


def test_a_sequence_of_changes_stays_equal_to_full_plans() -> None:
    """Changes applied one after another: the indexes follow each one."""
    nodes, services = _nodes(), _services()
    plans = L2Plans()
    plans.update(SETTINGS, nodes, services.values())
    for name, (change, _settings, _replanned) in CHANGES.items():
        if _settings is not SETTINGS or name.startswith("this node"):
            continue
        before = dict(plans.claims)
        change(nodes, services)
        result = plans.update(SETTINGS, nodes, services.values())
        _assert_claims(plans, _full(SETTINGS, nodes, services), name)
        _assert_retermed_as_promised(before, plans.claims, result)


def test_equal_candidate_sets_are_shared() -> None:
    """Claims over the same Nodes share one candidate set (memory at 10,000 Services)."""
    services = {f"default/s{i}": _service(f"s{i}", f"192.0.2.{10 + i}", "n2") for i in range(20)}
    plans = L2Plans()
    plans.update(SETTINGS, _nodes(), services.values())
    claims: list[IPClaim] = [claim for key in sorted(plans.claims) for claim in plans.claims[key]]
    assert len(claims) == 20
    assert len({id(claim.candidates) for claim in claims}) == 1
    assert plans.all_claims() == claims


def _assert_claims(plans: L2Plans, full: Mapping[str, tuple[IPClaim, ...]], name: str = "") -> None:
    """The claims equal a full plan's, each Service's kept in one place (by itself or in one group)."""
    keys = list(plans.claims)
    assert len(keys) == len(set(keys)) == len(plans.claims), f"{name}: a Service's claims are kept twice"
    assert dict(plans.claims) == full, name


def _terms(claim: IPClaim) -> ClaimTerms:
    return ClaimTerms(*claim[len(claim) - len(ClaimTerms._fields) :])


def _assert_retermed_as_promised(
    before: Mapping[str, tuple[IPClaim, ...]], after: Mapping[str, tuple[IPClaim, ...]], result: Replanned
) -> None:
    """Each group of re-termed Services: one claim each, same IP and key, alike terms before and after."""
    keys = [key for group in result.retermed for key in group]
    assert len(keys) == len(set(keys)), "a Service is in one group at most"
    assert set(keys) <= result.services, "a re-termed Service is a re-planned one"
    for group in result.retermed:
        old, new = [before[key] for key in group], [after[key] for key in group]
        assert all(len(claims) == 1 for claims in old + new), group
        assert [(c.ip, c.key) for (c,) in old] == [(c.ip, c.key) for (c,) in new], group
        assert all(_terms(c) == _terms(old[0][0]) for (c,) in old), f"{group}: terms alike before"
        assert all(_terms(c) == _terms(new[0][0]) for (c,) in new), f"{group}: terms alike after"


def test_a_nodes_death_reports_the_services_alike_as_one_group() -> None:
    """So the engine's order takes 10,000 Services alike in once (``PlanOrder``), not one by one."""
    nodes = _nodes()
    services = {f"default/s{i}": _service(f"s{i}", f"192.0.2.{10 + i}", "n2") for i in range(20)}
    plans = L2Plans()
    plans.update(SETTINGS, nodes, services.values())
    del nodes["n3"]
    result = plans.update(SETTINGS, nodes, services.values())
    assert [sorted(group) for group in result.retermed] == [sorted(services)]


def test_a_nodes_death_costs_a_group_alike_one_set_of_terms_and_no_claim_until_one_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Node's death touches 10,000 Services alike: their claims are made when read, not each re-made."""
    made: list[IPClaim] = []

    class CountedClaim(IPClaim):
        """Counts claims made either way: called, or from a tuple (``_make``)."""

        def __new__(cls, *fields: Any) -> IPClaim:  # type: ignore[misc]
            claim = IPClaim(*fields)
            made.append(claim)
            return claim

        @classmethod
        def _make(cls, iterable: Iterable[object]) -> IPClaim:
            claim = IPClaim._make(iterable)
            made.append(claim)
            return claim

    monkeypatch.setattr(l2_replan, "IPClaim", CountedClaim)
    nodes = _nodes()
    services = {f"default/s{i}": _service(f"s{i}", f"192.0.2.{10 + i}", "n2") for i in range(20)}
    plans = L2Plans()
    plans.update(SETTINGS, nodes, services.values())
    del nodes["n3"]
    made.clear()
    plans.update(SETTINGS, nodes, services.values())
    assert made == [], "no claim is made by the death itself"
    claims = plans.claims["default/s1"]
    assert plans.claims["default/s1"] is claims, "a claim read twice is made once"
    assert len(made) == 1
    assert dict(plans.claims) == _full(SETTINGS, nodes, services)
