"""ServiceL2Status objects: one per (Service, node) announcing it, as MetalLB publishes them.

Written from a thread of its own that converges the objects of this node to the latest wanted
state (older wanted states are skipped), so a slow API server never holds up a decision. The
API server drops ``status`` on create, so an object is created and then its status patched.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import (
    L2_STATUS_NODE_LABEL,
    L2_STATUS_SERVICE_NAME_LABEL,
    L2_STATUS_SERVICE_NAMESPACE_LABEL,
    SERVICE_L2_STATUS,
)

from ...kube.kubeapi import (
    JSON,
    MERGE_PATCH,
    ApiError,
    KubeApi,
    Resource,
)

_RETRY_SECONDS = 2.0

log = logging.getLogger(__name__)


def resource(namespace: str) -> Resource:
    """The ServiceL2Status collection in the speaker's namespace."""
    return Resource(SERVICE_L2_STATUS.api_path, SERVICE_L2_STATUS.plural, namespace)


class L2StatusWriter:
    """Keeps this node's ServiceL2Status objects equal to ``{service key: interfaces}``."""

    def __init__(self, api: KubeApi, namespace: str, node: str) -> None:
        self._api = api
        self._resource = resource(namespace)
        self._namespace = namespace
        self._node = node
        self._wanted: dict[str, tuple[str, ...]] | None = None
        self._changed = threading.Condition()
        self._current: dict[str, tuple[str, tuple[str, ...]]] = {}  # service -> (object, interfaces)
        self._loaded = False

    def want(self, services: Mapping[str, Sequence[str]]) -> None:
        """Ask for exactly these (Service, interfaces) reports from this node."""
        with self._changed:
            self._wanted = {key: tuple(sorted(ifaces)) for key, ifaces in services.items()}
            self._changed.notify()

    def start(self, stop: threading.Event) -> None:
        """Converge from a daemon thread until ``stop`` is set."""
        threading.Thread(target=self._run, args=(stop,), name="l2status", daemon=True).start()

    def delete_all(self) -> None:
        """Remove every report of this node (on a graceful stop); errors are only logged."""
        try:
            for item in self._list():
                self._delete(item["metadata"]["name"])
        except Exception as error:  # best effort on the way out
            log.warning("could not delete ServiceL2Status objects: %s", error)

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self._changed:
                self._changed.wait_for(lambda: self._wanted is not None or stop.is_set(), timeout=1.0)
                wanted, self._wanted = self._wanted, None
            if wanted is None:
                continue
            try:
                self._converge(wanted)
            except Exception as error:  # retried with the newest wanted state
                log.warning("writing ServiceL2Status failed: %s; retrying", error)
                self._loaded = False
                with self._changed:
                    if self._wanted is None:
                        self._wanted = wanted
                stop.wait(_RETRY_SECONDS)

    def _converge(self, wanted: Mapping[str, tuple[str, ...]]) -> None:
        if not self._loaded:
            self._current = {}
            for item in self._list():
                labels = item["metadata"].get("labels") or {}
                namespace, name = (
                    labels.get(L2_STATUS_SERVICE_NAMESPACE_LABEL),
                    labels.get(L2_STATUS_SERVICE_NAME_LABEL),
                )
                key = f"{namespace}/{name}"
                if key in self._current:  # a duplicate from an earlier crash
                    self._delete(item["metadata"]["name"])
                    continue
                interfaces = tuple(
                    sorted(i.get("name", "") for i in (item.get("status") or {}).get("interfaces") or [])
                )
                self._current[key] = (item["metadata"]["name"], interfaces)
            self._loaded = True
        for key in list(self._current.keys() - wanted.keys()):
            self._delete(self._current.pop(key)[0])
        for key, interfaces in wanted.items():
            known = self._current.get(key)
            if known is not None and known[1] == interfaces:
                continue
            name = known[0] if known else self._create(key)
            self._patch_status(name, key, interfaces)
            self._current[key] = (name, interfaces)

    def _list(self) -> list[JSON]:
        answer = self._api.request(
            "GET", self._resource.collection(), {"labelSelector": f"{L2_STATUS_NODE_LABEL}={self._node}"}
        )
        items: list[JSON] = answer.get("items") or []
        return items

    def _create(self, key: str) -> str:
        namespace, name = key.split("/", 1)
        body = {
            "apiVersion": SERVICE_L2_STATUS.api_version,
            "kind": SERVICE_L2_STATUS.kind,
            "metadata": {
                "generateName": "l2-",
                "namespace": self._namespace,
                "labels": {
                    L2_STATUS_NODE_LABEL: self._node,
                    L2_STATUS_SERVICE_NAME_LABEL: name,
                    L2_STATUS_SERVICE_NAMESPACE_LABEL: namespace,
                },
            },
            "spec": {},
        }
        created = self._api.request("POST", self._resource.collection(), body=body)
        return str(created["metadata"]["name"])

    def _patch_status(self, name: str, key: str, interfaces: tuple[str, ...]) -> None:
        namespace, service = key.split("/", 1)
        status = {
            "node": self._node,
            "serviceName": service,
            "serviceNamespace": namespace,
            "interfaces": [{"name": i} for i in interfaces],
        }
        self._api.request(
            "PATCH",
            self._resource.item(self._namespace, name, "status"),
            body={"status": status},
            content_type=MERGE_PATCH,
        )

    def _delete(self, name: str) -> None:
        try:
            self._api.request("DELETE", self._resource.item(self._namespace, name))
        except ApiError as error:
            if not error.not_found:
                raise
