"""Per-peer BGP session state on the lab: BGPSessionState objects, `kubectl get`, and lb_info.

Speakers in the node namespaces peer with the lab's BIRD2, FRR and GoBGP (as in
test_speaker_bgp.py); each node's session to each peer is one BGPSessionState object
(frrk8s.metallb.io/v1beta1), which `kubectl get bgpsessionstates` prints and lb_info reports.
A peer on a port nobody listens on never gets Established, and lb_info warns about the address
only it carries.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import BGP_SESSION_STATE
from ansible_collections.baremetal.lb.plugins.module_utils.session_states import (
    BGPPEER_LABEL,
    label_value,
    read_session,
)
from lab import topology
from tests.lab import controller_harness, speaker_harness, test_speaker_bgp
from tests.lab.ansible_harness import run_tasks
from tests.lab.controller_harness import service_manifest, unique, wait_for
from tests.lab.speaker_harness import NAMESPACE

cluster = controller_harness.cluster
controller_config = controller_harness.controller_config
start_controller = controller_harness.start_controller
speaker_config = speaker_harness.speaker_config
speakers = speaker_harness.speakers
l2 = speaker_harness.l2
bgp = test_speaker_bgp.bgp
serve_web = test_speaker_bgp.serve_web

STATES = f"{BGP_SESSION_STATE.api_path}/namespaces/{NAMESPACE}/{BGP_SESSION_STATE.plural}"
SESSION_WAIT = 45  # a session may take up to the fifth connect attempt (see test_speaker_bgp)
CLOSED_PORT = 1790  # nothing listens there on the lab's routers: the session never comes up


def states_of(cluster: Any, peer: str) -> dict[str, Any]:
    """The sessions to BGPPeer ``peer``, by node, as their BGPSessionState objects say."""
    items = cluster.api.request("GET", STATES, {"labelSelector": f"{BGPPEER_LABEL}={label_value(peer)}"})
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
    bird = lab.routers["bird"]
    dead = bgp.peer(
        "bgp-dead",
        myASN=topology.NODE_ASN,
        peerASN=bird["asn"],
        peerAddress=bird["ipv4"],
        peerPort=CLOSED_PORT,
        connectTime="1s",
    )
    pool = cluster.create_pool(unique("bgp-dead"), [test_speaker_bgp.BIRD_ONLY_POOL])
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
    assert {r["session"] for r in web["announcements"][0]["bgp"]} == {"Established"}
    warned = [line for line in info["unestablished"] if f"{namespace}/web-dead" in line]
    assert len(warned) == 1 and unreachable in warned[0], info["unestablished"]
    assert not [line for line in info["unestablished"] if f"{namespace}/web:" in line]
    assert any(unreachable in w and "no Established session" in w for w in info.get("warnings", []))

    # A peer no longer configured loses its objects; a stopped speaker removes its own.
    bgp.api.request("DELETE", f"{test_speaker_bgp.PEERS}/{dead}")
    wait_for("the dead peer's objects to go", lambda: not states_of(cluster, dead), timeout=30)
    gone = lab.nodes[0]
    speakers[gone].stop()
    wait_for(
        f"{gone}'s objects to go when its speaker stops",
        lambda: all(gone not in states_of(cluster, peer) for peer in peers.values()),
        timeout=30,
    )
