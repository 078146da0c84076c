"""Which nodes announce what, as the lab's routers see it: IPv6 routes, withdrawals when a node is
excluded or a Service's endpoints vanish, and nodeSelectors on BGPPeers and BGPAdvertisements.

The real speakers run on the real nodes (tests/lab/speaker_harness.py) and peer with BIRD2, FRR
and GoBGP; every assertion reads the routers' RIBs (lab/rib.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.ownership import EXCLUDE_LB_LABEL
from tests.lab.bgp_harness import (
    COMMUNITY,
    LARGE,
    POOL,
    ROUTE_WAIT,
    assert_a_path_per_node,
    next_hops,
    node_ips,
)
from tests.lab.controller_harness import wait_for

POOL6 = "2001:db8:2::/124"  # from the lab's IPv6 BGP range (lab/topology.py BGP_POOL6)
DUAL_STACK = {"ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "RequireDualStack"}


def test_an_ipv6_route_reaches_every_router_over_the_ipv4_sessions_via_each_nodes_ipv6_address(
    lab, cluster, namespace, serve_web
):
    # The lab's routers accept IPv4 sessions only: IPv6 prefixes ride them, as MetalLB's
    # dualStackAddressFamily asks (MP-BGP, RFC 4760), with the node's global IPv6 next hop.
    serve_web(
        communities=(COMMUNITY, LARGE),
        pools=(POOL, POOL6),
        service=DUAL_STACK,
        dualStackAddressFamily=True,
    )
    ips = cluster.wait_ips(namespace, "web", count=2)
    (ip6,) = [ip for ip in ips if ":" in ip]
    assert ip6.startswith("2001:db8:2::"), ips
    assert_a_path_per_node(lab, ip6, {COMMUNITY}, {LARGE.removeprefix("large:")})
    assert set(next_hops(lab, ip6).values()) == {node_ips(lab, lab.nodes, 6)}


def test_an_excluded_node_withdraws_its_paths_and_announces_again_when_readmitted(lab, serve_web, label_node):
    ip, _peers = serve_web()
    excluded = lab.nodes[0]
    label_node(excluded, EXCLUDE_LB_LABEL)
    rest = node_ips(lab, lab.nodes[1:])
    wait_for(
        f"every router to drop the path via excluded {excluded}",
        lambda: all(hops == rest for hops in next_hops(lab, ip).values()),
        timeout=ROUTE_WAIT,
    )
    label_node(excluded, EXCLUDE_LB_LABEL, None)
    every = node_ips(lab, lab.nodes)
    wait_for(
        f"every router to hold the path via {excluded} again once readmitted",
        lambda: all(hops == every for hops in next_hops(lab, ip).values()),
        timeout=ROUTE_WAIT,
    )


def test_local_policy_withdraws_the_route_everywhere_when_the_endpoints_vanish(
    lab, cluster, namespace, serve_web
):
    ip, _peers = serve_web(replicas=len(lab.nodes), service={"externalTrafficPolicy": "Local"})
    cluster.api.request(
        "PATCH",
        f"/apis/apps/v1/namespaces/{namespace}/deployments/web",
        body={"spec": {"replicas": 0}},
        content_type="application/merge-patch+json",
    )
    wait_for(
        "every router to drop the route once web has no endpoint",
        lambda: not any(next_hops(lab, ip).values()),
        timeout=ROUTE_WAIT + 30,  # pods take their termination grace period to leave the endpoints
    )


def hostname_is(node: str) -> list[dict[str, Any]]:
    """A nodeSelectors list matching one node."""
    return [{"matchLabels": {"kubernetes.io/hostname": node}}]


@pytest.mark.parametrize("selected_by", ["BGPPeer", "BGPAdvertisement"])
def test_node_selectors_limit_the_announcing_nodes(lab, serve_web, selected_by):
    chosen = lab.nodes[1]
    if selected_by == "BGPPeer":
        ip, _peers = serve_web(nodeSelectors=hostname_is(chosen), announcing=[chosen])
    else:
        ip, _peers = serve_web(advertisement={"nodeSelectors": hostname_is(chosen)}, announcing=[chosen])
    assert set(next_hops(lab, ip).values()) == {node_ips(lab, [chosen])}
