"""Which node announces which IP: the layer-2 speaker's decisions, table by table.

Each case is a cluster (Nodes, Services, L2Advertisements) and the speakers alive; the
expectation is, for every IP, the one node announcing it and the interfaces it answers on
(an IP missing from the expectation is announced by nobody). Every node plans on its own
through the protocol seam (``layer2.handler.plan``) and decides with ``l2_plan.owned``,
exactly as the speakers do; the helper also checks no IP ever has two announcers.

The three nodes rank ``c, b, a`` for 192.0.2.70 and ``b, c, a`` for 2001:db8:1::1:5
(MetalLB's sha256(node#ip) order, checked by the first test).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Collection, Mapping

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.handler import Situation
from ansible_collections.baremetal.lb.daemons.speaker.layer2.handler import plan
from ansible_collections.baremetal.lb.plugins.module_utils.config_model import Config, L2Advertisement
from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import owned
from ansible_collections.baremetal.lb.plugins.module_utils.label_selectors import (
    LabelSelector,
    Operator,
    Requirement,
)
from ansible_collections.baremetal.lb.plugins.module_utils.ownership import (
    EXCLUDE_LB_LABEL,
    Endpoint,
    NodeFacts,
    ServiceFacts,
    rank,
)
from ansible_collections.baremetal.lb.plugins.module_utils.pools import AddressPool

V4 = ipaddress.ip_address("192.0.2.70")
V6 = ipaddress.ip_address("2001:db8:1::1:5")
OTHER_V4 = ipaddress.ip_address("192.0.2.71")
ALL = frozenset("abc")
POOL = AddressPool.from_strings("p", ["192.0.2.64/26", "2001:db8:1::1:0/112"])
SUITABLE = {4: ["eth0"], 6: ["eth0"]}
EVERYWHERE = L2Advertisement("l2", frozenset({"p"}))
SERVING = (Endpoint("a", True),)


def node(name: str, *, unavailable: bool = False, **labels: str) -> NodeFacts:
    return NodeFacts(labels={"kubernetes.io/hostname": name, **labels}, network_unavailable=unavailable)


NODES = {name: node(name) for name in sorted(ALL)}


def service(*ips, name="web", endpoints=SERVING, local=False, labels=None) -> ServiceFacts:
    return ServiceFacts(
        key=f"ns/{name}",
        ips=tuple(ips),
        local_traffic_policy=local,
        endpoints=tuple(endpoints),
        pool="p",
        labels=labels or {},
    )


def on(node_name: str, *interfaces: str) -> tuple[str, tuple[str, ...]]:
    return node_name, interfaces or ("eth0",)


def hostname(*names: str) -> LabelSelector:
    return LabelSelector(requirements=(Requirement("kubernetes.io/hostname", Operator.IN, frozenset(names)),))


def announcers(
    services: list[ServiceFacts],
    *,
    live: Collection[str] = ALL,
    nodes: Mapping[str, NodeFacts] = NODES,
    ads: tuple[L2Advertisement, ...] = (EVERYWHERE,),
    ignore_exclude_label: bool = False,
    drain_aware: bool = True,
) -> dict[str, tuple[str, tuple[str, ...]]]:
    """{ip: (node, interfaces)} over every node's own decision; fails on two announcers."""
    cluster = Situation(
        config=Config(pools=(POOL,), l2_advertisements=ads),
        nodes=nodes,
        services=services,
        me="",
        ignore_exclude_label=ignore_exclude_label,
        drain_aware=drain_aware,
    )
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    for me in nodes:
        claims = plan(dataclasses.replace(cluster, me=me), SUITABLE)
        for ip, mine in owned(claims, live, me).items():
            assert str(ip) not in found, f"{ip} announced by {found[str(ip)][0]} and {me}"
            found[str(ip)] = (me, tuple(sorted({i for claim in mine for i in claim.interfaces})))
    return found


def test_the_ranking_the_tables_assume():
    assert rank(ALL, str(V4)) == ["c", "b", "a"]
    assert rank(ALL, str(V6)) == ["b", "c", "a"]
    assert rank(ALL, str(OTHER_V4)) == ["b", "a", "c"]


NODE_LOSS = [
    ("every speaker alive: the first ranked", ALL, {"192.0.2.70": on("c")}),
    ("the first ranked is gone: the second", {"a", "b"}, {"192.0.2.70": on("b")}),
    ("only the last ranked is left", {"a"}, {"192.0.2.70": on("a")}),
    ("no speaker alive: nobody", set(), {}),
]


@pytest.mark.parametrize(("live", "expected"), [c[1:] for c in NODE_LOSS], ids=[c[0] for c in NODE_LOSS])
def test_node_loss(live, expected):
    assert announcers([service(V4)], live=live) == expected


NODE_STATE = [
    ("exclusion label on the first ranked", {"c": node("c", **{EXCLUDE_LB_LABEL: ""})}, False, on("b")),
    ("exclusion label, --ignore-exclude-lb", {"c": node("c", **{EXCLUDE_LB_LABEL: ""})}, True, on("c")),
    ("NetworkUnavailable on the first ranked", {"c": node("c", unavailable=True)}, False, on("b")),
    ("NetworkUnavailable, even with --ignore-exclude-lb", {"c": node("c", unavailable=True)}, True, on("b")),
    (
        "exclusion label everywhere",
        {n: node(n, **{EXCLUDE_LB_LABEL: "true"}) for n in ALL},
        False,
        None,
    ),
]


@pytest.mark.parametrize(
    ("changed", "ignore", "expected"), [c[1:] for c in NODE_STATE], ids=[c[0] for c in NODE_STATE]
)
def test_node_labels_and_conditions(changed, ignore, expected):
    result = announcers([service(V4)], nodes={**NODES, **changed}, ignore_exclude_label=ignore)
    assert result == ({"192.0.2.70": expected} if expected else {})


L2_ADVERTISEMENTS = [
    ("no advertisement for the pool: nobody", (L2Advertisement("l2", frozenset({"q"})),), ALL, {}),
    (
        "nodeSelectors keep the first ranked out",
        (L2Advertisement("l2", frozenset({"p"}), node_selectors=(hostname("a", "b"),)),),
        ALL,
        {"192.0.2.70": on("b")},
    ),
    (
        "the only selected node is gone: nobody",
        (L2Advertisement("l2", frozenset({"p"}), node_selectors=(hostname("a"),)),),
        {"b", "c"},
        {},
    ),
    (
        "named interfaces replace the suitable ones",
        (L2Advertisement("l2", frozenset({"p"}), interfaces=("eth1", "eth2")),),
        ALL,
        {"192.0.2.70": on("c", "eth1", "eth2")},
    ),
    (
        "advertisements add up: one for c on eth1, one for everyone on eth2",
        (
            L2Advertisement("c", frozenset({"p"}), node_selectors=(hostname("c"),), interfaces=("eth1",)),
            L2Advertisement("all", frozenset({"p"}), interfaces=("eth2",)),
        ),
        ALL,
        {"192.0.2.70": on("c", "eth1", "eth2")},
    ),
    (
        "an advertisement without interfaces means every suitable one",
        (
            L2Advertisement("named", frozenset({"p"}), interfaces=("eth1",)),
            L2Advertisement("any", frozenset({"p"})),
        ),
        ALL,
        {"192.0.2.70": on("c", "eth0")},
    ),
]


@pytest.mark.parametrize(
    ("ads", "live", "expected"), [c[1:] for c in L2_ADVERTISEMENTS], ids=[c[0] for c in L2_ADVERTISEMENTS]
)
def test_l2_advertisements(ads, live, expected):
    assert announcers([service(V4)], ads=ads, live=live) == expected


def _web_only(**selected_nodes) -> L2Advertisement:
    return L2Advertisement(
        "web-only",
        frozenset({"p"}),
        service_selectors=(LabelSelector(match_labels={"app": "web"}),),
        **selected_nodes,
    )


SERVICE_SELECTORS = [
    ("the Service matches", (_web_only(),), {"app": "web"}, {"192.0.2.70": on("c")}),
    ("the Service does not match: nobody", (_web_only(),), {"app": "db"}, {}),
    ("a Service without labels does not match", (_web_only(),), {}, {}),
    (
        "a matching advertisement adds to an unrestricted one",
        (_web_only(node_selectors=(hostname("a"),)), EVERYWHERE),
        {"app": "web"},
        {"192.0.2.70": on("c")},
    ),
    (
        "a Service the selective advertisement skips gets the unrestricted one",
        (_web_only(node_selectors=(hostname("a"),)), EVERYWHERE),
        {"app": "db"},
        {"192.0.2.70": on("c")},
    ),
    (
        "only the matching advertisement applies",
        (_web_only(node_selectors=(hostname("a"),)), L2Advertisement("db", frozenset({"q"}))),
        {"app": "web"},
        {"192.0.2.70": on("a")},
    ),
]


@pytest.mark.parametrize(
    ("ads", "labels", "expected"), [c[1:] for c in SERVICE_SELECTORS], ids=[c[0] for c in SERVICE_SELECTORS]
)
def test_service_selectors(ads, labels, expected):
    assert announcers([service(V4, labels=labels)], ads=ads) == expected


READY_A, READY_B, NOT_READY_B = Endpoint("a", True), Endpoint("b", True), Endpoint("b", False)
ENDPOINTS = [
    ("Cluster: any node, wherever the endpoint is", False, [READY_A], ALL, on("c")),
    ("Local: only the node with the endpoint", True, [READY_A], ALL, on("a")),
    ("Local: the first ranked of those with one", True, [READY_A, READY_B], ALL, on("b")),
    ("Local: a not-ready endpoint does not count", True, [READY_A, NOT_READY_B], ALL, on("a")),
    ("Local: a terminating endpoint still serving counts", True, [Endpoint("b", False, True)], ALL, on("b")),
    ("Local: readiness unknown counts as ready", True, [Endpoint("b")], ALL, on("b")),
    ("Local: the endpoint's node is gone: nobody", True, [READY_A], {"b", "c"}, None),
    ("Cluster: no endpoints: nobody", False, [], ALL, None),
    ("Local: no endpoints: nobody", True, [], ALL, None),
    ("Cluster: no endpoint can serve: nobody", False, [Endpoint("a", False, False)], ALL, None),
]


@pytest.mark.parametrize(
    ("local", "endpoints", "live", "expected"), [c[1:] for c in ENDPOINTS], ids=[c[0] for c in ENDPOINTS]
)
def test_endpoints_and_traffic_policy(local, endpoints, live, expected):
    result = announcers([service(V4, endpoints=endpoints, local=local)], live=live)
    assert result == ({"192.0.2.70": expected} if expected else {})


SERVICES = [
    (
        "dual-stack: both families from the node ranked first for the first IP",
        [service(V4, V6)],
        ALL,
        {"192.0.2.70": on("c"), "2001:db8:1::1:5": on("c")},
    ),
    (
        "dual-stack, IPv6 first: the IPv6 ranking decides both",
        [service(V6, V4)],
        ALL,
        {"192.0.2.70": on("b"), "2001:db8:1::1:5": on("b")},
    ),
    (
        "dual-stack after node loss: both move together",
        [service(V4, V6)],
        {"a", "b"},
        {"192.0.2.70": on("b"), "2001:db8:1::1:5": on("b")},
    ),
    (
        "single-stack IPv6",
        [service(V6)],
        ALL,
        {"2001:db8:1::1:5": on("b")},
    ),
    (
        "a shared IP: one announcer for both Services",
        [service(V4, name="web"), service(V4, name="dns")],
        ALL,
        {"192.0.2.70": on("c")},
    ),
    (
        "a shared IP, one Service has no endpoints: the other still announces it",
        [service(V4, name="web"), service(V4, name="dns", endpoints=())],
        ALL,
        {"192.0.2.70": on("c")},
    ),
    (
        "different IPs are ranked apart",
        [service(V4, name="web"), service(OTHER_V4, name="dns")],
        ALL,
        {"192.0.2.70": on("c"), "192.0.2.71": on("b")},
    ),
]


@pytest.mark.parametrize(
    ("services", "live", "expected"), [c[1:] for c in SERVICES], ids=[c[0] for c in SERVICES]
)
def test_families_and_shared_ips(services, live, expected):
    assert announcers(services, live=live) == expected


def draining(*names: str) -> dict[str, NodeFacts]:
    """The Nodes ``names`` cordoned (or tainted for removal), as cluster_facts reads them."""
    return {n: dataclasses.replace(NODES[n], draining=True) for n in names}


DRAINS = [
    ("the first ranked cordoned: the second", draining("c"), ALL, True, on("b")),
    ("cordoned, --no-drain-aware: MetalLB's rule keeps it", draining("c"), ALL, False, on("c")),
    ("the first two cordoned: the third", draining("c", "b"), ALL, True, on("a")),
    ("every node cordoned: the first ranked still announces", draining(*ALL), ALL, True, on("c")),
    ("cordoned and the only one alive: it keeps the IP", draining("c"), {"c"}, True, on("c")),
    ("the second cordoned, the first dead: the third", draining("b"), {"a", "b"}, True, on("a")),
]


@pytest.mark.parametrize(
    ("changed", "live", "aware", "expected"), [c[1:] for c in DRAINS], ids=[c[0] for c in DRAINS]
)
def test_drained_nodes_announce_last(changed, live, aware, expected):
    result = announcers([service(V4)], nodes={**NODES, **changed}, live=live, drain_aware=aware)
    assert result == {"192.0.2.70": expected}
