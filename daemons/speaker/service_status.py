"""A protocol's status objects (ServiceL2Status, ServiceBGPStatus): one per (Service, node).

:class:`ServiceStatusWriter` keeps this node's objects of one kind equal to the latest wanted
``{service key: where it is announced}``, from a thread of its own (older wanted states are
skipped), so a slow API server never holds up a decision. The API server drops ``status`` on
create, so an object is created and then its status patched. The kind
(:data:`~.status_objects.L2_STATUS_KIND`, :data:`~.status_objects.BGP_STATUS_KIND`) says
everything that differs; :func:`reported` and :func:`changes` are the pure decisions.

A protocol may add :class:`Condition` entries to an object's ``status.conditions`` (layer 2:
``AddressConflict`` while another host answers for the Service's IP); without any, the object
has no ``conditions`` field, exactly as MetalLB writes it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import STATUS_NODE_LABEL
from ansible_collections.baremetal.lb.plugins.module_utils.status_objects import (
    StatusKind,
    reported_service,
    status_labels,
)

from ..kube.kubeapi import JSON, MERGE_PATCH, KubeApi, Resource
from .latest_wanted import LatestWanted
from .node_objects import NodeObjects

log = logging.getLogger(__name__)

Wanted = Mapping[str, tuple[str, ...]]  # service key -> where it is announced, sorted


@dataclass(frozen=True, order=True)
class Condition:
    """One entry of ``status.conditions`` (the Kubernetes condition shape, time added on write)."""

    type: str
    status: str  # "True", "False" or "Unknown"
    reason: str
    message: str

    def to_json(self, transition: str) -> dict[str, str]:
        """The entry as written, with ``lastTransitionTime`` ``transition`` (RFC 3339)."""
        return {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "lastTransitionTime": transition,
        }

    @classmethod
    def from_json(cls, entry: Any) -> Condition | None:
        """An entry read back (its time ignored); None when it is not a condition."""
        if not isinstance(entry, Mapping):
            return None
        return cls(*(str(entry.get(field, "")) for field in ("type", "status", "reason", "message")))


Conditions = tuple[Condition, ...]


@dataclass(frozen=True)
class Report:
    """One status object of this node: its name, where it says the Service is announced, its conditions."""

    name: str
    where: tuple[str, ...]
    conditions: Conditions = ()


def reported(items: Sequence[JSON], kind: StatusKind) -> tuple[dict[str, Report], list[str]]:
    """The listed objects of this node by service key, and the names of the surplus ones to delete.

    A Service reported twice (a crash between create and patch, or a race with an older
    speaker) keeps its first object; the others are surplus.
    """
    reports: dict[str, Report] = {}
    surplus: list[str] = []
    for item in items:
        namespace, name, _node = reported_service(item)
        key = f"{namespace}/{name}"
        if key in reports:
            surplus.append(item["metadata"]["name"])
        else:
            status = item.get("status") or {}
            found = (Condition.from_json(entry) for entry in status.get("conditions") or ())
            conditions = tuple(sorted(c for c in found if c is not None))
            reports[key] = Report(item["metadata"]["name"], kind.where(status), conditions)
    return reports, surplus


def changes(
    reports: Mapping[str, Report], wanted: Wanted, conditions: Mapping[str, Conditions] | None = None
) -> tuple[list[str], list[str]]:
    """``(service keys whose object goes, service keys whose object is created or patched)``.

    ``conditions`` are the wanted conditions by service key (none for a key not named).
    """
    wanted_conditions = conditions or {}
    gone = sorted(reports.keys() - wanted.keys())
    write = sorted(
        key
        for key, where in wanted.items()
        if key not in reports
        or reports[key].where != where
        or reports[key].conditions != wanted_conditions.get(key, ())
    )
    return gone, write


class ServiceStatusWriter:
    """Keeps this node's objects of ``kind`` equal to ``{service key: where it is announced}``."""

    def __init__(self, api: KubeApi, namespace: str, node: str, *, kind: StatusKind) -> None:
        self._api = api
        self._kind = kind
        self._resource = Resource(kind.metallb.api_path, kind.metallb.plural, namespace)
        self._namespace = namespace
        self._node = node
        self._objects = NodeObjects(api, self._resource, namespace, STATUS_NODE_LABEL, node)
        self._reports: dict[str, Report] = {}
        self._loaded = False
        self._latest: LatestWanted[tuple[Wanted, Mapping[str, Conditions]]] = LatestWanted(
            f"{kind.metallb.plural}-writer", self._converge, self._forget, kind.metallb.kind
        )

    def want(
        self,
        services: Mapping[str, Sequence[str]],
        conditions: Mapping[str, Sequence[Condition]] | None = None,
    ) -> None:
        """Ask for exactly these reports from this node: ``{service key: where}``, with ``conditions``."""
        wanted = {key: tuple(sorted(where)) for key, where in services.items()}
        notes = {key: tuple(sorted(found)) for key, found in (conditions or {}).items() if found}
        self._latest.want((wanted, notes))

    def start(self, stop: threading.Event) -> None:
        """Converge from a daemon thread until ``stop`` is set."""
        self._latest.start(stop)

    def delete_all(self) -> None:
        """Remove every report of this node (on a graceful stop); errors are only logged."""
        self._objects.delete_all(self._kind.metallb.kind)

    def _forget(self) -> None:
        self._loaded = False

    def _converge(self, state: tuple[Wanted, Mapping[str, Conditions]]) -> None:
        wanted, conditions = state
        if not self._loaded:
            self._reports, surplus = reported(self._objects.list(), self._kind)
            for name in surplus:
                self._objects.delete(name)
            self._loaded = True
        gone, write = changes(self._reports, wanted, conditions)
        for key in gone:
            self._objects.delete(self._reports.pop(key).name)
        for key in write:
            known = self._reports.get(key)
            name = known.name if known else self._create(key)
            noted = conditions.get(key, ())
            self._patch_status(name, key, wanted[key], noted, clear=bool(known and known.conditions))
            self._reports[key] = Report(name, wanted[key], noted)

    def _create(self, key: str) -> str:
        body = {
            "apiVersion": self._kind.metallb.api_version,
            "kind": self._kind.metallb.kind,
            "metadata": {
                "generateName": self._kind.generate_name,
                "namespace": self._namespace,
                "labels": status_labels(key, self._node),
            },
            "spec": {},
        }
        created = self._api.request("POST", self._resource.collection(), body=body)
        return str(created["metadata"]["name"])

    def _patch_status(
        self, name: str, key: str, where: tuple[str, ...], conditions: Conditions, clear: bool
    ) -> None:
        """Write the status; ``clear`` removes conditions the object has and ``conditions`` lacks."""
        status: dict[str, Any] = self._kind.status(key, self._node, where)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if conditions:
            status["conditions"] = [c.to_json(now) for c in conditions]
        elif clear:
            status["conditions"] = None  # a merge patch's null removes the field
        self._api.request(
            "PATCH",
            self._resource.item(self._namespace, name, "status"),
            body={"status": status},
            content_type=MERGE_PATCH,
        )
