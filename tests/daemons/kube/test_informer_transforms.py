"""Every transform a daemon hands to an Informer keeps what the Informer keys and versions by.

The Informer caches the transformed object and reads ``namespace/name`` and ``resourceVersion``
from it: a transform that dropped them would file every object under one key, or make a relist
report no change (both versions read as 0). These cases are full objects as the API server
lists them, with managedFields, so a transform that trims "everything unread" is caught too.
"""

import copy
import json

import pytest

from ansible_collections.baremetal.lb.daemons.controller.service_view import (
    slim_service as controller_service,
)
from ansible_collections.baremetal.lb.daemons.kube.informer import object_key, without_managed_fields
from ansible_collections.baremetal.lb.daemons.speaker.cluster_state import (
    slim_endpoint_slice,
    slim_node,
)
from ansible_collections.baremetal.lb.daemons.speaker.cluster_state import slim_service as speaker_service

_MANAGED = [{"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:spec": {}}}]


def _meta(name, namespace=None):
    meta = {
        "name": name,
        "uid": "0d9c1c3e-1111-4222-8333-444455556666",
        "resourceVersion": "4711",
        "creationTimestamp": "2026-12-03T17:00:00Z",
        "labels": {"app": "web"},
        "annotations": {"metallb.io/address-pool": "pool-a"},
        "managedFields": _MANAGED,
    }
    if namespace:
        meta["namespace"] = namespace
    return meta


SERVICE = {
    "metadata": _meta("web", "shop"),
    "spec": {
        "type": "LoadBalancer",
        "clusterIP": "10.96.0.10",
        "clusterIPs": ["10.96.0.10"],
        "ipFamilies": ["IPv4"],
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}],
    },
    "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}},
}
ENDPOINT_SLICE = {
    "metadata": {**_meta("web-abcde", "shop"), "labels": {"kubernetes.io/service-name": "web"}},
    "addressType": "IPv4",
    "endpoints": [{"addresses": ["10.244.1.5"], "nodeName": "node-1", "conditions": {"ready": True}}],
    "ports": [{"port": 8080, "protocol": "TCP"}],
}
NODE = {
    "metadata": _meta("node-1"),
    "spec": {"unschedulable": False},
    "status": {"conditions": [{"type": "Ready", "status": "True"}]},
}

TRANSFORMS = [
    pytest.param(speaker_service, SERVICE, id="speaker-service"),
    pytest.param(slim_endpoint_slice, ENDPOINT_SLICE, id="speaker-endpointslice"),
    pytest.param(slim_node, NODE, id="speaker-node"),
    pytest.param(controller_service, SERVICE, id="controller-service"),
    pytest.param(without_managed_fields, SERVICE, id="without-managed-fields"),
]


@pytest.mark.parametrize(("transform", "listed"), TRANSFORMS)
def test_a_transform_keeps_the_key_and_the_version(transform, listed):
    slim = transform(copy.deepcopy(listed))
    assert object_key(slim) == object_key(listed)
    assert slim["metadata"]["resourceVersion"] == listed["metadata"]["resourceVersion"]
    assert "managedFields" not in slim["metadata"]


@pytest.mark.parametrize(("transform", "listed"), TRANSFORMS)
def test_a_transform_is_idempotent(transform, listed):
    """The Informer's ``store`` transforms an object a daemon may have read from the cache."""
    once = transform(copy.deepcopy(listed))
    held = _plain(once)  # before an in-place transform runs again
    assert _plain(transform(once)) == held


def _plain(obj):
    """A plain JSON copy of what ``obj`` holds (a shared read-only part as a dict or list)."""
    return json.loads(json.dumps(obj, default=dict))
