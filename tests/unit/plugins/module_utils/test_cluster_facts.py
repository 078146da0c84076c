"""Kubernetes objects read into the facts the planners take (shared by the speaker and lb_info)."""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.cluster_facts import (
    endpoints_by_service,
    is_draining,
    node_facts,
    service_facts,
)
from ansible_collections.baremetal.lb.plugins.module_utils.ownership import Endpoint


@pytest.mark.parametrize(
    ("conditions", "unavailable"),
    [
        ([], False),
        ([{"type": "NetworkUnavailable", "status": "False"}], False),
        ([{"type": "Ready", "status": "True"}, {"type": "NetworkUnavailable", "status": "True"}], True),
    ],
)
def test_a_node_is_network_unavailable_only_when_the_condition_is_true(conditions, unavailable):
    facts = node_facts({"metadata": {"labels": {"rack": "a"}}, "status": {"conditions": conditions}})
    assert (facts.labels, facts.network_unavailable) == ({"rack": "a"}, unavailable)


def test_endpoints_are_gathered_per_service_from_all_its_slices():
    slices = [
        {
            "metadata": {"namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
            "endpoints": [{"nodeName": "a", "conditions": {"ready": True}}],
        },
        {
            "metadata": {"namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
            "endpoints": [{"nodeName": "b", "conditions": {"ready": False, "serving": True}}, {}],
        },
        {"metadata": {"namespace": "shop", "labels": {}}, "endpoints": [{"nodeName": "c"}]},  # no Service
    ]
    assert endpoints_by_service(slices) == {
        "shop/web": [Endpoint("a", True, None), Endpoint("b", False, True), Endpoint(None)]
    }


def test_service_facts_carry_addresses_policy_pool_labels_and_endpoints():
    service = {
        "metadata": {
            "namespace": "shop",
            "name": "web",
            "labels": {"app": "web"},
            "annotations": {"metallb.io/ip-allocated-from-pool": "lan"},
        },
        "spec": {"externalTrafficPolicy": "Local"},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.7"}, {"hostname": "x"}]}},
    }
    facts = service_facts(service, {"shop/web": [Endpoint("a", True)]})
    assert (facts.key, [str(ip) for ip in facts.ips], facts.local_traffic_policy, facts.pool) == (
        "shop/web",
        ["192.0.2.7"],
        True,
        "lan",
    )
    assert facts.labels == {"app": "web"} and facts.endpoints == (Endpoint("a", True),)


def _taint(key: str, effect: str = "NoSchedule") -> dict[str, str]:
    return {"key": key, "effect": effect}


DRAIN_CASES = {
    "schedulable, no taints": ({}, False),
    "cordoned (kubectl cordon and drain)": ({"unschedulable": True}, True),
    "uncordoned: kubectl leaves the field false or drops it": ({"unschedulable": False}, False),
    "the node controller's cordon taint": ({"taints": [_taint("node.kubernetes.io/unschedulable")]}, True),
    "cluster autoscaler removing the node": ({"taints": [_taint("ToBeDeletedByClusterAutoscaler")]}, True),
    "Karpenter disrupting the node": ({"taints": [_taint("karpenter.sh/disrupted")]}, True),
    "a drain taint as NoExecute": ({"taints": [_taint("ToBeDeletedByClusterAutoscaler", "NoExecute")]}, True),
    "a drain taint only preferred (PreferNoSchedule)": (
        {"taints": [_taint("ToBeDeletedByClusterAutoscaler", "PreferNoSchedule")]},
        False,
    ),
    "the autoscaler's soft candidate mark is no drain": (
        {"taints": [_taint("DeletionCandidateOfClusterAutoscaler", "PreferNoSchedule")]},
        False,
    ),
    "a not-ready node is not being drained": ({"taints": [_taint("node.kubernetes.io/not-ready")]}, False),
    "a user's own taint": ({"taints": [_taint("dedicated"), _taint("gpu", "NoExecute")]}, False),
}


@pytest.mark.parametrize("case", DRAIN_CASES.values(), ids=DRAIN_CASES.keys())
def test_a_node_is_draining_when_cordoned_or_tainted_for_removal(case):
    spec, draining = case
    node = {"metadata": {"name": "n"}, "spec": spec}
    assert is_draining(node) is draining
    assert node_facts(node).draining is draining


def test_a_node_without_spec_is_not_draining():
    assert not node_facts({"metadata": {"name": "n"}}).draining
