"""IPAddressPool status counters: what MetalLB shows for a pool, written only when it changes."""

import pytest

from ansible_collections.baremetal.lb.daemons.controller.pool_status import (
    INT64_MAX,
    PoolStatusWriter,
    pool_status,
)
from ansible_collections.baremetal.lb.daemons.kube.config_loader import ConfigSources
from ansible_collections.baremetal.lb.daemons.kube.kubeapi import ApiError, Resource
from ansible_collections.baremetal.lb.plugins.module_utils.allocator import PoolUsage
from ansible_collections.baremetal.lb.plugins.module_utils.pool_state import FamilyUsage


@pytest.mark.parametrize(
    ("ipv4", "ipv6", "expected"),
    [
        ((0, 0), (0, 0), (0, 0, 0, 0)),
        ((16, 1), (0, 0), (1, 0, 15, 0)),
        ((254, 254), (4, 3), (254, 3, 0, 1)),
        ((0, 0), (2**64, 5), (0, 5, 0, INT64_MAX - 5)),  # a /64: uncountable, like MetalLB
        ((0, 0), (2**62, 0), (0, 0, 0, INT64_MAX)),  # a /66: MetalLB's threshold
        ((0, 0), (2**62 - 1, 1), (0, 1, 0, 2**62 - 2)),  # just below it: counted
        ((0, 0), (2**128, 0), (0, 0, 0, INT64_MAX)),  # never more than an int64
    ],
)
def test_counters(ipv4, ipv6, expected):
    usage = PoolUsage("p", FamilyUsage(*ipv4), FamilyUsage(*ipv6))
    status = pool_status(usage)
    assert (
        status["assignedIPv4"],
        status["assignedIPv6"],
        status["availableIPv4"],
        status["availableIPv6"],
    ) == expected


class FakePools:
    resource = Resource("/apis/metallb.io/v1beta1", "ipaddresspools", "metallb-system")

    def __init__(self, *names):
        self.objects = {f"metallb-system/{name}": {"metadata": {"name": name}} for name in names}

    def get(self, key):
        return self.objects.get(key)

    def store(self, obj):
        self.objects[f"metallb-system/{obj['metadata']['name']}"] = obj


class FakeApi:
    def __init__(self, pools, fail=None):
        self.pools = pools
        self.fail = fail
        self.writes = []

    def request(self, method, path, body=None, content_type=""):
        self.writes.append((method, path, body))
        if self.fail:
            raise self.fail
        name = path.split("/")[-2]
        return {**self.pools.objects[f"metallb-system/{name}"], "status": body["status"]}


def _usage(name, in_use, total=16):
    return {name: PoolUsage(name, FamilyUsage(total, in_use), FamilyUsage(0, 0))}


def test_a_burst_of_changes_costs_one_write_per_pool_and_the_status_subresource_is_patched():
    pools = FakePools("a", "b")
    api = FakeApi(pools)
    writer = PoolStatusWriter(api, pools)
    for in_use in range(1, 11):
        writer.publish({**_usage("a", in_use), **_usage("b", 10 - in_use)})
    assert writer.write_changed() == ["a", "b"]
    assert [path for _method, path, _body in api.writes] == [
        "/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools/a/status",
        "/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools/b/status",
    ]
    assert api.writes[0][2] == {
        "status": {"assignedIPv4": 10, "assignedIPv6": 0, "availableIPv4": 6, "availableIPv6": 0}
    }


def test_nothing_is_written_when_the_pool_already_shows_the_counters():
    pools = FakePools("a")
    api = FakeApi(pools)
    writer = PoolStatusWriter(api, pools)
    writer.publish(_usage("a", 3))
    assert writer.write_changed() == ["a"]
    writer.publish(_usage("a", 3))
    assert writer.write_changed() == []
    writer.publish(_usage("a", 2))
    assert writer.write_changed() == ["a"]
    assert len(api.writes) == 2


def test_a_pool_without_an_object_or_gone_is_skipped():
    pools = FakePools("a")
    api = FakeApi(pools, fail=ApiError(404, "Not Found"))
    writer = PoolStatusWriter(api, pools)
    writer.publish({**_usage("a", 1), **_usage("unknown", 1)})
    assert writer.write_changed() == []
    assert [path.split("/")[-2] for _method, path, _body in api.writes] == ["a"]


class ListingApi:
    def __init__(self):
        self.items = []

    def list_all(self, resource, transform=None):
        return [(transform or dict)(item) for item in self.items], "1"


def _pool_object(version, spec, status=None):
    return {
        "metadata": {"name": "p", "namespace": "metallb-system", "resourceVersion": version},
        "spec": spec,
        "status": status or {},
    }


def test_writing_a_pool_status_does_not_reload_the_configuration():
    api = ListingApi()
    reloads = []
    pools = ConfigSources(api, "metallb-system", lambda: reloads.append(1)).informer("IPAddressPool")
    api.items = [_pool_object("1", {"addresses": ["192.0.2.0/28"]})]
    pools.list_now()
    api.items = [_pool_object("2", {"addresses": ["192.0.2.0/28"]}, {"assignedIPv4": 1})]
    pools.list_now()
    assert len(reloads) == 1
    api.items = [_pool_object("3", {"addresses": ["192.0.2.0/27"]}, {"assignedIPv4": 1})]
    pools.list_now()
    assert len(reloads) == 2


class EditedMeanwhileApi:
    """Answers a status write with the pool as someone else edited it since the watch last said."""

    def __init__(self, edited):
        self.edited = edited

    def request(self, method, path, body=None, content_type=""):
        return {**self.edited, "status": body["status"]}


def test_a_status_answer_that_shows_someone_elses_edit_leaves_the_edit_to_the_watch():
    api = ListingApi()
    reloads = []
    pools = ConfigSources(api, "metallb-system", lambda: reloads.append(1)).informer("IPAddressPool")
    api.items = [_pool_object("1", {"addresses": ["192.0.2.0/28"]})]
    pools.list_now()
    edited = _pool_object("2", {"addresses": ["192.0.2.0/27"]})
    writer = PoolStatusWriter(EditedMeanwhileApi(edited), pools)
    writer.publish(_usage("p", 1))
    assert writer.write_changed() == ["p"]
    assert pools.get("metallb-system/p")["spec"] == {"addresses": ["192.0.2.0/28"]}, "the answer hid the edit"
    api.items = [{**edited, "metadata": {**edited["metadata"], "resourceVersion": "3"}}]
    pools.list_now()  # what the watch brings: the edit, with our status
    assert len(reloads) == 2, "the edit must reach the configuration"
