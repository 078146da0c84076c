"""The BGPSessionState writer: one object per configured peer, written on change only."""

from __future__ import annotations

import copy
import threading

import pytest

from ansible_collections.baremetal.lb.daemons.kube.kubeapi import MERGE_PATCH, ApiError
from ansible_collections.baremetal.lb.daemons.speaker.bgp.session_states import (
    Changes,
    SessionStateWriter,
    Written,
    adoptable,
    changes,
)
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import BGP_SESSION_STATE
from ansible_collections.baremetal.lb.plugins.module_utils.session_states import (
    SessionState,
    object_name,
    pod_owner,
    read_session,
    session_object,
)
from tests.daemons.speaker.conftest import until

NS = "metallb-system"
UP = SessionState("node1", "tor-a", "192.0.2.1", "Established", "Up")
DOWN = SessionState("node1", "tor-a", "192.0.2.1", "Active", "Down")
MOVED = SessionState("node1", "tor-a", "192.0.2.9", "Active", "N/A")
OTHER = SessionState("node1", "tor-b", "198.51.100.1", "Connect", "N/A")
OWNER = pod_owner("speaker-new", "uid-new")


def _written(state):
    body = session_object(state, NS)
    return Written(body["metadata"]["labels"], body["status"])


def _wanted(*states):
    return {object_name(s.node, s.bgppeer): session_object(s, NS) for s in states}


A, B = object_name("node1", "tor-a"), object_name("node1", "tor-b")


@pytest.mark.parametrize(
    ("written", "wanted", "expected"),
    [
        ({A: _written(UP)}, _wanted(UP), Changes([], [], [], [])),  # as written: nothing sent
        ({}, _wanted(UP), Changes([], [A], [], [])),
        ({A: _written(UP)}, _wanted(DOWN), Changes([], [], [], [A])),  # state changed: status only
        ({A: _written(UP)}, _wanted(MOVED), Changes([], [], [A], [A])),  # address: labels and status
        ({A: _written(UP), B: _written(OTHER)}, _wanted(UP), Changes([B], [], [], [])),  # unconfigured
    ],
)
def test_changes_touch_only_what_differs(written, wanted, expected):
    assert changes(written, wanted) == expected


def test_objects_of_another_pod_are_written_afresh_outside_a_pod_all_are_kept():
    old = session_object(UP, NS, pod_owner("speaker-old", "uid-old"))
    mine = session_object(OTHER, NS, OWNER)
    kept, stale = adoptable([old, mine], "uid-new")
    assert list(kept) == [B] and stale == [A]
    kept, stale = adoptable([old, mine], "")
    assert set(kept) == {A, B} and stale == []


class _Collection:
    """Just what the writer asks of the API server: the namespace's BGPSessionStates."""

    def __init__(self, objects=()):
        self.base = f"{BGP_SESSION_STATE.api_path}/namespaces/{NS}/{BGP_SESSION_STATE.plural}"
        self.objects = {obj["metadata"]["name"]: copy.deepcopy(obj) for obj in objects}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def request(self, method, path, query=None, *, body=None, content_type="application/json", timeout=30):
        with self._lock:
            self.requests.append((method, path))
            if path == self.base and method == "GET":
                key, value = query["labelSelector"].split("=")
                items = [o for o in self.objects.values() if o["metadata"]["labels"][key] == value]
                return {"items": copy.deepcopy(items)}
            if path == self.base and method == "POST":
                assert "status" not in body
                name = body["metadata"]["name"]
                if name in self.objects:
                    raise ApiError(409, "Conflict")
                self.objects[name] = copy.deepcopy(body)
                return copy.deepcopy(body)
            name, *sub = path[len(self.base) + 1 :].split("/")
            if name not in self.objects:
                raise ApiError(404, "Not Found")
            if method == "PATCH" and content_type == MERGE_PATCH and sub == ["status"]:
                self.objects[name]["status"] = copy.deepcopy(body["status"])
                return copy.deepcopy(self.objects[name])
            if method == "PATCH" and content_type == MERGE_PATCH and not sub:
                self.objects[name]["metadata"]["labels"] = copy.deepcopy(body["metadata"]["labels"])
                return copy.deepcopy(self.objects[name])
            if method == "DELETE" and not sub:
                del self.objects[name]
                return {}
            raise AssertionError(f"unexpected request {method} {path}")

    def sessions(self):
        return {read_session(o) for o in self.objects.values()}

    def writes(self):
        return [r for r in self.requests if r[0] != "GET"]


def test_writer_creates_updates_and_removes_and_writes_nothing_when_nothing_changed(stop):
    api = _Collection()
    writer = SessionStateWriter(api, NS, "node1", OWNER)
    writer.start(stop)

    writer.want({"tor-a": UP, "tor-b": OTHER})
    until("both sessions written", lambda: api.sessions() == {UP, OTHER})
    assert api.objects[A]["metadata"]["ownerReferences"] == [OWNER]

    before = len(api.writes())
    writer.want({"tor-a": UP, "tor-b": OTHER})  # e.g. a report whose counters alone changed
    writer.want({"tor-a": DOWN, "tor-b": OTHER})
    until("tor-a to go down", lambda: api.sessions() == {DOWN, OTHER})
    assert len(api.writes()) - before == 1  # one status patch: no create, nothing for tor-b

    writer.want({"tor-a": MOVED})  # tor-b no longer configured on this node; tor-a moved
    until("tor-b to go and tor-a to move", lambda: api.sessions() == {MOVED})
    assert api.objects[A]["metadata"]["labels"]["frrk8s.metallb.io/peer"] == "192.0.2.9"

    writer.delete_all()
    assert not api.objects


def test_writer_replaces_another_pod_s_objects_and_leaves_other_nodes_alone(stop):
    elsewhere = SessionState("node2", "tor-a", "192.0.2.1", "Established", "Up")
    api = _Collection(
        [
            session_object(UP, NS, pod_owner("speaker-old", "uid-old")),
            session_object(OTHER, NS, pod_owner("speaker-old", "uid-old")),
            session_object(elsewhere, NS, pod_owner("speaker-x", "uid-x")),
        ]
    )
    writer = SessionStateWriter(api, NS, "node1", OWNER)
    writer.start(stop)
    writer.want({"tor-a": UP})
    until(
        "tor-a owned by this Pod and tor-b gone",
        lambda: (
            api.objects.get(A, {}).get("metadata", {}).get("ownerReferences") == [OWNER]
            and B not in api.objects
        ),
    )
    assert api.sessions() == {UP, elsewhere}


def test_a_lost_object_is_written_again_after_the_error(stop):
    api = _Collection()
    writer = SessionStateWriter(api, NS, "node1", None)
    writer.start(stop)
    writer.want({"tor-a": UP})
    until("tor-a written", lambda: api.sessions() == {UP})
    del api.objects[A]  # someone deleted it
    writer.want({"tor-a": DOWN})  # the status patch fails (404): list again, create
    until("tor-a written again", lambda: api.sessions() == {DOWN}, timeout=10.0)
