import re
import threading

from ansible_collections.baremetal.lb.daemons.kube.informer import Informer
from ansible_collections.baremetal.lb.daemons.kube.kubeapi import ApiError, Resource, WatchSilentError


def _obj(name, version):
    return {"metadata": {"namespace": "ns", "name": name, "resourceVersion": str(version)}}


class FakeApi:
    """Lists return ``lists`` in turn; the first watch expires (410), the second delivers events."""

    def __init__(self, lists, events, stop):
        self.lists, self.events, self.stop = list(lists), events, stop
        self.watches = 0

    def list_all(self, resource, transform=None):
        items = [(transform or dict)(item) for item in self.lists.pop(0)]
        return items, str(max((int(i["metadata"]["resourceVersion"]) for i in items), default=1))

    def watch(self, resource, version):
        self.watches += 1
        if self.watches == 1:
            raise ApiError(410, "Gone", "too old resource version")
        yield from self.events
        self.stop.set()


def test_relist_after_410_reports_the_difference_then_watch_resumes():
    stop = threading.Event()
    seen = []
    api = FakeApi(
        lists=[[_obj("a", 1), _obj("b", 2)], [_obj("b", 5), _obj("c", 6)]],
        events=[
            {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "7"}}},
            {"type": "DELETED", "object": _obj("c", 8)},
        ],
        stop=stop,
    )
    informer = Informer(api, Resource("/api/v1", "services"), lambda key, old, new: seen.append((key, new)))
    informer.list_now()
    assert [key for key, _unused in seen] == ["ns/a", "ns/b"]
    seen.clear()
    informer.run(stop)
    assert seen == [("ns/b", _obj("b", 5)), ("ns/c", _obj("c", 6)), ("ns/a", None), ("ns/c", None)]
    assert [item["metadata"]["name"] for item in informer.items()] == ["b"]


def test_store_never_replaces_a_newer_object():
    informer = Informer(None, Resource("/api/v1", "services"), lambda *args: None)
    informer.store(_obj("a", 5))
    informer.store(_obj("a", 3))
    assert informer.get("ns/a")["metadata"]["resourceVersion"] == "5"


class FlakyApi:
    """Watches fail in the given ways, in turn; then one delivers ``events`` and the test stops."""

    def __init__(self, failures, events, stop):
        self.failures, self.events, self.stop = list(failures), events, stop
        self.versions, self.lists = [], 0

    def list_all(self, resource, transform=None):
        self.lists += 1
        return [], "1"

    def watch(self, resource, version):
        self.versions.append(version)
        if self.failures:
            raise self.failures.pop(0)
        yield from self.events
        self.stop.set()


def test_a_broken_or_silent_watch_resumes_from_its_version_with_a_logged_backoff(caplog):
    stop = threading.Event()
    api = FlakyApi(
        failures=[ConnectionResetError("reset by peer"), WatchSilentError("no event or bookmark for 90s")],
        events=[{"type": "ADDED", "object": _obj("a", 9)}],
        stop=stop,
    )
    informer = Informer(api, Resource("/api/v1", "services"), lambda *args: None)
    informer.list_now()
    caplog.set_level("INFO")
    informer.run(stop)
    assert api.versions == ["1", "1", "1"], "a resumed watch must start where the last one ended"
    assert api.lists == 1, "neither a broken nor a silent watch calls for a new list"
    messages = [record.getMessage() for record in caplog.records]
    assert any(
        re.search(r"watch of services broke: .*; retrying in 0\.\d+s \(attempt 1\)", m) for m in messages
    )
    assert any("watch of services went silent" in m for m in messages), messages
    assert informer.get("ns/a") is not None
