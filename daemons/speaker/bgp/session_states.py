"""A node's BGPSessionState objects: one per BGPPeer it is configured to peer with.

:class:`SessionStateWriter` keeps them equal to the latest wanted ``{BGPPeer name:
SessionState}`` from a thread of its own (:class:`..latest_wanted.LatestWanted`): a burst of
state changes costs one write of the last one, and an unchanged state costs nothing, so the
engine's reports (which also carry counters) never turn into API writes by themselves. Objects
have fixed names (``session_states.object_name``), so a write needs no listing; the one
listing, at start and after an error, removes what this node no longer wants and what an older
speaker Pod owns (the garbage collector would remove those once that Pod is gone, under our
feet). :func:`changes` is the pure decision.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import BGP_SESSION_STATE
from ansible_collections.baremetal.lb.plugins.module_utils.session_states import (
    NODE_LABEL,
    SessionState,
    label_value,
    session_object,
)

from ...kube.kubeapi import JSON, MERGE_PATCH, ApiError, KubeApi, Resource
from ..latest_wanted import LatestWanted
from ..node_objects import NodeObjects

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Written:
    """What one object on the API server holds: its labels and its status."""

    labels: Mapping[str, str]
    status: Mapping[str, Any]


@dataclass(frozen=True)
class Changes:
    """The requests that bring the objects from what is written to what is wanted (names sorted)."""

    delete: list[str]
    create: list[str]  # then their status is written too
    relabel: list[str]  # the peer's address changed
    restatus: list[str]

    @property
    def none(self) -> bool:
        """Whether nothing is to be sent."""
        return not (self.delete or self.create or self.relabel or self.restatus)


def changes(written: Mapping[str, Written], wanted: Mapping[str, JSON]) -> Changes:
    """What to send so the objects ``written`` (by name) become the ``wanted`` bodies (by name)."""
    return Changes(
        delete=sorted(written.keys() - wanted.keys()),
        create=sorted(wanted.keys() - written.keys()),
        relabel=sorted(
            name
            for name, body in wanted.items()
            if name in written and dict(written[name].labels) != body["metadata"]["labels"]
        ),
        restatus=sorted(
            name
            for name, body in wanted.items()
            if name in written and dict(written[name].status) != body["status"]
        ),
    )


def adoptable(items: Sequence[JSON], owner_uid: str) -> tuple[dict[str, Written], list[str]]:
    """The listed objects this speaker keeps writing, by name, and the names of those to delete.

    Running in a Pod (``owner_uid`` set), an object another Pod owns is deleted and written
    afresh: when that Pod goes, the garbage collector would take the object with it.
    """
    kept: dict[str, Written] = {}
    stale: list[str] = []
    for item in items:
        meta = item.get("metadata") or {}
        owners = {ref.get("uid") for ref in meta.get("ownerReferences") or []}
        if owner_uid and owners != {owner_uid}:
            stale.append(str(meta["name"]))
        else:
            kept[str(meta["name"])] = Written(dict(meta.get("labels") or {}), dict(item.get("status") or {}))
    return kept, stale


class SessionStateWriter:
    """Keeps this node's BGPSessionState objects equal to ``{BGPPeer name: SessionState}``."""

    def __init__(self, api: KubeApi, namespace: str, node: str, owner: Mapping[str, Any] | None) -> None:
        self._api = api
        self._namespace = namespace
        self._node = node
        self._owner = owner
        self._resource = Resource(BGP_SESSION_STATE.api_path, BGP_SESSION_STATE.plural, namespace)
        self._objects = NodeObjects(api, self._resource, namespace, NODE_LABEL, label_value(node))
        self._written: dict[str, Written] | None = None  # None: list first
        self._latest: LatestWanted[dict[str, JSON]] = LatestWanted(
            "bgpsessionstates-writer", self._converge, self._forget, BGP_SESSION_STATE.kind
        )

    def want(self, states: Mapping[str, SessionState]) -> None:
        """Ask for exactly these objects from this node (``states`` by BGPPeer name)."""
        bodies = {}
        for state in states.values():
            body = session_object(state, self._namespace, self._owner)
            bodies[body["metadata"]["name"]] = body
        self._latest.want(bodies)

    def start(self, stop: threading.Event) -> None:
        """Converge from a daemon thread until ``stop`` is set."""
        self._latest.start(stop)

    def delete_all(self) -> None:
        """Remove every object of this node (on a graceful stop); errors are only logged."""
        self._objects.delete_all(BGP_SESSION_STATE.kind)

    def _forget(self) -> None:
        self._written = None

    def _converge(self, wanted: Mapping[str, JSON]) -> None:
        if self._written is None:
            written, stale = adoptable(self._objects.list(), str((self._owner or {}).get("uid") or ""))
            for name in stale:
                self._objects.delete(name)
            self._written = written
        todo = changes(self._written, wanted)
        for name in todo.delete:
            self._objects.delete(name)
            del self._written[name]
        for name in todo.create:
            self._create(wanted[name])
        for name in todo.relabel:
            labels = wanted[name]["metadata"]["labels"]
            self._patch(self._resource.item(self._namespace, name), {"metadata": {"labels": labels}})
        for name in (*todo.create, *todo.restatus):
            status = {"status": wanted[name]["status"]}
            self._patch(self._resource.item(self._namespace, name, "status"), status)
        for name in (*todo.create, *todo.relabel, *todo.restatus):
            body = wanted[name]
            self._written[name] = Written(body["metadata"]["labels"], body["status"])

    def _create(self, body: JSON) -> None:
        without_status = {key: value for key, value in body.items() if key != "status"}
        try:
            self._api.request("POST", self._resource.collection(), body=without_status)
        except ApiError as error:
            if not error.conflict:  # already there (an older listing): its status is written next
                raise

    def _patch(self, path: str, body: JSON) -> None:
        self._api.request("PATCH", path, body=body, content_type=MERGE_PATCH)
