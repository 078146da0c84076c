"""One node's BGP plan kept incrementally (``bgp_replan.BGPNodePlans``) equals ``bgp_plan.plan_node``.

Every case starts from the same cluster (two peers, one only on ``east`` Nodes; an advertisement
for every Node and one for ``east`` Nodes with a community; Cluster and Local
Services, two sharing an IP so their routes merge), applies one change, and checks that the
plan equals a full ``plan_node`` and how many Services were planned again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import parse_address
from ansible_collections.baremetal.lb.plugins.module_utils.bgp_plan import plan_node
from ansible_collections.baremetal.lb.plugins.module_utils.bgp_replan import BGPNodePlans
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_config import declared_objects
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import cluster_resources
from ansible_collections.baremetal.lb.plugins.module_utils.ownership import (
    EXCLUDE_LB_LABEL,
    Endpoint,
    NodeFacts,
    ServiceFacts,
)
from ansible_collections.baremetal.lb.plugins.module_utils.validation import parse_config

ME = "a"
ZONE = "topology.kubernetes.io/zone"
EAST = [{"match_labels": {ZONE: "east"}}]


def _config(extra_ads: tuple[dict, ...] = ()) -> object:
    objects = declared_objects(
        {
            "pools": [{"name": "v4", "addresses": ["198.51.100.0/24"]}],
            "bgp_peers": [
                {"name": "ebgp", "my_asn": 64512, "peer_asn": 64513, "peer_address": "192.0.2.1"},
                {
                    "name": "ibgp",
                    "my_asn": 64512,
                    "peer_asn": 64512,
                    "peer_address": "192.0.2.2",
                    "node_selectors": EAST,
                },
            ],
            "bgp_advertisements": [
                {"name": "all"},
                {"name": "east", "node_selectors": EAST, "communities": ["64512:7"]},
                *extra_ads,
            ],
        },
        "metallb-system",
    )
    return parse_config(cluster_resources(objects))


CONFIG = _config()


def _nodes() -> dict[str, NodeFacts]:
    return {
        "a": NodeFacts(labels={ZONE: "east"}),
        "b": NodeFacts(labels={ZONE: "east"}),
        "c": NodeFacts(labels={ZONE: "west"}),
    }


def _service(name: str, ip: str, *nodes: str, local: bool = False) -> ServiceFacts:
    return ServiceFacts(
        key=f"shop/{name}",
        ips=(parse_address(ip),),
        local_traffic_policy=local,
        endpoints=tuple(Endpoint(node, True) for node in nodes),
    )


def _services() -> dict[str, ServiceFacts]:
    services = [
        _service("web", "198.51.100.1", "b"),
        _service("web-local-here", "198.51.100.2", "a", local=True),
        _service("web-local-elsewhere", "198.51.100.3", "c", local=True),
        _service("shared-1", "198.51.100.4", "b"),
        _service("shared-2", "198.51.100.4", "c"),
        _service("no-endpoints", "198.51.100.5"),
    ]
    return {service.key: service for service in services}


Change = Callable[[dict, dict], None]


def _endpoints(name: str, *nodes: str) -> Change:
    def change(_nodes: dict, services: dict) -> None:
        key = f"shop/{name}"
        services[key] = dataclasses.replace(services[key], endpoints=tuple(Endpoint(n, True) for n in nodes))

    return change


def _node(name: str, facts: NodeFacts | None) -> Change:
    def change(nodes: dict, _services: dict) -> None:
        if facts is None:
            del nodes[name]
        else:
            nodes[name] = facts

    return change


def _drop(name: str) -> Change:
    def change(_nodes: dict, services: dict) -> None:
        del services[f"shop/{name}"]

    return change


def _nothing(_nodes: dict, _services: dict) -> None:
    """Nothing the plan reads changed."""


ALL = len(_services())
CHANGES: dict[str, tuple[Change, object, int]] = {
    # name: (change, configuration after it, Services planned again)
    "nothing": (_nothing, CONFIG, 0),
    "another Node deleted": (_node("b", None), CONFIG, 0),
    "another Node relabelled": (_node("c", NodeFacts(labels={ZONE: "east"})), CONFIG, 0),
    "a Local Service's endpoint comes here": (_endpoints("web-local-elsewhere", "c", "a"), CONFIG, 1),
    "a Local Service's endpoint leaves": (_endpoints("web-local-here", "b"), CONFIG, 1),
    "a Service sharing an IP loses its endpoints": (_endpoints("shared-2"), CONFIG, 1),
    "a Service gone": (_drop("shared-1"), CONFIG, 0),
    "this node moves west (loses a peer)": (_node(ME, NodeFacts(labels={ZONE: "west"})), CONFIG, ALL),
    "this node excluded": (_node(ME, NodeFacts(labels={ZONE: "east", EXCLUDE_LB_LABEL: ""})), CONFIG, ALL),
    "the configuration changes": (_nothing, _config(({"name": "more", "communities": ["64512:9"]},)), ALL),
}


@pytest.mark.parametrize("change, config, replanned", CHANGES.values(), ids=CHANGES.keys())
def test_incremental_bgp_plan_equals_plan_node(change: Change, config: object, replanned: int) -> None:
    nodes, services = _nodes(), _services()
    plans = BGPNodePlans()
    first = plans.plan(CONFIG, ME, nodes, list(services.values()))
    assert first == plan_node(CONFIG, ME, nodes, list(services.values()))
    assert first.routes["ibgp"], "the east peer gets routes: the case reads this node's labels"

    change(nodes, services)
    after = plans.plan(config, ME, nodes, list(services.values()))

    assert after == plan_node(config, ME, nodes, list(services.values()))
    assert plans.replanned == replanned


def test_a_plan_with_nothing_new_is_the_last_plan_itself() -> None:
    """The routes of 10,000 Services are not merged again when no Service changed."""
    nodes, services = _nodes(), list(_services().values())
    plans = BGPNodePlans()
    first = plans.plan(CONFIG, ME, nodes, services)
    assert plans.plan(CONFIG, ME, {**nodes, "d": NodeFacts()}, list(services)) is first
