import threading

from ansible_collections.baremetal.lb.daemons.kube.informer import Informer
from ansible_collections.baremetal.lb.daemons.kube.kubeapi import ApiError, Resource


def _obj(name, version):
    return {"metadata": {"namespace": "ns", "name": name, "resourceVersion": str(version)}}


class FakeApi:
    """Lists return ``lists`` in turn; the first watch expires (410), the second delivers events."""

    def __init__(self, lists, events, stop):
        self.lists, self.events, self.stop = list(lists), events, stop
        self.watches = 0

    def list_all(self, resource):
        items = self.lists.pop(0)
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
