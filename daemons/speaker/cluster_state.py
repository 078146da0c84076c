"""The facts of the watched Services, EndpointSlices and Nodes, rebuilt only for what changed.

The informers' handlers (watch threads) only note which object changed; :meth:`ClusterFacts.refresh`
(the planning thread) reads those objects from the informers' caches and rebuilds their facts
(:mod:`.facts`), so a change to one EndpointSlice re-reads one slice and one Service, not
10,000. An unchanged Service keeps the very same :class:`ServiceFacts` object, which lets the
planners (:mod:`...plugins.module_utils.l2_replan`) skip it cheaply.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ansible_collections.baremetal.lb.plugins.module_utils.ownership import Endpoint, NodeFacts, ServiceFacts
from ansible_collections.baremetal.lb.plugins.module_utils.services import ingress_ips

from ..kube.informer import without_managed_fields
from ..kube.kubeapi import JSON
from . import facts

Lookup = Callable[[str], JSON | None]  # an informer's ``get``: the cached object by key, None when gone
_ENDPOINTS_SLACK = 4096  # the endpoint table prunes what no slice holds only beyond twice this
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_SERVICE_SPEC = ("type", "loadBalancerClass", "externalTrafficPolicy")  # what facts.served/service_facts read
_SLICE_METADATA = ("name", "namespace", "labels", "resourceVersion", "uid")  # what the speaker keeps


def slim_endpoint_slice(item: JSON) -> JSON:
    """An EndpointSlice as the speaker caches it: what the informer and :mod:`.facts` read.

    Its name, namespace, labels and version, and each endpoint's node and conditions; at
    10,000 Services the addresses, ports, hints and managedFields are most of a speaker's memory.
    """
    meta = item.get("metadata") or {}
    return {
        "metadata": {key: meta[key] for key in _SLICE_METADATA if key in meta},
        "endpoints": [
            {key: endpoint[key] for key in ("nodeName", "conditions") if key in endpoint}
            for endpoint in item.get("endpoints") or []
        ],
    }


def slim_service(service: JSON) -> JSON:
    """A Service as the speaker caches it: what :mod:`.facts` and the speaker's Events read.

    Its metadata without managedFields and without kubectl's copy of the last applied object
    (an annotation as large as the object), of its spec the type, class and external traffic
    policy, and of its status the load balancer's.
    """
    meta = without_managed_fields({"metadata": dict(service.get("metadata") or {})})["metadata"]
    annotations = meta.get("annotations") or {}
    if LAST_APPLIED in annotations:
        meta["annotations"] = {key: value for key, value in annotations.items() if key != LAST_APPLIED}
    spec = service.get("spec") or {}
    return {
        "metadata": meta,
        "spec": {key: spec[key] for key in _SERVICE_SPEC if key in spec},
        "status": {"loadBalancer": (service.get("status") or {}).get("loadBalancer") or {}},
    }


def slim_node(node: JSON) -> JSON:
    """A Node as the speaker caches it: without managedFields and its list of images (in place)."""
    (node.get("status") or {}).pop("images", None)
    return without_managed_fields(node)


@dataclass(frozen=True)
class Caches:
    """Where :class:`ClusterFacts` reads the current objects: the informers' ``get``."""

    service: Lookup
    endpoint_slice: Lookup
    node: Lookup


class ClusterFacts:
    """Service and Node facts kept current from the informers' change notices."""

    def __init__(self, lb_class: str) -> None:
        self._lb_class = lb_class
        self._lock = threading.Lock()
        self._dirty: dict[str, set[str]] = {"service": set(), "slice": set(), "node": set()}
        self._services: dict[str, ServiceFacts] = {}  # served Services with ingress IPs
        self._nodes: dict[str, NodeFacts] = {}
        self._slices: dict[str, tuple[str, tuple[Endpoint, ...]]] = {}  # slice -> (Service, endpoints)
        self._slices_of: dict[str, tuple[str, ...]] = {}  # Service -> its slices' keys, sorted
        self._endpoints: dict[Endpoint, Endpoint] = {}  # one object for equal endpoints (node, conditions)
        self._endpoints_pruned = _ENDPOINTS_SLACK  # the table's size after its last pruning, at least

    def service_changed(self, key: str, _old: JSON | None, _new: JSON | None) -> None:
        """An informer handler: the Service ``key`` came, went or changed."""
        self._note("service", key)

    def slice_changed(self, key: str, _old: JSON | None, _new: JSON | None) -> None:
        """An informer handler: the EndpointSlice ``key`` came, went or changed."""
        self._note("slice", key)

    def node_changed(self, key: str, _old: JSON | None, _new: JSON | None) -> None:
        """An informer handler: the Node ``key`` came, went or changed."""
        self._note("node", key)

    @property
    def services(self) -> Mapping[str, ServiceFacts]:
        """The served Services with ingress IPs, by key, as of the last :meth:`refresh`."""
        return self._services

    @property
    def nodes(self) -> Mapping[str, NodeFacts]:
        """Every Node's facts, by name, as of the last :meth:`refresh`."""
        return self._nodes

    def refresh(self, caches: Caches) -> None:
        """Rebuild, from ``caches``, the facts of the objects that changed since the last call.

        Call it from one thread (the planning one); the handlers may run on any.
        """
        with self._lock:
            dirty, self._dirty = self._dirty, {"service": set(), "slice": set(), "node": set()}
        for name in dirty["node"]:
            node = caches.node(name)
            if node is None:
                self._nodes.pop(name, None)
            else:
                fresh = facts.node_facts(node)
                if self._nodes.get(name) != fresh:  # an unchanged Node keeps its facts object
                    self._nodes[name] = fresh
        services = dirty["service"]
        for key in dirty["slice"]:
            services |= self._read_slice(key, caches.endpoint_slice(key))
        for key in services:
            self._read_service(key, caches.service(key))
        if dirty["slice"]:
            self._prune_endpoints()

    def _note(self, kind: str, key: str) -> None:
        with self._lock:
            self._dirty[kind].add(key)

    def _read_slice(self, key: str, item: JSON | None) -> set[str]:
        """Take in the EndpointSlice ``key`` as it is now (``item``, None: gone); the Services touched."""
        before = self._slices.pop(key, None)
        touched = set()
        if before is not None:
            touched.add(before[0])
            self._set_slices_of(before[0], set(self._slices_of.get(before[0], ())) - {key})
        for service, endpoints in facts.endpoints_by_service([item] if item else []).items():
            self._slices[key] = (service, tuple(self._endpoints.setdefault(e, e) for e in endpoints))
            self._set_slices_of(service, {*self._slices_of.get(service, ()), key})
            touched.add(service)
        return touched

    def _set_slices_of(self, service: str, keys: set[str]) -> None:
        if keys:
            self._slices_of[service] = tuple(sorted(keys))
        else:
            self._slices_of.pop(service, None)

    def _prune_endpoints(self) -> None:
        """Forget the endpoints no slice holds, once the table has doubled since the last pruning."""
        if len(self._endpoints) < 2 * self._endpoints_pruned:
            return
        self._endpoints = {e: e for _service, endpoints in self._slices.values() for e in endpoints}
        self._endpoints_pruned = max(len(self._endpoints), _ENDPOINTS_SLACK)

    def _read_service(self, key: str, service: JSON | None) -> None:
        if service is None or not facts.served(service, self._lb_class) or not ingress_ips(service):
            self._services.pop(key, None)
            return
        names = self._slices_of.get(key, ())
        endpoints = (  # one slice (the usual case): the facts share its tuple
            self._slices[names[0]][1]
            if len(names) == 1
            else tuple(e for n in names for e in self._slices[n][1])
        )
        fresh = facts.service_facts(service, {key: endpoints})
        if self._services.get(key) != fresh:
            self._services[key] = fresh
