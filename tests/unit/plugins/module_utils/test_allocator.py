import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPFamily
from ansible_collections.baremetal.lb.plugins.module_utils.allocator import (
    AllocationError,
    Allocator,
    NoEligiblePoolError,
    PoolConfigError,
    PoolExhaustedError,
    RequestRefusedError,
    UnknownPoolError,
)
from ansible_collections.baremetal.lb.plugins.module_utils.label_selectors import parse_label_selector
from ansible_collections.baremetal.lb.plugins.module_utils.pools import AddressPool, ServiceAllocation
from ansible_collections.baremetal.lb.plugins.module_utils.services import FamilyPolicy, Service

V4, V6 = IPFamily.IPV4, IPFamily.IPV6
DUAL = (V4, V6)


def ip(text):
    return ipaddress.ip_address(text)


def svc(name, **fields):
    return Service("ns", name, **fields)


def pool(name, *addresses, **options):
    return AddressPool.from_strings(name, addresses, **options)


def ips_of(allocation):
    return [str(a) for a in allocation.ips]


# -- order of choice ----------------------------------------------------------------------------


def test_lowest_free_first_in_declared_order_and_reuse_after_release():
    allocator = Allocator([pool("a", "192.0.2.10-192.0.2.11", "192.0.2.1-192.0.2.2")])
    got = [ips_of(allocator.allocate(svc(f"s{i}"))) for i in range(4)]
    assert got == [["192.0.2.10"], ["192.0.2.11"], ["192.0.2.1"], ["192.0.2.2"]]
    assert allocator.release("ns/s1")
    assert not allocator.release("ns/s1")
    assert ips_of(allocator.allocate(svc("s9"))) == ["192.0.2.11"]


def test_avoid_buggy_ips_skips_dot0_and_dot255():
    allocator = Allocator([pool("a", "192.0.2.254-192.0.3.1", avoid_buggy_ips=True)])
    assert [ips_of(allocator.allocate(svc(f"s{i}"))) for i in range(2)] == [["192.0.2.254"], ["192.0.3.1"]]
    with pytest.raises(PoolExhaustedError, match="IPv4 2 of 2 in use"):
        allocator.allocate(svc("s3"))
    with pytest.raises(RequestRefusedError, match="avoidBuggyIPs"):
        allocator.assign(svc("s4"), [ip("192.0.2.255")])


def test_requested_ip_wins_and_must_be_in_a_pool():
    allocator = Allocator([pool("a", "192.0.2.0/28")])
    assert ips_of(allocator.allocate(svc("s", requested_ips=(ip("192.0.2.9"),)))) == ["192.0.2.9"]
    with pytest.raises(RequestRefusedError, match=r"198\.51\.100\.1 is in no pool"):
        allocator.allocate(svc("t", requested_ips=(ip("198.51.100.1"),)))
    with pytest.raises(RequestRefusedError, match="cannot be shared"):
        allocator.allocate(svc("u", requested_ips=(ip("192.0.2.9"),)))


@pytest.mark.parametrize(
    ("requested", "pool_asked", "says"),
    [
        (["198.51.100.1"], None, "198.51.100.1 is in no pool; "),
        (["198.51.100.1", "2001:db8:9::1"], None, "198.51.100.1, 2001:db8:9::1 are in no pool; "),
        (["192.0.2.9"], "b", '192.0.2.9 is in pool "a", not in "b" (address-pool annotation)'),
        (["192.0.2.9", "2001:db8::9"], "b", '192.0.2.9, 2001:db8::9 are in pool "a", not in "b"'),
        (["2001:db8::9"], None, "address 2001:db8::9 does not match the Service's IP families (IPv4)"),
    ],
)
def test_refusals_of_requested_ips_agree_in_number(requested, pool_asked, says):
    allocator = Allocator([pool("a", "192.0.2.0/28", "2001:db8::/124"), pool("b", "203.0.113.0/28")])
    families = (V4, V6)[: len(requested)]
    wanted = svc("s", requested_ips=tuple(map(ip, requested)), ip_families=families, pool=pool_asked)
    with pytest.raises(RequestRefusedError) as refused:
        allocator.allocate(wanted)
    assert says in str(refused.value)


def test_requested_ip_in_a_pool_that_does_not_serve_the_service_is_refused():
    only_a = ServiceAllocation(namespaces=frozenset({"a"}))
    allocator = Allocator([pool("p", "192.0.2.0/28", service_allocation=only_a)])
    with pytest.raises(RequestRefusedError, match="does not serve it"):
        allocator.allocate(svc("s", requested_ips=(ip("192.0.2.1"),)))
    assert ips_of(allocator.allocate(Service("a", "s", requested_ips=(ip("192.0.2.1"),)))) == ["192.0.2.1"]


def test_requested_ip_must_agree_with_pool_annotation():
    allocator = Allocator([pool("a", "192.0.2.0/28"), pool("b", "198.51.100.0/28")])
    with pytest.raises(RequestRefusedError, match='not in "b"'):
        allocator.allocate(svc("s", requested_ips=(ip("192.0.2.1"),), pool="b"))


def test_annotated_pool_ignores_auto_assign_but_not_service_allocation():
    manual = pool("manual", "192.0.2.0/28", auto_assign=False)
    fenced = pool(
        "fenced", "198.51.100.0/28", service_allocation=ServiceAllocation(namespaces=frozenset({"x"}))
    )
    allocator = Allocator([manual, fenced])
    assert allocator.allocate(svc("s", pool="manual")).pool == "manual"
    with pytest.raises(RequestRefusedError, match="does not serve it"):
        allocator.allocate(svc("t", pool="fenced"))
    with pytest.raises(UnknownPoolError, match="pools: fenced, manual"):
        allocator.allocate(svc("u", pool="nope"))


def test_pinned_pools_by_priority_then_general_pools():
    web = parse_label_selector({"matchLabels": {"app": "web"}})
    pools = [
        pool("general", "10.0.0.0/30"),
        pool(
            "low", "10.0.1.0/31", service_allocation=ServiceAllocation(priority=20, service_selectors=(web,))
        ),
        pool(
            "high", "10.0.2.0/32", service_allocation=ServiceAllocation(priority=10, service_selectors=(web,))
        ),
        pool("none", "10.0.3.0/32", service_allocation=ServiceAllocation(service_selectors=(web,))),
        pool("off", "10.0.4.0/32", auto_assign=False),
    ]
    allocator = Allocator(pools)
    picked = [allocator.allocate(svc(f"w{i}", labels={"app": "web"})).pool for i in range(5)]
    assert picked == ["high", "low", "low", "none", "general"]
    assert allocator.allocate(svc("db", labels={"app": "db"})).pool == "general"


def test_no_pool_at_all_says_what_to_do():
    allocator = Allocator(
        [pool("fenced", "10.0.0.0/30", service_allocation=ServiceAllocation(namespaces=frozenset({"x"})))]
    )
    with pytest.raises(NoEligiblePoolError, match="no pool serves it"):
        allocator.allocate(svc("s"))


def test_exhausted_message_counts_use():
    allocator = Allocator([pool("x", "2001:db8::/124")])
    for i in range(16):
        allocator.allocate(svc(f"s{i}", ip_families=(V6,)))
    with pytest.raises(PoolExhaustedError) as error:
        allocator.allocate(svc("late", ip_families=(V6,)))
    assert str(error.value) == (
        'pool "x" has no free IPv6 address (pool "x": IPv6 16 of 16 in use); '
        "add addresses to a pool, free some, or allow sharing"
    )


@pytest.mark.parametrize(
    ("pools", "requested_pool", "says"),
    [
        (["tiny"], "tiny", 'pool "tiny" has no free IPv4 address'),
        (["tiny"], None, 'pool "tiny" has no free IPv4 address'),
        (["a", "b"], None, 'pools have no free IPv4 address (pool "a": IPv4 1 of 1 in use; pool "b"'),
    ],
)
def test_exhausted_messages_read_as_sentences_and_do_not_name_the_service(pools, requested_pool, says):
    addresses = iter(["192.0.2.1/32", "192.0.2.2/32"])
    allocator = Allocator([pool(name, next(addresses)) for name in pools])
    for index in range(len(pools)):
        allocator.allocate(svc(f"s{index}", pool=requested_pool))
    with pytest.raises(PoolExhaustedError) as error:
        allocator.allocate(svc("late", pool=requested_pool))
    assert str(error.value).startswith(says)
    assert "late" not in str(error.value)


# -- dual stack ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "families", "expected"),
    [
        (FamilyPolicy.SINGLE_STACK, (V6,), ("v6only", ["2001:db8:1::"])),
        (FamilyPolicy.REQUIRE_DUAL_STACK, DUAL, ("dual", ["192.0.2.0", "2001:db8::"])),
        (FamilyPolicy.PREFER_DUAL_STACK, DUAL, ("dual", ["192.0.2.0", "2001:db8::"])),
        (FamilyPolicy.PREFER_DUAL_STACK, (V6, V4), ("dual", ["2001:db8::", "192.0.2.0"])),
    ],
)
def test_family_policies(policy, families, expected):
    allocator = Allocator(
        [pool("dual", "192.0.2.0/30", "2001:db8::/126"), pool("v6only", "2001:db8:1::/126")]
    )
    if families == (V6,):
        allocator = Allocator([pool("v6only", "2001:db8:1::/126"), pool("v4only", "192.0.2.0/30")])
    allocation = allocator.allocate(svc("s", ip_families=families, ip_family_policy=policy))
    assert (allocation.pool, ips_of(allocation)) == expected


def test_require_dual_stack_needs_one_pool_with_both():
    allocator = Allocator([pool("v4", "192.0.2.0/30"), pool("v6", "2001:db8::/126")])
    with pytest.raises(PoolExhaustedError, match="from one pool"):
        allocator.allocate(svc("s", ip_families=DUAL, ip_family_policy=FamilyPolicy.REQUIRE_DUAL_STACK))
    prefer = allocator.allocate(svc("t", ip_families=DUAL, ip_family_policy=FamilyPolicy.PREFER_DUAL_STACK))
    assert (prefer.pool, ips_of(prefer)) == ("v4", ["192.0.2.0"])


def test_prefer_dual_stack_gains_the_missing_family_later():
    allocator = Allocator([pool("p", "192.0.2.0/30")])
    service = svc("s", ip_families=DUAL, ip_family_policy=FamilyPolicy.PREFER_DUAL_STACK)
    assert ips_of(allocator.allocate(service)) == ["192.0.2.0"]
    allocator.set_pools([pool("p", "192.0.2.0/30", "2001:db8::/126")])
    assert ips_of(allocator.allocate(service)) == ["192.0.2.0", "2001:db8::"]


def test_requested_ips_must_match_families():
    allocator = Allocator([pool("p", "192.0.2.0/30", "2001:db8::/126")])
    with pytest.raises(RequestRefusedError, match=r"address 2001:db8::1 does not match the Service.s IP"):
        allocator.allocate(svc("s", requested_ips=(ip("2001:db8::1"),)))


# -- sharing ------------------------------------------------------------------------------------


def shared(name, key, *ports, policy="Cluster", selector=None):
    return svc(
        name,
        sharing_key=key,
        ports=frozenset(("TCP", p) for p in ports),
        external_traffic_policy=policy,
        selector=selector or {},
    )


@pytest.mark.parametrize(
    ("first", "second", "same_ip"),
    [
        (shared("a", "k", 80), shared("b", "k", 443), True),
        (shared("a", "k", 80), shared("b", "k", 80), False),
        (shared("a", "k", 80), shared("b", "other", 443), False),
        (shared("a", "", 80), shared("b", "", 443), False),
        (
            shared("a", "k", 80, policy="Local", selector={"x": "1"}),
            shared("b", "k", 443, policy="Local"),
            False,
        ),
        (
            shared("a", "k", 80, policy="Local", selector={"x": "1"}),
            shared("b", "k", 443, policy="Local", selector={"x": "1"}),
            True,
        ),
    ],
)
def test_sharing_rules(first, second, same_ip):
    allocator = Allocator([pool("p", "192.0.2.0/29")])
    a, b = allocator.allocate(first), allocator.allocate(second)
    assert (a.ips == b.ips) is same_ip


def test_shared_ip_freed_only_when_last_user_leaves():
    allocator = Allocator([pool("p", "192.0.2.0/32")])
    allocator.allocate(shared("a", "k", 80))
    allocator.allocate(shared("b", "k", 443))
    assert allocator.usage()["p"].ipv4.in_use == 1
    allocator.release("ns/a")
    with pytest.raises(PoolExhaustedError):
        allocator.allocate(svc("c"))
    allocator.release("ns/b")
    assert ips_of(allocator.allocate(svc("c"))) == ["192.0.2.0"]


def test_sole_user_may_change_its_sharing_key():
    allocator = Allocator([pool("p", "192.0.2.0/30")])
    first = allocator.allocate(shared("a", "k", 80))
    assert allocator.allocate(shared("a", "other", 80)) == first
    assert allocator.allocate(shared("b", "other", 443)) == first


# -- reserving what a Service still shows ------------------------------------------------------


FENCED = ServiceAllocation(namespaces=frozenset({"other"}))


@pytest.mark.parametrize(
    ("reserver", "pools", "held_by_another", "reserved"),
    [
        pytest.param(svc("was"), [pool("p", "192.0.2.0/30")], None, True, id="free-address"),
        pytest.param(
            svc("was", pool="elsewhere"), [pool("p", "192.0.2.0/30")], None, True, id="asks-another-pool"
        ),
        pytest.param(
            svc("was"),
            [pool("p", "192.0.2.0/30", service_allocation=FENCED)],
            None,
            True,
            id="pool-fenced-off",
        ),
        pytest.param(svc("was"), [pool("p", "198.51.100.0/30")], None, False, id="in-no-pool"),
        pytest.param(svc("was"), [pool("p", "192.0.2.0/30")], svc("other"), False, id="held-by-another"),
        pytest.param(
            shared("was", "k", 80),
            [pool("p", "192.0.2.0/30")],
            shared("other", "k", 443),
            True,
            id="shareable",
        ),
        pytest.param(
            svc("was", ip_families=(V6,)), [pool("p", "192.0.2.0/30")], None, False, id="other-family"
        ),
    ],
)
def test_reserve_holds_what_a_service_shows_whatever_it_asks_unless_pools_or_sharing_refuse(
    reserver, pools, held_by_another, reserved
):
    allocator = Allocator(pools)
    if held_by_another is not None:
        allocator.assign(held_by_another, [ip("192.0.2.0")])
    got = allocator.reserve(reserver, [ip("192.0.2.0")])
    assert (got is not None) is reserved
    if reserved:
        newcomer = Service("other", "newcomer")  # a namespace even the fenced pool serves
        assert ips_of(allocator.allocate(newcomer)) != ["192.0.2.0"]


# -- start-up re-claim and pool updates ---------------------------------------------------------


def test_reclaim_before_allocating_keeps_held_ips():
    allocator = Allocator([pool("p", "192.0.2.0/30")])
    allocator.assign(svc("old"), [ip("192.0.2.0")])
    assert ips_of(allocator.allocate(svc("new"))) == ["192.0.2.1"]
    assert ips_of(allocator.allocate(svc("old"))) == ["192.0.2.0"]
    assert allocator.allocation_of("ns/old").pool == "p"
    assert allocator.pool_of(ip("192.0.2.3")) == "p"
    assert allocator.pool_of(ip("192.0.2.4")) is None


def test_changing_request_moves_the_service():
    allocator = Allocator([pool("p", "192.0.2.0/30")])
    allocator.allocate(svc("s"))
    moved = allocator.allocate(svc("s", requested_ips=(ip("192.0.2.3"),)))
    assert ips_of(moved) == ["192.0.2.3"]
    assert allocator.usage()["p"].ipv4.in_use == 1


def test_pool_shrink_and_delete_report_lost_services():
    fenced = ServiceAllocation(namespaces=frozenset({"other"}))
    allocator = Allocator([pool("a", "192.0.2.0/30"), pool("b", "198.51.100.0/30")])
    allocator.allocate(svc("s0", pool="a"))
    allocator.allocate(svc("s1", pool="a"))
    allocator.allocate(svc("t", pool="b"))
    allocator.allocate(svc("u", pool="b"))
    lost = allocator.set_pools(
        [pool("a", "192.0.2.0/32"), pool("c", "198.51.100.0/31", service_allocation=fenced)]
    )
    assert [(item.service, [str(i) for i in item.ips], item.pool) for item in lost] == [
        ("ns/s1", ["192.0.2.1"], "a"),
        ("ns/t", ["198.51.100.0"], "b"),
        ("ns/u", ["198.51.100.1"], "b"),
    ]
    assert "in no pool" in lost[0].reason
    assert "does not serve it" in lost[1].reason
    assert allocator.allocation_of("ns/s0").pool == "a"
    assert allocator.allocation_of("ns/s1") is None


def test_moved_range_follows_new_pool_name():
    allocator = Allocator([pool("a", "192.0.2.0/30")])
    allocator.allocate(svc("s"))
    assert allocator.set_pools([pool("renamed", "192.0.2.0/29")]) == []
    assert allocator.allocation_of("ns/s").pool == "renamed"
    assert allocator.usage()["renamed"].ipv4.in_use == 1


@pytest.mark.parametrize(
    ("pools", "says"),
    [
        ([pool("a", "192.0.2.0/30"), pool("a", "198.51.100.0/30")], "used twice"),
        ([pool("a", "192.0.2.0/30"), pool("b", "192.0.2.2-192.0.2.9")], "192.0.2.2/31"),
    ],
)
def test_bad_pool_sets_are_rejected_whole(pools, says):
    allocator = Allocator([pool("keep", "10.0.0.0/30")])
    with pytest.raises(PoolConfigError, match=says):
        allocator.set_pools(pools)
    assert list(allocator.usage()) == ["keep"]


def test_usage_counts_each_family():
    allocator = Allocator([pool("p", "192.0.2.0/28", "2001:db8::/64", avoid_buggy_ips=True)])
    allocator.allocate(svc("s", ip_families=DUAL, ip_family_policy=FamilyPolicy.REQUIRE_DUAL_STACK))
    usage = allocator.usage()["p"]
    assert (usage.ipv4.total, usage.ipv4.in_use, usage.ipv4.available) == (15, 1, 14)
    assert (usage.ipv6.total, usage.ipv6.in_use) == (2**64, 1)


# -- properties against a naive model -----------------------------------------------------------

POOL_ENTRIES = ["10.0.0.250-10.0.1.3", "10.0.0.2-10.0.0.5"]
KEYS = ["", "", "k", "j"]


def model_candidate(addresses, users, service):
    for address in addresses:
        holders = users.get(address, [])
        if not holders:
            return address
        if service.sharing_key and all(
            h.sharing_key == service.sharing_key
            and h.backend_key == service.backend_key
            and not (h.ports & service.ports)
            for h in holders
        ):
            return address
    return None


@settings(max_examples=150, deadline=None)
@given(
    avoid=st.booleans(),
    steps=st.lists(
        st.tuples(
            st.booleans(), st.integers(0, 11), st.sampled_from(KEYS), st.sets(st.sampled_from([80, 443]))
        ),
        max_size=60,
    ),
)
def test_random_sequences_match_a_naive_model(avoid, steps):
    the_pool = pool("p", *POOL_ENTRIES, avoid_buggy_ips=avoid)
    addresses = [
        a
        for entry in the_pool.ranges
        for a in range(entry.first, entry.last + 1)
        if not (avoid and a % 256 in (0, 255))
    ]
    allocator = Allocator([the_pool])
    users: dict[int, list[Service]] = {}
    held: dict[str, int] = {}
    for allocating, number, key, ports in steps:
        service = svc(f"s{number}", sharing_key=key, ports=frozenset(("TCP", p) for p in ports))
        previous = held.pop(service.key, None)
        if previous is not None:
            users[previous] = [u for u in users[previous] if u.key != service.key]
            allocator.release(service)
        if not allocating:
            continue
        expected = model_candidate(addresses, users, service)
        try:
            got = int(allocator.allocate(service).ips[0])
        except AllocationError:
            got = None
        assert got == expected
        if got is not None:
            held[service.key] = got
            users.setdefault(got, []).append(service)
        # No address is ever held by two services that may not share it.
        for holders in users.values():
            for i, first in enumerate(holders):
                for second in holders[i + 1 :]:
                    assert first.sharing_key and first.sharing_key == second.sharing_key
                    assert not (first.ports & second.ports)
        in_use = sum(1 for holders in users.values() if holders)
        assert allocator.usage()["p"].ipv4.in_use == in_use
