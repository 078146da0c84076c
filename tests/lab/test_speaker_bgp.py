"""BGP on the lab's wire: speakers in the node namespaces peer with BIRD2, FRR and GoBGP.

Each lab router accepts every node as a dynamic neighbour (lab/routers.py); the test declares
one BGPPeer per router, a pool from the lab's BGP range and a BGPAdvertisement, and reads what
each router really holds (lab/rib.py): one path per announcing node, with the declared
communities. Speakers run as processes (tests/lab/speaker_harness.py), so a test restarts or
stops one at will. Each node's session to each peer is a BGPSessionState object
(frrk8s.metallb.io/v1beta1), which `kubectl get bgpsessionstates` prints and lb_info reports.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import (
    BGP_SESSION_STATE,
    STATUS_NODE_LABEL,
    STATUS_SERVICE_NAME_LABEL,
)
from ansible_collections.baremetal.lb.plugins.module_utils.session_states import (
    BGPPEER_LABEL,
    label_value,
    read_session,
)
from tests.lab import speaker_harness
from tests.lab.ansible_harness import run_tasks
from tests.lab.bgp_harness import (
    BFD_MS,
    BFD_MULTIPLIER,
    BFD_ROUTERS,
    BIRD_ONLY_POOL,
    COMMUNITY,
    GR_ROUTERS,
    LARGE,
    PEERS,
    ROUTE_WAIT,
    STATUSES,
    assert_a_path_per_node,
    hops_at,
    next_hops,
    node_ips,
    sessions_up,
)
from tests.lab.controller_harness import service_manifest, unique, wait_for
from tests.lab.speaker_harness import NAMESPACE

SESSION_STATES = f"{BGP_SESSION_STATE.api_path}/namespaces/{NAMESPACE}/{BGP_SESSION_STATE.plural}"
SESSION_WAIT = 45  # a session may take up to the fifth connect attempt (router error-wait meets our backoff)
CLOSED_PORT = 1790  # nothing listens there on the lab's routers: a session to it never comes up


@pytest.fixture()
def announced(serve_web: Callable[..., tuple[str, dict[str, str]]]) -> tuple[str, dict[str, str]]:
    """:func:`serve_web` with the test's communities."""
    return serve_web(communities=(COMMUNITY, LARGE))


def test_every_router_carries_the_ip_via_every_node_with_the_declared_communities(lab, announced):
    ip, _peers = announced
    assert_a_path_per_node(lab, ip, {COMMUNITY}, {LARGE.removeprefix("large:")})


def test_deleting_the_service_withdraws_it_from_every_router(lab, cluster, namespace, announced):
    ip, _peers = announced
    cluster.delete_service(namespace, "web")
    wait_for(
        "every router to drop the route",
        lambda: not any(next_hops(lab, ip).values()),
        timeout=ROUTE_WAIT,
    )


def test_local_policy_is_announced_only_by_nodes_with_a_serving_pod(lab, cluster, namespace, announced):
    ip, _peers = announced
    cluster.patch_service(namespace, "web", {"spec": {"externalTrafficPolicy": "Local"}})
    serving = speaker_harness.L2Config(cluster.api).ready_endpoint_nodes(namespace, "web")
    assert len(serving) == 1, serving
    wait_for(
        f"every router to keep only the path via {serving}",
        lambda: all(hops == node_ips(lab, serving) for hops in next_hops(lab, ip).values()),
        timeout=ROUTE_WAIT,
    )


def test_a_stopped_speaker_takes_its_paths_away_and_the_others_stay(lab, speakers, announced):
    ip, _peers = announced
    gone = lab.nodes[0]
    speakers[gone].stop()
    rest = node_ips(lab, lab.nodes[1:])
    wait_for(
        f"every router to drop the path via {gone}",
        lambda: all(hops == rest for hops in next_hops(lab, ip).values()),
        timeout=ROUTE_WAIT,
    )


def test_the_peers_filter_sends_the_route_to_the_named_peer_only(lab, cluster, bgp, namespace, announced):
    ip, peers = announced
    pool = cluster.create_pool(unique("bgp-bird-only"), [BIRD_ONLY_POOL])
    bgp.advertise(pool, peers=[peers["bird"]])
    cluster.create_service(
        namespace,
        service_manifest("web-bird", annotations={"metallb.io/address-pool": pool}, selector={"app": "web"}),
    )
    only_bird = cluster.wait_ips(namespace, "web-bird")[0]
    every = node_ips(lab, lab.nodes)
    wait_for(
        "BIRD to carry the route via every node",
        lambda: next_hops(lab, only_bird)["bird"] == every,
        timeout=ROUTE_WAIT,
    )
    assert next_hops(lab, only_bird) == {"bird": every, "frr": frozenset(), "gobgp": frozenset()}
    assert ip != only_bird


def test_status_objects_and_metrics_say_who_announces_to_whom(lab, cluster, speakers, namespace, announced):
    _ip, peers = announced
    items = cluster.api.request("GET", STATUSES, {"labelSelector": f"{STATUS_SERVICE_NAME_LABEL}=web"})[
        "items"
    ]
    by_node = {item["metadata"]["labels"][STATUS_NODE_LABEL]: item["status"] for item in items}
    assert set(by_node) == set(lab.nodes)
    for node, status in by_node.items():
        assert status["serviceNamespace"] == namespace, node
        assert sorted(status["peers"]) == sorted(peers.values()), node
    assert sessions_up(speakers[lab.nodes[0]], lab, tuple(lab.routers)), speakers[lab.nodes[0]].metrics()


def test_bfd_comes_up_and_a_pulled_cable_takes_the_nodes_paths_away_within_the_detection_time(
    lab, bgp, speakers, serve_web
):
    profile = bgp.bfd_profile(
        receiveInterval=BFD_MS, transmitInterval=BFD_MS, detectMultiplier=BFD_MULTIPLIER
    )
    ip, _peers = serve_web(bfd_profile=profile)
    every = node_ips(lab, lab.nodes)
    cut = lab.nodes[0]
    wait_for(
        f"BFD up from {cut} to BIRD and FRR", lambda: sessions_up(speakers[cut], lab, BFD_ROUTERS, "bfd")
    )
    rest = node_ips(lab, lab.nodes[1:])
    try:
        lab.set_cable(cut, plugged=False)
        started = time.monotonic()
        wait_for(
            f"BIRD and FRR to drop the path via {cut}",
            lambda: hops_at(lab, ip, BFD_ROUTERS) == [rest, rest],
            timeout=9,
        )
        took = time.monotonic() - started
    finally:
        lab.set_cable(cut, plugged=True)
    print(f"\npaths via {cut} gone from BIRD and FRR {took * 1000:.0f} ms after its cable was pulled")
    # BFD detects in 3 x 100 ms; without it the 9 s hold time would keep the paths.
    assert took < 1.5
    wait_for(
        f"the paths via {cut} to come back",
        lambda: hops_at(lab, ip, BFD_ROUTERS) == [every, every],
        timeout=30,
    )


def test_graceful_restart_keeps_the_routers_paths_through_a_speaker_restart(lab, speakers, serve_web):
    ip, _peers = serve_web(enableGracefulRestart=True)
    every = node_ips(lab, lab.nodes)
    restarted = lab.nodes[0]
    samples: list[list[frozenset[str]]] = []
    done = threading.Event()

    def watch() -> None:  # what BIRD and FRR hold, every 100 ms, until the restart is over
        while not done.is_set():
            samples.append(hops_at(lab, ip, GR_ROUTERS))
            done.wait(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        speakers[restarted].stop()
        assert speakers[restarted].wait() == 0
        speakers[restarted].start()
        wait_for(
            f"{restarted}'s new sessions with BIRD and FRR",
            lambda: sessions_up(speakers[restarted], lab, GR_ROUTERS),
        )
    finally:
        done.set()
        watcher.join(5)
    lost = [sample for sample in samples if sample != [every, every]]
    print(
        f"\n{len(samples)} samples of BIRD's and FRR's paths during {restarted}'s restart, {len(lost)} short"
    )
    assert len(samples) >= 5
    assert not lost, f"paths lost during the restart of {restarted}: {lost}"
    assert "stopping every BGP session (graceful restart)" in speakers[restarted].logs()


def states_of(cluster: Any, peer: str) -> dict[str, Any]:
    """The sessions to BGPPeer ``peer``, by node, as their BGPSessionState objects say."""
    selector = {"labelSelector": f"{BGPPEER_LABEL}={label_value(peer)}"}
    items = cluster.api.request("GET", SESSION_STATES, selector)
    return {session.node: session for session in map(read_session, items["items"]) if session}


def test_session_states_are_objects_kubectl_and_lb_info_show(
    lab, cluster, bgp, speakers, serve_web, namespace, kubectl, tmp_path
):
    _ip, peers = serve_web()
    for router, peer in peers.items():
        wait_for(
            f"every node's session to {router} Established in its BGPSessionState",
            lambda peer=peer: (
                {n: s.bgp for n, s in states_of(cluster, peer).items()}
                == dict.fromkeys(lab.nodes, "Established")
            ),
            timeout=SESSION_WAIT,
        )
        for node, session in states_of(cluster, peer).items():
            assert session.address == lab.routers[router]["ipv4"], node
            assert session.bfd == "N/A", node  # no BFD profile

    # kubectl: node, peer, BGP and BFD state in columns; selectable by frr-k8s's labels.
    node, router = lab.nodes[0], "frr"
    address = lab.routers[router]["ipv4"]
    table = kubectl(
        "get", "bgpsessionstates", "-n", NAMESPACE,
        "-l", f"frrk8s.metallb.io/node={node},frrk8s.metallb.io/peer={label_value(address)},"
        f"{BGPPEER_LABEL}={peers[router]}",
    ).stdout.splitlines()  # fmt: skip
    assert table[0].split() == ["NAME", "NODE", "PEER", "VRF", "BGP", "BFD"]
    assert [row.split()[1:] for row in table[1:]] == [[node, address, "Established", "N/A"]]

    # A peer nobody answers: its sessions stay down, and an address only it carries is warned.
    dead = bgp.peer("bird", peerPort=CLOSED_PORT)
    pool = cluster.create_pool(unique("bgp-dead"), [BIRD_ONLY_POOL])
    bgp.advertise(pool, peers=[dead])
    cluster.create_service(
        namespace,
        service_manifest("web-dead", annotations={"metallb.io/address-pool": pool}, selector={"app": "web"}),
    )
    unreachable = cluster.wait_ips(namespace, "web-dead")[0]
    wait_for(
        "a BGPSessionState, not Established, for every node's session to the dead peer",
        lambda: (
            set(states_of(cluster, dead)) == set(lab.nodes)
            and not any(s.established for s in states_of(cluster, dead).values())
        ),
        timeout=SESSION_WAIT,
    )

    (info,) = run_tasks(
        lab, tmp_path, [{"name": "lb_info", "baremetal.lb.lb_info": {"service_namespace": namespace}}]
    )
    reported = {(s["node"], s["peer"]): s for s in info["sessions"]}
    for router, peer in peers.items():
        for node in lab.nodes:
            assert reported[(node, peer)]["bgp"] == "Established", (node, router)
            assert reported[(node, peer)]["bfd"] == "N/A", (node, router)
    web = next(s for s in info["services"] if s["name"] == "web")
    # web's pool is advertised to every peer, the dead one too: its routes there wait on a session
    # that is down, but the routers' sessions carry it, so it is not warned about.
    on = {(r["node"], r["peer"]): r["session"] for r in web["announcements"][0]["bgp"]}
    assert on == {
        **{(node, peer): "Established" for node in lab.nodes for peer in peers.values()},
        **{(node, dead): reported[(node, dead)]["bgp"] for node in lab.nodes},
    }
    assert all(on[(node, dead)] != "Established" for node in lab.nodes)
    warned = [line for line in info["unestablished"] if f"{namespace}/web-dead" in line]
    assert len(warned) == 1 and unreachable in warned[0], info["unestablished"]
    assert not [line for line in info["unestablished"] if f"{namespace}/web:" in line]
    assert any(unreachable in w and "no Established session" in w for w in info.get("warnings", []))

    # A peer no longer configured loses its objects; a stopped speaker removes its own.
    bgp.api.request("DELETE", f"{PEERS}/{dead}")
    wait_for("the dead peer's objects to go", lambda: not states_of(cluster, dead), timeout=30)
    gone = lab.nodes[0]
    speakers[gone].stop()
    wait_for(
        f"{gone}'s objects to go when its speaker stops",
        lambda: all(gone not in states_of(cluster, peer) for peer in peers.values()),
        timeout=30,
    )
