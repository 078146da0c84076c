"""Service churn from a seeded random stream: creates, deletes, sharing keys and pool edits.

The population hovers around a target size. A created Service is IPv6 single-stack (the lab's
IPv4 Service range is small); some carry ``metallb.io/allow-shared-ip`` with a key of a few
groups, each with a port of its own in the group (they may share an address) or, now and then,
a port another member already uses (they may not). A pool edit adds or removes the pool's first
range, so up to its size of Services lose their addresses and get new ones from the next range.
Now and then a Service asks for an address of the pool's last range (``loadBalancerIPs``) and
moves there, freeing its old address for the next Service created.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from ipaddress import ip_network
from typing import Any

from ansible_collections.baremetal.lb.daemons.kube.kubeapi import MERGE_PATCH, ApiError, KubeApi
from ansible_collections.baremetal.lb.plugins.module_utils.pools import AddressPool
from ansible_collections.baremetal.lb.plugins.module_utils.services import (
    ALLOW_SHARED_IP,
    LOAD_BALANCER_IPS,
    annotation,
)
from tests.lab.controller_harness import Cluster, service_manifest

FIRST_RANGE = "2001:db8:c5:1::/120"
"""Listed first, so new Services fill it before the next range; removed and re-added by pool edits."""
BASE_RANGE = "2001:db8:c5::/112"
REQUEST_RANGE = "2001:db8:c5:2::/112"
"""Listed last, so only Services that request an address of it (``loadBalancerIPs``) get one."""
REQUEST_CHANCE = 1 / 30
SHARING_GROUPS = 16
SHARED_FRACTION = 0.3
CLASHING_PORT_FRACTION = 0.1
POOL_EDIT_CHANCE = 1 / 150
CREATE_THREADS = 32


class Churn:
    """Drives the churn against one namespace and one pool; counts what it did, per kind."""

    def __init__(self, admin: KubeApi, namespace: str, pool: str, seed: int, target: int) -> None:
        self._admin = admin
        self._cluster = Cluster(admin)
        self._namespace = namespace
        self._pool = pool
        self._target = target
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._pool_lock = threading.Lock()
        self._names: set[str] = set()
        self._next = 0
        self._requests = 1
        self._group_ports: dict[str, int] = {}
        self._first_range_on = True
        self.done: Counter[str] = Counter()

    def create_pool(self) -> None:
        """Create the pool, with both ranges."""
        self._cluster.create_pool(self._pool, self.addresses())

    def delete_pool(self) -> None:
        """Delete the pool (call once the Services are gone)."""
        self._cluster.cleanup()

    def addresses(self) -> list[str]:
        """The pool's ``spec.addresses`` as the churn last wrote them."""
        first = [FIRST_RANGE] if self._first_range_on else []
        return [*first, BASE_RANGE, REQUEST_RANGE]

    def pools(self) -> list[AddressPool]:
        """The pool as the churn last wrote it, for the judge."""
        return [AddressPool.from_strings(self._pool, self.addresses())]

    def populate(self, count: int) -> None:
        """Create ``count`` Services in parallel (the set-up before any kill)."""
        with ThreadPoolExecutor(CREATE_THREADS) as creators:
            list(creators.map(lambda _index: self._create(), range(count)))

    def run(self, stop: threading.Event, workers: int, max_ops: int) -> None:
        """Churn with ``workers`` threads until ``stop`` is set or ``max_ops`` operations are done."""
        budget = iter(range(max_ops))
        budget_lock = threading.Lock()

        def work() -> None:
            while not stop.is_set():
                with budget_lock:
                    if next(budget, None) is None:
                        return
                self._step()

        threads = [threading.Thread(target=work, daemon=True) for _index in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _step(self) -> None:
        with self._lock:
            roll = self._random.random()
            size = len(self._names)
        if roll < POOL_EDIT_CHANCE:
            self._edit_pool()
            return
        if roll < POOL_EDIT_CHANCE + REQUEST_CHANCE:
            self._request()
            return
        create_share = 0.5 + 0.4 * (self._target - size) / max(self._target, 1)
        if self._random.random() < create_share:
            self._create()
        else:
            self._delete()

    def _create(self) -> None:
        with self._lock:
            name = f"svc-{self._next:06d}"
            self._next += 1
            annotations, ports = self._sharing()
        manifest = service_manifest(name, ipv6=True, annotations=annotations, ports=ports)
        if self._call("create", "POST", f"/api/v1/namespaces/{self._namespace}/services", manifest):
            with self._lock:
                self._names.add(name)

    def _sharing(self) -> tuple[dict[str, str], tuple[int, ...]]:
        """Annotations and ports of a new Service (called under the lock: it draws from the stream)."""
        if self._random.random() >= SHARED_FRACTION:
            return {}, (80,)
        group = f"share-{self._random.randrange(SHARING_GROUPS):02d}"
        if self._random.random() < CLASHING_PORT_FRACTION:
            port = 1000
        else:
            port = self._group_ports.get(group, 1000) + 1
            self._group_ports[group] = port
        return {annotation(ALLOW_SHARED_IP): group}, (port,)

    def _delete(self) -> None:
        with self._lock:
            if not self._names:
                return
            name = self._random.choice(sorted(self._names))
            self._names.discard(name)
        self._call("delete", "DELETE", f"/api/v1/namespaces/{self._namespace}/services/{name}")

    def _request(self) -> None:
        """Make a Service ask for an address of its own: it moves, and its old address frees."""
        with self._lock:
            if not self._names:
                return
            name = self._random.choice(sorted(self._names))
            address = ip_network(REQUEST_RANGE)[self._requests]
            self._requests += 1
        patch = {"metadata": {"annotations": {annotation(LOAD_BALANCER_IPS): str(address)}}}
        path = f"/api/v1/namespaces/{self._namespace}/services/{name}"
        self._call("request an address", "PATCH", path, patch, MERGE_PATCH)

    def _edit_pool(self) -> None:
        self.set_first_range(not self._first_range_on)

    def set_first_range(self, on: bool) -> None:
        """Add (``on``) or remove the pool's first range; nothing when it is so already."""
        with self._pool_lock:
            if self._first_range_on == on:
                return
            self._first_range_on = on
            self._cluster.patch_pool(self._pool, {"addresses": self.addresses()})
        with self._lock:
            self.done[f"pool edit (first range {'on' if on else 'off'})"] += 1

    def _call(
        self, kind: str, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> bool:
        """Send one request; a refusal is counted, never fatal (the API server is as busy as the
        controller). Return True when it succeeded."""
        try:
            self._admin.request(method, path, body=body, content_type=content_type)
        except ApiError as error:
            with self._lock:
                self.done[f"{kind} failed ({error.status})"] += 1
            return False
        with self._lock:
            self.done[kind] += 1
        return True


def summary(done: Counter[str]) -> str:
    """``12 create, 10 delete, 1 pool edit (first range off)``, sorted by kind."""
    return ", ".join(f"{count} {kind}" for kind, count in sorted(done.items())) or "nothing"
