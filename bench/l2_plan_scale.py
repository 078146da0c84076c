"""The pieces of :mod:`bench.l2_plan_scale_bench`: object shapes, the planners before and after, results.

Shared by its in-process children and its ``--api`` source (:mod:`bench.l2_plan_scale_api`).
"""

from __future__ import annotations

import ipaddress
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.baremetal.lb.daemons.speaker import facts
from ansible_collections.baremetal.lb.daemons.speaker.cluster_state import (
    Caches,
    ClusterFacts,
    slim_endpoint_slice,
    slim_node,
    slim_service,
)
from ansible_collections.baremetal.lb.daemons.speaker.engine_process import encode
from ansible_collections.baremetal.lb.daemons.speaker.handler import Situation
from ansible_collections.baremetal.lb.daemons.speaker.layer2.engine_messages import plan_to_json
from ansible_collections.baremetal.lb.daemons.speaker.layer2.handler import plan as full_plan
from ansible_collections.baremetal.lb.daemons.speaker.layer2.planning import Layer2Planning
from ansible_collections.baremetal.lb.daemons.speaker.unannounced import UnannouncedWarnings
from ansible_collections.baremetal.lb.plugins.module_utils import bgp_plan
from ansible_collections.baremetal.lb.plugins.module_utils.announcement import unannounced_services
from ansible_collections.baremetal.lb.plugins.module_utils.bgp_replan import BGPNodePlans
from ansible_collections.baremetal.lb.plugins.module_utils.config_model import (
    BGPAdvertisement,
    BGPPeer,
    Config,
    L2Advertisement,
)
from ansible_collections.baremetal.lb.plugins.module_utils.label_selectors import LabelSelector
from ansible_collections.baremetal.lb.plugins.module_utils.pools import AddressPool
from ansible_collections.baremetal.lb.plugins.module_utils.services import IP_ALLOCATED_FROM_POOL, annotation

JSON = dict[str, Any]
ME = "node-0000"  # the speaker's own node: an announcing one
POOL = "bench"
POOL_RANGE = "2001:db8:100::/112"  # 65,536 documentation addresses
ANNOUNCE_LABEL = "bench.baremetal.lb/announce"
BGP_PEER = "2001:db8::1"  # with --bgp: a router no one dials, the plan only
INTERFACES = {4: ["eth0"], 6: ["eth0"]}  # fixed: the bench reads no interface of the machine
CHANGES = ("endpoint", "node-notready", "node-delete", "announcer-delete")
PLANNERS = ("full", "incremental")
SPEAKER_TRANSFORMS = {
    "node": slim_node,
    "service": slim_service,
    "slice": slim_endpoint_slice,
}  # its informers'


# -- object shapes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """The cluster the bench builds."""

    nodes: int = 1000
    services: int = 10000
    announcing_nodes: int = 10
    local_share: float = 0.5
    endpoints: int = 3
    seed: int = 1
    namespace: str = "plan-bench"
    bgp: bool = False  # the speaker's node also has a BGP session announcing every Service

    def node_name(self, i: int) -> str:
        """The name of Node ``i``; the first ``announcing_nodes`` may announce."""
        return f"node-{i:04d}"

    def announcing(self, i: int) -> bool:
        """Whether Node ``i`` carries the label the L2Advertisement selects."""
        return self.announcing_nodes == 0 or i < self.announcing_nodes

    def config(self) -> Config:
        """One IPv6 pool and one L2Advertisement (selecting the announcing Nodes, or every Node)."""
        selectors = (LabelSelector(match_labels={ANNOUNCE_LABEL: "true"}),) if self.announcing_nodes else ()
        return Config(
            pools=(AddressPool.from_strings(POOL, [POOL_RANGE]),),
            l2_advertisements=(L2Advertisement("bench", frozenset({POOL}), node_selectors=selectors),),
            bgp_peers=(BGPPeer("bench", 64512, 64513, address=ipaddress.ip_address(BGP_PEER)),)
            if self.bgp
            else (),
            bgp_advertisements=(BGPAdvertisement("bench", frozenset({POOL})),) if self.bgp else (),
        )

    def ip(self, i: int) -> str:
        """The ingress IP of Service ``i``."""
        return str(ipaddress.ip_network(POOL_RANGE)[i + 1])

    def local(self, i: int) -> bool:
        """Whether Service ``i`` is ``externalTrafficPolicy: Local``."""
        return i < self.services * self.local_share

    def endpoint_nodes(self) -> list[list[str]]:
        """The Nodes of each Service's endpoints, from the seeded generator."""
        rng = random.Random(self.seed)
        return [
            [self.node_name(rng.randrange(self.nodes)) for _endpoint in range(self.endpoints)]
            for _service in range(self.services)
        ]


def node_object(shape: Shape, i: int, version: int = 1) -> JSON:
    """A kwok Node as the lab creates it (``lab.nodes.simulated_node_manifest``), Ready."""
    name = shape.node_name(i)
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"}
    if shape.announcing_nodes and shape.announcing(i):
        labels[ANNOUNCE_LABEL] = "true"
    address = str(ipaddress.ip_address("2001:db8:200::") + i + 1)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "resourceVersion": str(version),
            "annotations": {"kwok.x-k8s.io/node": "fake"},
            "labels": labels,
        },
        "status": {
            "addresses": [{"type": "InternalIP", "address": address}],
            "capacity": {"cpu": "32", "memory": "64Gi", "pods": "110"},
            "allocatable": {"cpu": "32", "memory": "64Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        },
    }


def not_ready(node: JSON) -> JSON:
    """``node`` as the node lifecycle controller leaves it when its kubelet stops reporting."""
    changed: JSON = json.loads(json.dumps(node))
    changed["status"]["conditions"] = [{"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}]
    changed["spec"] = {
        "taints": [
            {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
        ]
    }
    return changed


def service_object(shape: Shape, i: int) -> JSON:
    """LoadBalancer Service ``i`` with its ingress IP and the pool annotation the controller writes."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": f"svc-{i:05d}",
            "namespace": shape.namespace,
            "resourceVersion": "1",
            "annotations": {annotation(IP_ALLOCATED_FROM_POOL): POOL},
        },
        "spec": {
            "type": "LoadBalancer",
            "ipFamilies": ["IPv6"],
            "ipFamilyPolicy": "SingleStack",
            "externalTrafficPolicy": "Local" if shape.local(i) else "Cluster",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
            "selector": {"app": f"svc-{i:05d}"},
        },
        "status": {"loadBalancer": {"ingress": [{"ip": shape.ip(i), "ipMode": "VIP"}]}},
    }


def slice_object(shape: Shape, i: int, nodes: list[str], version: int = 1) -> JSON:
    """The EndpointSlice of Service ``i`` with one ready endpoint on each of ``nodes``."""
    service = f"svc-{i:05d}"
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{service}-bench",
            "namespace": shape.namespace,
            "resourceVersion": str(version),
            "labels": {facts.SERVICE_NAME_LABEL: service, "endpointslice.kubernetes.io/managed-by": "bench"},
        },
        "addressType": "IPv6",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {
                "addresses": [str(ipaddress.ip_address("2001:db8:300::") + i * 8 + n + 1)],
                "conditions": {"ready": True, "serving": True, "terminating": False},
                "nodeName": node,
            }
            for n, node in enumerate(nodes)
        ],
    }


# -- the speaker's planning, before and after --------------------------------------------------------


class Store:
    """What the speaker's three informers hold, by key; ``notify`` plays their handlers."""

    def __init__(self) -> None:
        self.nodes: dict[str, JSON] = {}
        self.services: dict[str, JSON] = {}
        self.slices: dict[str, JSON] = {}
        self.notify: Callable[[str, str], None] = lambda _kind, _key: None
        self.handed_over = 0  # notices played so far, for a store whose notices are counted

    def put(self, kind: str, obj: JSON) -> str:
        """Cache ``obj`` (a ``node``, ``service`` or ``slice``) as the speaker's informer would; its key."""
        key = facts_key(obj)
        getattr(self, kind + "s")[key] = SPEAKER_TRANSFORMS[kind](obj)
        return key

    def caches(self) -> Caches:
        """The informers' ``get``."""
        return Caches(service=self.services.get, endpoint_slice=self.slices.get, node=self.nodes.get)


class Planner:
    """One planner: a re-plan from what the store holds, ending with the encoded engine order."""

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        self.sent: Any = None
        self.replanned = 0
        self.took = 0  # the store's notices handed over before this re-plan read them

    def replan(self) -> None:
        """Plan every protocol as the speaker's ``_replan`` does, and encode the plan order if it changed."""
        situation = self._plan()
        self._others(situation)

    def _plan(self) -> Situation:
        """Plan layer 2 and encode a changed plan order (``EngineProcess``'s send-if-changed)."""
        raise NotImplementedError

    def _others(self, situation: Situation) -> None:
        """What else every re-plan runs: the BGP handler's planning and the unannounced warnings."""
        raise NotImplementedError


class FullPlanner(Planner):
    """The speaker before: every fact and every Service on every change."""

    def _plan(self) -> Situation:
        endpoints = facts.endpoints_by_service(self.store.slices.values())
        situation = Situation(
            config=self.config,
            nodes={name: facts.node_facts(node) for name, node in self.store.nodes.items()},
            services=[facts.service_facts(service, endpoints) for service in self.store.services.values()],
            me=ME,
        )
        order = plan_to_json(full_plan(situation, INTERFACES))
        self.replanned = len(situation.services)
        if order != self.sent:
            self.sent = order
            encode({"plan": order})
        return situation

    def _others(self, situation: Situation) -> None:
        """As before: the BGP planner walked every Service, and every Service was checked."""
        for service in situation.services:
            bgp_plan.plan_service(situation.config, service, nodes=situation.nodes, announcers=(ME,))
        unannounced_services(situation.config, situation.services)


class IncrementalPlanner(Planner):
    """The speaker now: ``ClusterFacts`` and ``Layer2Planning``."""

    def __init__(self, store: Store, config: Config) -> None:
        super().__init__(store, config)
        self.facts = ClusterFacts("")
        self.planning = Layer2Planning()
        self.unannounced = UnannouncedWarnings()
        self.bgp = BGPNodePlans()  # as the speaker's BGP handler plans
        noted = {"node": self.facts.node_changed, "service": self.facts.service_changed}
        noted["slice"] = self.facts.slice_changed
        store.notify = lambda kind, key: noted[kind](key, None, None)

    def _plan(self) -> Situation:
        self.took = self.store.handed_over
        self.facts.refresh(self.store.caches())
        situation = Situation(
            config=self.config,
            nodes=dict(self.facts.nodes),
            services=list(self.facts.services.values()),
            me=ME,
        )
        replanned, order = self.planning.plan(situation, INTERFACES)
        self.replanned = len(replanned.services)
        if order is not None:  # the whole plan first, then the Services that changed
            self.sent = order
        return situation

    def _others(self, situation: Situation) -> None:
        self.bgp.plan(situation.config, situation.me, situation.nodes, situation.services)
        self.unannounced.update(situation.config, situation.services)


def build_store(shape: Shape) -> Store:
    """Every object of ``shape``, as the informers would hold them after their first list."""
    store = Store()
    for i in range(shape.nodes):
        store.put("node", node_object(shape, i))
    for i, nodes in enumerate(shape.endpoint_nodes()):
        store.put("service", service_object(shape, i))
        store.put("slice", slice_object(shape, i, nodes))
    return store


def facts_key(obj: JSON) -> str:
    """``namespace/name``, as the informers key objects."""
    meta = obj["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else str(meta["name"])


@dataclass
class Change:
    """One change to the store: ``apply`` it (timed), ``undo`` it (untimed)."""

    name: str
    apply: Callable[[], None]
    undo: Callable[[], None]


def changes(shape: Shape, store: Store) -> dict[str, Change]:
    """The changes the bench times, on objects the seeded shapes pick."""
    endpoint_nodes = shape.endpoint_nodes()
    local = 0  # Service 0 is Local whenever --local-share > 0
    victim_index = next(  # a Node with endpoints that announces nothing (with every Node announcing: any)
        index
        for nodes in endpoint_nodes
        for index in (int(node.split("-")[1]) for node in nodes)
        if index and (shape.announcing_nodes == 0 or not shape.announcing(index))
    )
    victim = shape.node_name(victim_index)
    announcer = next(i for i in range(1, shape.nodes) if shape.announcing(i))
    local_nodes = endpoint_nodes[local]

    def put(kind: str, obj: JSON) -> None:
        store.notify(kind, store.put(kind, obj))

    def drop(kind: str, key: str) -> None:
        getattr(store, kind + "s").pop(key, None)
        store.notify(kind, key)

    moved = [*local_nodes[1:], shape.node_name(announcer)]  # a new candidate: the plan changes
    return {
        "endpoint": Change(
            "endpoint",
            lambda: put("slice", slice_object(shape, local, moved, version=2)),
            lambda: put("slice", slice_object(shape, local, local_nodes, version=3)),
        ),
        "node-notready": Change(
            "node-notready",
            lambda: put("node", not_ready(node_object(shape, victim_index, version=2))),
            lambda: put("node", node_object(shape, victim_index, version=3)),
        ),
        "node-delete": Change(
            "node-delete",
            lambda: drop("node", victim),
            lambda: put("node", node_object(shape, victim_index)),
        ),
        "announcer-delete": Change(
            "announcer-delete",
            lambda: drop("node", shape.node_name(announcer)),
            lambda: put("node", node_object(shape, announcer)),
        ),
    }


# -- results --------------------------------------------------------------------------------------


@dataclass
class Results:
    """What one planner's child reported."""

    planner: str
    source: str
    trials: dict[str, list[JSON]] = field(default_factory=dict)
    facts: JSON = field(default_factory=dict)
    error: str = ""


def collect(results: Results, item: JSON) -> None:
    """File one reported line: a trial under its change, anything else as a fact of the run."""
    if "change" in item:
        results.trials.setdefault(item["change"], []).append(item)
        print(
            f"  {results.planner:12} {item['change']:17} rep {item['rep']}: {describe_trial(item)}",
            flush=True,
        )
    else:
        results.facts.update(item)


def describe_trial(trial: JSON) -> str:
    """One trial as printed (through the API: also when the informer saw it and the re-plan's own time)."""
    figure = (
        f"{trial['ms']:.1f} ms, {trial.get('replanned', '?')} Services re-planned" if "ms" in trial else ""
    )
    if "cpu_ms" in trial:
        figure += f" (CPU {trial['cpu_ms']:.1f} ms)"
    if "seen_ms" in trial:
        figure += f" (seen after {trial['seen_ms']:.1f} ms, re-plan {trial['plan_ms']:.1f} ms"
        figure += f", of it waiting for a core {trial['core_wait_ms']:.1f} ms)"
    return ", ".join(part for part in (figure, trial.get("error", "")) if part)
