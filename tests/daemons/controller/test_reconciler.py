"""The reconciler's decisions, with the Kubernetes side replaced by in-memory fakes."""

import pytest

from ansible_collections.baremetal.lb.daemons.controller.metrics import ControllerMetrics
from ansible_collections.baremetal.lb.daemons.controller.reconciler import CONFIG_KEY, Reconciler
from ansible_collections.baremetal.lb.daemons.controller.status_writer import Desired
from ansible_collections.baremetal.lb.plugins.module_utils.addresses import parse_address
from ansible_collections.baremetal.lb.plugins.module_utils.config_errors import (
    ConfigError,
    InvalidConfigError,
)
from ansible_collections.baremetal.lb.plugins.module_utils.config_model import (
    BGPAdvertisement,
    BGPPeer,
    Config,
    L2Advertisement,
)
from ansible_collections.baremetal.lb.plugins.module_utils.pools import AddressPool


class FakeInformer:
    def __init__(self, objects=()):
        self.objects = {self.key(obj): obj for obj in objects}

    @staticmethod
    def key(obj):
        meta = obj["metadata"]
        return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]

    def get(self, key):
        return self.objects.get(key)

    def items(self):
        return list(self.objects.values())


class FakeWriter:
    def __init__(self):
        self.desired = {}

    def desire(self, key, desired):
        self.desired[key] = desired

    def pending(self, key):
        return None

    def forget(self, key):
        self.desired.pop(key, None)


class FakeEvents:
    def __init__(self):
        self.recorded = []

    def record(self, obj, event_type, reason, message):
        self.recorded.append((obj["metadata"]["name"], reason, message))

    def reasons(self, name):
        return [reason for who, reason, _unused in self.recorded if who == name]


class FakePoolStatus:
    def __init__(self):
        self.published = []

    def publish(self, usage):
        self.published.append(usage)


class FakeConfig:
    def __init__(self, pools):
        self.pools = pools
        self.error = None
        self.advertised = True  # an L2Advertisement selects every pool
        self.bgp_peers = None  # a tuple of BGPPeers: a BGPAdvertisement selects every pool instead

    def load(self):
        if self.error:
            raise self.error
        names = frozenset(pool.name for pool in self.pools)
        if self.bgp_peers is not None:
            ads = (BGPAdvertisement("all-bgp", names),)
            return Config(pools=tuple(self.pools), bgp_advertisements=ads, bgp_peers=self.bgp_peers)
        ads = (L2Advertisement("all", names),) if self.advertised else ()
        return Config(pools=tuple(self.pools), l2_advertisements=ads)

    def culprits(self, error):
        return [{"metadata": {"name": e.name, "namespace": "metallb-system"}} for e in error.errors]


def _service(name, created, ips=(), **spec):
    return {
        "metadata": {"namespace": "ns", "name": name, "creationTimestamp": created, "annotations": {}},
        "spec": {"type": "LoadBalancer", "clusterIPs": ["198.51.100.10"], "ports": [{"port": 80}], **spec},
        "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}},
    }


class World:
    def __init__(self, services, pools, lb_class=""):
        self.services = FakeInformer(services)
        self.writer = FakeWriter()
        self.events = FakeEvents()
        self.config = FakeConfig(pools)
        self.queued = []
        self.pool_status = FakePoolStatus()
        self.reconciler = Reconciler(
            lb_class=lb_class,
            services=self.services,
            namespaces=FakeInformer([{"metadata": {"name": "ns"}}]),
            config=self.config,
            writer=self.writer,
            events=self.events,
            metrics=ControllerMetrics(),
            pool_status=self.pool_status,
            requeue=self.queued.extend,
        )

    def drain(self):
        while self.queued:
            self.reconciler.handle(self.queued.pop(0))

    def ips(self, name):
        return self.writer.desired[f"ns/{name}"].ips


@pytest.fixture()
def tiny_pool():
    return AddressPool.from_strings("tiny", ["192.0.2.64/31"])


def test_held_ips_are_reclaimed_before_new_services_are_served(tiny_pool):
    # The newer Service comes first in the queue, but the older one already holds .65.
    world = World(
        [_service("new", "2026-02-01T00:00:00Z"), _service("old", "2026-01-01T00:00:00Z", ["192.0.2.65"])],
        [tiny_pool],
    )
    world.reconciler.handle(CONFIG_KEY)
    world.drain()
    assert world.ips("old") == ("192.0.2.65",)
    assert world.ips("new") == ("192.0.2.64",)
    assert world.events.reasons("old") == []


def test_a_pending_service_is_retried_when_an_address_frees(tiny_pool):
    world = World(
        [_service(name, f"2026-01-0{i + 1}T00:00:00Z") for i, name in enumerate("abc")], [tiny_pool]
    )
    world.reconciler.handle(CONFIG_KEY)
    world.drain()
    assert world.ips("c") == ()
    assert world.events.reasons("c") == ["AllocationFailed"]
    freed = world.ips("a")
    del world.services.objects["ns/a"]
    world.reconciler.handle("ns/a")
    assert world.queued == ["ns/c"]  # only the pending Service, not every Service
    world.drain()
    assert world.ips("c") == freed
    assert world.events.reasons("c") == ["AllocationFailed", "IPAllocated"]


def test_other_classes_and_types_are_left_alone(tiny_pool):
    world = World([_service("theirs", "2026-01-01T00:00:00Z", loadBalancerClass="other")], [tiny_pool])
    world.reconciler.handle(CONFIG_KEY)
    world.drain()
    assert world.writer.desired == {}
    world.services.objects["ns/theirs"]["spec"] = {"type": "ClusterIP"}
    world.services.objects["ns/theirs"]["metadata"]["annotations"] = {
        "metallb.io/ip-allocated-from-pool": "tiny"
    }
    world.reconciler.handle("ns/theirs")
    assert world.writer.desired["ns/theirs"] == Desired((), "")


def test_invalid_config_keeps_the_last_good_one(tiny_pool):
    world = World([_service("a", "2026-01-01T00:00:00Z")], [tiny_pool])
    world.reconciler.handle(CONFIG_KEY)
    world.drain()
    world.config.error = InvalidConfigError([ConfigError("IPAddressPool", "bad", "spec", "broken", "fix it")])
    world.reconciler.handle(CONFIG_KEY)
    assert world.events.reasons("bad") == ["InvalidConfiguration"]
    world.services.objects["ns/b"] = _service("b", "2026-01-02T00:00:00Z")
    world.reconciler.handle("ns/b")
    assert world.ips("a") == ("192.0.2.64",) and world.ips("b") == ("192.0.2.65",)


def test_pool_removal_clears_and_reallocates(tiny_pool):
    world = World([_service("a", "2026-01-01T00:00:00Z", ["192.0.2.64"])], [tiny_pool])
    world.reconciler.handle(CONFIG_KEY)
    world.drain()
    world.config.pools = [AddressPool.from_strings("other", ["203.0.113.0/30"])]
    world.reconciler.handle(CONFIG_KEY)
    world.drain()
    assert world.ips("a") == ("203.0.113.0",)
    assert world.writer.desired["ns/a"].pool == "other"
    assert world.events.reasons("a") == ["ClearAssignment", "IPAllocated"]


def _messages(world, name, reason):
    return [message for who, why, message in world.events.recorded if who == name and why == reason]


def test_event_messages_read_as_metallb_controller_writes_them(tiny_pool):
    dual_pool = AddressPool.from_strings("dual", ["203.0.113.0/30", "2001:db8:2::/126"])
    dual = _service(
        "dual",
        "2026-01-01T00:00:00Z",
        clusterIPs=["198.51.100.11", "2001:db8:ffff::11"],
        ipFamilies=["IPv4", "IPv6"],
        ipFamilyPolicy="RequireDualStack",
    )
    world = World([dual], [dual_pool])
    world.reconciler.handle(CONFIG_KEY)
    world.drain()
    assert _messages(world, "dual", "IPAllocated") == ['Assigned IP ["203.0.113.0" "2001:db8:2::"]']

    world = World(
        [_service(name, f"2026-01-0{i + 1}T00:00:00Z") for i, name in enumerate("abc")], [tiny_pool]
    )
    world.reconciler.handle(CONFIG_KEY)
    world.drain()
    assert _messages(world, "a", "IPAllocated") == ['Assigned IP ["192.0.2.64"]']
    [failed] = _messages(world, "c", "AllocationFailed")
    assert failed.startswith('Failed to allocate IP for "ns/c": ')

    world = World([_service("a", "2026-01-01T00:00:00Z", ["192.0.2.64"])], [tiny_pool])
    world.reconciler.handle(CONFIG_KEY)
    world.config.pools = [AddressPool.from_strings("tiny", ["192.0.2.65/32"])]
    world.reconciler.handle(CONFIG_KEY)
    world.drain()
    [cleared] = _messages(world, "a", "ClearAssignment")
    assert cleared.startswith(
        'current IP for "ns/a" not allowed by config, will attempt for new IP assignment: '
    )


def test_pool_usage_is_published_for_the_pool_status(tiny_pool):
    world = World([_service("a", "2026-01-01T00:00:00Z")], [tiny_pool])
    world.reconciler.handle(CONFIG_KEY)
    world.drain()
    latest = world.pool_status.published[-1]["tiny"]
    assert (latest.ipv4.in_use, latest.ipv4.total) == (1, 2)
    del world.services.objects["ns/a"]
    world.reconciler.handle("ns/a")
    assert world.pool_status.published[-1]["tiny"].ipv4.in_use == 0


def test_an_address_nobody_announces_gets_one_warning_event_until_it_is_announced(tiny_pool):
    world = World([_service("a", "1")], [tiny_pool])
    world.config.advertised = False
    world.reconciler.handle(CONFIG_KEY)
    world.drain()
    world.reconciler.handle("ns/a")  # again: no second Event for the same reason
    assert world.ips("a") == ("192.0.2.64",)
    assert world.events.reasons("a") == ["IPAllocated", "NotAnnounced"]
    assert world.events.recorded[-1][2] == (
        "192.0.2.64 from pool 'tiny' is announced by no node: "
        "no L2Advertisement or BGPAdvertisement selects pool 'tiny'"
    )
    world.config.advertised = True
    world.reconciler.handle(CONFIG_KEY)
    world.drain()
    assert world.events.reasons("a") == ["IPAllocated", "NotAnnounced"]


def test_a_bgp_only_pool_is_unannounced_while_no_bgppeer_exists(tiny_pool):
    no_peer = (
        "192.0.2.64 from pool 'tiny' is announced by no node: pool 'tiny' is announced over BGP only "
        "(BGPAdvertisement 'all-bgp') and there is no BGPPeer"
    )
    world = World([_service("a", "1")], [tiny_pool])
    world.config.bgp_peers = ()
    world.reconciler.handle(CONFIG_KEY)
    world.drain()
    assert _messages(world, "a", "NotAnnounced") == [no_peer]
    tor = BGPPeer("tor", my_asn=64512, peer_asn=64513, address=parse_address("192.0.2.1"))
    world.config.bgp_peers = (tor,)
    world.reconciler.handle(CONFIG_KEY)
    world.drain()
    assert _messages(world, "a", "NotAnnounced") == [no_peer]  # announced now: no new Event
    world.config.bgp_peers = ()  # the peer is deleted again: said again
    world.reconciler.handle(CONFIG_KEY)
    world.drain()
    assert _messages(world, "a", "NotAnnounced") == [no_peer, no_peer]


def _status_written(world, name):
    """What the status writer does once the API server took the patch: the Service shows it."""
    shown = world.services.objects[f"ns/{name}"]
    shown["status"] = {"loadBalancer": {"ingress": [{"ip": ip} for ip in world.ips(name)]}}
    world.reconciler.handle(f"ns/{name}")


@pytest.mark.parametrize(
    "leave",
    [
        pytest.param({"type": "ClusterIP"}, id="no-longer-a-load-balancer"),
        pytest.param({"loadBalancerClass": "other"}, id="another-class"),
        pytest.param({"loadBalancerIP": "192.0.2.65"}, id="requests-another-address"),
    ],
)
def test_an_address_a_service_still_shows_goes_to_no_other_until_its_status_is_rewritten(leave):
    # A crash between handing .64 to "new" and clearing it from "old" would leave both showing it.
    pool = AddressPool.from_strings("pair", ["192.0.2.64/31"])
    world = World([_service("old", "2026-01-01T00:00:00Z", ["192.0.2.64"])], [pool])
    world.reconciler.handle(CONFIG_KEY)
    world.drain()
    world.services.objects["ns/old"]["spec"].update(leave)
    world.reconciler.handle("ns/old")
    world.services.objects["ns/new"] = _service("new", "2026-01-02T00:00:00Z")
    world.reconciler.handle("ns/new")
    assert "192.0.2.64" not in world.ips("new")
    _status_written(world, "old")
    world.drain()
    assert len(world.ips("new")) == 1  # .65, or .64 once "old" shows it no more


def test_a_waiting_service_gets_an_address_once_its_former_holder_shows_it_no_more():
    pool = AddressPool.from_strings("one", ["192.0.2.64/32"])
    world = World([_service("old", "2026-01-01T00:00:00Z", ["192.0.2.64"])], [pool])
    world.reconciler.handle(CONFIG_KEY)
    world.drain()
    world.services.objects["ns/old"]["spec"]["type"] = "ClusterIP"
    world.reconciler.handle("ns/old")
    world.services.objects["ns/new"] = _service("new", "2026-01-02T00:00:00Z")
    world.reconciler.handle("ns/new")
    assert world.ips("new") == ()
    _status_written(world, "old")
    world.drain()
    assert world.ips("new") == ("192.0.2.64",)


def test_a_wrong_failback_annotation_gets_one_warning_event_naming_the_fix(tiny_pool):
    service = _service("a", "1")
    service["metadata"]["annotations"]["baremetal.lb/failback"] = "never"
    world = World([service], [tiny_pool])
    world.reconciler.handle(CONFIG_KEY)
    world.drain()
    world.reconciler.handle("ns/a")  # again: no second Event for the same problem
    assert world.ips("a") == ("192.0.2.64",)  # the address is given all the same
    assert _messages(world, "a", "FailbackIgnored") == [
        "annotation baremetal.lb/failback: 'never' is not one of revertive, non-revertive, so its "
        "L2Advertisements' policy applies (revertive without one); set it to non-revertive or revertive"
    ]
    service["metadata"]["annotations"]["baremetal.lb/failback"] = "non-revertive"
    world.reconciler.handle("ns/a")
    assert world.events.reasons("a").count("FailbackIgnored") == 1
