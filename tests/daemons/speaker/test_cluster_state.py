"""``ClusterFacts`` rebuilds only what changed, and holds what reading every object again would give."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from ansible_collections.baremetal.lb.daemons.kube.informer import object_key
from ansible_collections.baremetal.lb.daemons.speaker import facts
from ansible_collections.baremetal.lb.daemons.speaker.cluster_state import (
    LAST_APPLIED,
    ClusterFacts,
    slim_endpoint_slice,
    slim_node,
    slim_service,
)
from ansible_collections.baremetal.lb.plugins.module_utils.failback import FAILBACK_ANNOTATION, NON_REVERTIVE
from ansible_collections.baremetal.lb.plugins.module_utils.ownership import ServiceFacts
from bench.l2_plan_scale import (
    Shape,
    Store,
    build_store,
    node_object,
    not_ready,
    service_object,
    slice_object,
)

SHAPE = Shape(nodes=12, services=20, announcing_nodes=3)
Edit = Callable[[Store], list[tuple[str, str]]]  # changes the store; the (kind, key) notices to give


def _every_fact(store: Store) -> tuple[dict[str, Any], dict[str, ServiceFacts]]:
    endpoints = facts.endpoints_by_service(store.slices.values())
    services = {
        key: facts.service_facts(service, endpoints)
        for key, service in store.services.items()
        if facts.served(service, "") and service["status"]["loadBalancer"].get("ingress")
    }
    return {name: facts.node_facts(node) for name, node in store.nodes.items()}, services


def _slice_to(service: int, nodes: list[str]) -> Edit:
    def edit(store: Store) -> list[tuple[str, str]]:
        piece = slice_object(SHAPE, service, nodes, version=5)
        key = f"{SHAPE.namespace}/{piece['metadata']['name']}"
        store.slices[key] = piece
        return [("slice", key)]

    return edit


def _slice_relabelled(service: int, to: int) -> Edit:
    """A slice now says it belongs to another Service: both Services' endpoints change."""

    def edit(store: Store) -> list[tuple[str, str]]:
        key = f"{SHAPE.namespace}/svc-{service:05d}-bench"
        store.slices[key]["metadata"]["labels"][facts.SERVICE_NAME_LABEL] = f"svc-{to:05d}"
        return [("slice", key)]

    return edit


def _slice_deleted(service: int) -> Edit:
    def edit(store: Store) -> list[tuple[str, str]]:
        key = f"{SHAPE.namespace}/svc-{service:05d}-bench"
        del store.slices[key]
        return [("slice", key)]

    return edit


def _service_edit(service: int, change: Callable[[dict[str, Any]], None]) -> Edit:
    def edit(store: Store) -> list[tuple[str, str]]:
        key = f"{SHAPE.namespace}/svc-{service:05d}"
        obj = service_object(SHAPE, service)
        change(obj)
        store.services[key] = obj
        return [("service", key)]

    return edit


def _node_edit(node: int, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> Edit:
    def edit(store: Store) -> list[tuple[str, str]]:
        name = SHAPE.node_name(node)
        new = change(node_object(SHAPE, node, version=7))
        if new is None:
            store.nodes.pop(name, None)
        else:
            store.nodes[name] = new
        return [("node", name)]

    return edit


EDITS: dict[str, Edit] = {
    "endpoints move": _slice_to(0, [SHAPE.node_name(1), SHAPE.node_name(2)]),
    "slice moves to another Service": _slice_relabelled(1, 2),
    "slice deleted": _slice_deleted(3),
    "ingress removed: no longer planned": _service_edit(
        4, lambda s: s["status"]["loadBalancer"].update(ingress=[])
    ),
    "type ClusterIP: no longer served": _service_edit(5, lambda s: s["spec"].update(type="ClusterIP")),
    "another class: no longer served": _service_edit(
        6, lambda s: s["spec"].update(loadBalancerClass="other")
    ),
    "labels change": _service_edit(7, lambda s: s["metadata"].update(labels={"team": "a"})),
    "Node NotReady": _node_edit(4, not_ready),
    "Node cordoned": _node_edit(5, lambda n: {**n, "spec": {"unschedulable": True}}),
    "Node deleted": _node_edit(6, lambda _n: None),
}


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_facts_after_a_change_equal_reading_everything_again(edit: Edit) -> None:
    store = build_store(SHAPE)
    cluster = ClusterFacts("")
    for kind, objects in (("node", store.nodes), ("service", store.services), ("slice", store.slices)):
        for key in objects:
            getattr(cluster, f"{kind}_changed")(key, None, None)
    cluster.refresh(store.caches())
    before = dict(cluster.services)

    for kind, key in edit(store):
        getattr(cluster, f"{kind}_changed")(key, None, None)
    cluster.refresh(store.caches())

    nodes, services = _every_fact(store)
    assert dict(cluster.nodes) == nodes
    assert _by_key_sorted(cluster.services) == _by_key_sorted(services)
    untouched = [key for key in services if key in before and before[key] == cluster.services[key]]
    assert all(cluster.services[key] is before[key] for key in untouched), (
        "an unchanged Service got new facts"
    )


def _by_key_sorted(services: Mapping[str, ServiceFacts]) -> dict[str, ServiceFacts]:
    """Endpoint order follows the slices' order, which no planner reads: compare them sorted."""
    return {
        key: dataclasses.replace(service, endpoints=tuple(sorted(service.endpoints, key=repr)))
        for key, service in services.items()
    }


def test_slimmed_objects_give_the_same_facts() -> None:
    """What the speaker's informers drop (managedFields, addresses, ports, images) no fact reads."""
    piece = slice_object(SHAPE, 0, [SHAPE.node_name(1), SHAPE.node_name(2)])
    piece["metadata"]["managedFields"] = [{"manager": "kube-controller-manager", "fieldsV1": {}}]
    piece["endpoints"][0]["hints"] = {"forZones": [{"name": "a"}]}
    node = node_object(SHAPE, 1)
    node["status"]["images"] = [{"names": ["registry.k8s.io/pause:3.10"], "sizeBytes": 320000}]
    node["spec"] = {"taints": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]}

    slim_piece = slim_endpoint_slice(copy.deepcopy(piece))
    assert facts.endpoints_by_service([slim_piece]) == facts.endpoints_by_service([piece])
    assert object_key(slim_piece) == object_key(piece)
    assert slim_piece["metadata"]["resourceVersion"] == piece["metadata"]["resourceVersion"]
    assert "managedFields" not in slim_piece["metadata"]
    assert facts.node_facts(slim_node(copy.deepcopy(node))) == facts.node_facts(node)
    assert facts.peers([slim_node(copy.deepcopy(node))], 6, 7946) == facts.peers([node], 6, 7946)


SERVICE_VARIANTS: dict[str, Callable[[dict[str, Any]], None]] = {
    "as the bench makes it": lambda _s: None,
    "Local, labelled, non-revertive": lambda s: (
        s["spec"].update(externalTrafficPolicy="Local"),
        s["metadata"].update(labels={"app": "web"}),
        s["metadata"]["annotations"].update({FAILBACK_ANNOTATION: NON_REVERTIVE}),
    ),
    "dual-stack with a hostname entry": lambda s: s["status"]["loadBalancer"].update(
        ingress=[{"ip": "192.0.2.7"}, {"hostname": "lb.example"}, {"ip": "2001:db8::7"}]
    ),
    "no longer a LoadBalancer": lambda s: s["spec"].update(type="ClusterIP"),
    "another load balancer class": lambda s: s["spec"].update(loadBalancerClass="other"),
}


@pytest.mark.parametrize("variant", SERVICE_VARIANTS.values(), ids=SERVICE_VARIANTS.keys())
def test_a_slimmed_service_gives_the_same_facts_and_events(variant: Callable[[dict[str, Any]], None]) -> None:
    """The speaker's Service cache keeps what facts and its Events read, and drops the rest."""
    service = service_object(SHAPE, 0)
    variant(service)
    service["metadata"].update(uid="0f0e", managedFields=[{"manager": "kubectl", "fieldsV1": {}}])
    service["metadata"]["annotations"][LAST_APPLIED] = json.dumps(service)
    service["spec"].update(clusterIP="198.51.100.10", sessionAffinity="None", healthCheckNodePort=30001)

    slim = slim_service(copy.deepcopy(service))
    assert facts.served(slim, "") == facts.served(service, "")
    assert facts.service_facts(slim, {}) == facts.service_facts(service, {})
    assert object_key(slim) == object_key(service)
    for field in ("name", "namespace", "uid", "resourceVersion"):  # the Events' involvedObject
        assert slim["metadata"][field] == service["metadata"][field]
    assert "managedFields" not in slim["metadata"]
    assert LAST_APPLIED not in slim["metadata"]["annotations"]
    assert set(slim["spec"]) <= {"type", "loadBalancerClass", "externalTrafficPolicy"}


def test_equal_endpoints_are_held_once() -> None:
    """At 10,000 Services, endpoints on the same Node in the same state are one object, not one each."""
    store = build_store(SHAPE)
    cluster = ClusterFacts("")
    for key in store.slices:
        cluster.slice_changed(key, None, None)
    for key in store.services:
        cluster.service_changed(key, None, None)
    cluster.refresh(store.caches())

    endpoints = [e for service in cluster.services.values() for e in service.endpoints]
    assert len({id(e) for e in endpoints}) == len(set(endpoints)) < len(endpoints)
