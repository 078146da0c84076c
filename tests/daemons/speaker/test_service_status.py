"""The status writer: one object per (Service, node), of the kind it is given, kept as last wanted."""

from __future__ import annotations

import copy
import threading

import pytest

from ansible_collections.baremetal.lb.daemons.kube.kubeapi import MERGE_PATCH, ApiError
from ansible_collections.baremetal.lb.daemons.speaker.service_status import (
    Condition,
    Report,
    ServiceStatusWriter,
    changes,
    reported,
)
from ansible_collections.baremetal.lb.plugins.module_utils.status_objects import (
    BGP_STATUS_KIND,
    L2_STATUS_KIND,
    conflict,
    status_labels,
)
from tests.daemons.speaker.conftest import until

NS = "metallb-system"


def _item(name, service, node, kind=BGP_STATUS_KIND, where=None):
    obj = {"metadata": {"name": name, "labels": status_labels(service, node)}}
    if where is not None:
        obj["status"] = kind.status(service, node, where)
    return obj


# -- the pure decisions -------------------------------------------------------------------------


def test_reported_keeps_the_first_object_of_a_service_and_names_the_surplus():
    items = [
        _item("bgp-a", "shop/web", "node1", where=["tor-b", "tor-a"]),
        _item("bgp-b", "shop/web", "node1", where=["tor-a"]),
        _item("bgp-c", "shop/api", "node1"),  # created, never patched (a crash in between)
    ]
    reports, surplus = reported(items, BGP_STATUS_KIND)
    assert reports == {"shop/web": Report("bgp-a", ("tor-a", "tor-b")), "shop/api": Report("bgp-c", ())}
    assert surplus == ["bgp-b"]


def test_reported_reads_the_kind_s_own_list():
    items = [_item("l2-a", "shop/web", "node1", L2_STATUS_KIND, ["eth0"])]
    assert reported(items, L2_STATUS_KIND)[0] == {"shop/web": Report("l2-a", ("eth0",))}


REPORTS = {"shop/web": Report("bgp-a", ("tor-a",)), "shop/api": Report("bgp-b", ("tor-a",))}


@pytest.mark.parametrize(
    ("wanted", "gone", "write"),
    [
        ({"shop/web": ("tor-a",), "shop/api": ("tor-a",)}, [], []),  # as reported: no request
        ({"shop/web": ("tor-a",)}, ["shop/api"], []),
        ({}, ["shop/api", "shop/web"], []),
        ({"shop/web": ("tor-a", "tor-b"), "shop/api": ("tor-a",)}, [], ["shop/web"]),  # patched
        ({"shop/web": ("tor-a",), "shop/api": ("tor-a",), "shop/db": ()}, [], ["shop/db"]),  # created
        ({"shop/db": ("tor-a",)}, ["shop/api", "shop/web"], ["shop/db"]),
    ],
)
def test_changes_touch_only_what_differs(wanted, gone, write):
    assert changes(REPORTS, wanted) == (gone, write)


# -- the writer against an in-memory collection -------------------------------------------------


class _Collection:
    """Just what the writer asks of the API server: one namespaced collection of one kind."""

    def __init__(self, kind, objects=()):
        self.kind = kind
        self.base = f"{kind.metallb.api_path}/namespaces/{NS}/{kind.metallb.plural}"
        self.objects = {obj["metadata"]["name"]: copy.deepcopy(obj) for obj in objects}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._count = 0

    def request(self, method, path, query=None, *, body=None, content_type="application/json", timeout=30):
        with self._lock:
            self.requests.append((method, path))
            if path == self.base and method == "GET":
                key, value = query["labelSelector"].split("=")
                return {
                    "items": [
                        copy.deepcopy(o)
                        for o in self.objects.values()
                        if o["metadata"]["labels"][key] == value
                    ]
                }
            if path == self.base and method == "POST":
                self._count += 1
                obj = copy.deepcopy(body)
                obj["metadata"]["name"] = f"{body['metadata'].pop('generateName')}{self._count}"
                obj.pop("status", None)  # dropped on create, as the status subresource does
                self.objects[obj["metadata"]["name"]] = obj
                return copy.deepcopy(obj)
            name, *sub = path[len(self.base) + 1 :].split("/")
            if name not in self.objects:
                raise ApiError(404, "Not Found")
            if method == "PATCH" and sub == ["status"] and content_type == MERGE_PATCH:
                self.objects[name]["status"] = copy.deepcopy(body["status"])  # lists are replaced
                return copy.deepcopy(self.objects[name])
            if method == "DELETE" and not sub:
                del self.objects[name]
                return {}
            raise AssertionError(f"unexpected request {method} {path}")

    def by_service(self, node):
        """This node's objects by service key, read from their labels."""
        by_service = {}
        for obj in self.objects.values():
            labels = obj["metadata"]["labels"]
            if labels["metallb.io/node"] == node:
                key = f"{labels['metallb.io/service-namespace']}/{labels['metallb.io/service-name']}"
                by_service[key] = obj
        return by_service


@pytest.mark.parametrize("kind", [L2_STATUS_KIND, BGP_STATUS_KIND], ids=lambda k: k.metallb.kind)
def test_writer_creates_patches_and_deletes_this_node_s_objects(kind, stop):
    api = _Collection(kind)
    writer = ServiceStatusWriter(api, NS, "node1", kind=kind)
    writer.start(stop)

    writer.want({"shop/web": ["b", "a"]})
    until("a status for shop/web", lambda: "status" in api.by_service("node1").get("shop/web", {}))
    (obj,) = api.objects.values()
    assert obj["apiVersion"] == kind.metallb.api_version and obj["kind"] == kind.metallb.kind
    assert obj["metadata"]["name"].startswith(kind.generate_name)
    assert obj["metadata"]["labels"] == status_labels("shop/web", "node1")
    assert obj["status"] == kind.status("shop/web", "node1", ["a", "b"])

    writer.want({"shop/web": ["a"]})
    until("the status to shrink", lambda: kind.where(api.by_service("node1")["shop/web"]["status"]) == ("a",))
    assert list(api.objects) == [obj["metadata"]["name"]]  # patched in place, not recreated

    writer.want({})
    until("the object to go", lambda: not api.objects)


def test_writer_adopts_what_is_there_deletes_duplicates_and_leaves_other_nodes_alone(stop):
    api = _Collection(
        BGP_STATUS_KIND,
        [
            _item("bgp-old", "shop/web", "node1", where=["tor-a"]),
            _item("bgp-dup", "shop/web", "node1", where=["tor-a"]),
            _item("bgp-gone", "shop/api", "node1", where=["tor-a"]),
            _item("bgp-other", "shop/web", "node2", where=["tor-a"]),
        ],
    )
    writer = ServiceStatusWriter(api, NS, "node1", kind=BGP_STATUS_KIND)
    writer.start(stop)
    writer.want({"shop/web": ["tor-a"]})
    until("the duplicate and the stale object to go", lambda: set(api.objects) == {"bgp-old", "bgp-other"})
    assert not [r for r in api.requests if r[0] in ("POST", "PATCH")]  # already as wanted

    writer.delete_all()
    assert set(api.objects) == {"bgp-other"}


def test_a_condition_is_written_read_back_as_unchanged_and_removed_when_no_longer_wanted(stop):
    api = _Collection(L2_STATUS_KIND)
    writer = ServiceStatusWriter(api, NS, "node1", kind=L2_STATUS_KIND)
    writer.start(stop)
    noted = Condition("AddressConflict", "True", "ForeignMACAnswers", "another host answers")
    writer.want({"shop/web": ["eth0"]}, {"shop/web": [noted]})
    until(
        "the condition",
        lambda: api.by_service("node1").get("shop/web", {}).get("status", {}).get("conditions"),
    )
    (entry,) = api.by_service("node1")["shop/web"]["status"]["conditions"]
    assert Condition.from_json(entry) == noted and entry["lastTransitionTime"].endswith("Z")
    assert conflict(api.by_service("node1")["shop/web"]["status"]) == "another host answers"
    reports, _unused = reported(list(api.objects.values()), L2_STATUS_KIND)
    assert changes(reports, {"shop/web": ("eth0",)}, {"shop/web": (noted,)}) == ([], [])

    writer.want({"shop/web": ["eth0"]})
    until(
        "the condition to go", lambda: api.by_service("node1")["shop/web"]["status"].get("conditions") is None
    )
    assert conflict(api.by_service("node1")["shop/web"]["status"]) is None
