"""How the real speakers on the lab's nodes set their sessions up: TCP MD5 keys from a Secret
(against BIRD2, FRR and GoBGP), Secrets of other namespaces refused, and dynamicASN.

The lab's own routers accept every node without a key; the MD5 tests start a keyed router of
each kind on an extra host of the lab LAN (192.0.2.210), accepting node1 only, and remove host
and router afterwards, also when the test fails.
"""

from __future__ import annotations

import base64
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import BGP_PEER
from lab import netns, network, routers, topology
from tests.lab.bgp_harness import PEERS
from tests.lab.controller_harness import metallb_manifest, unique, wait_for
from tests.lab.speaker_harness import NAMESPACE

EXTRA_HOST = 210  # the extra router's host number on both LAN prefixes
# One MAC for every extra router: the nodes' neighbour caches keep pointing at the right host
# when the next test brings a router of another kind up at the same address (with a new MAC a
# node would send to the old one for up to a minute: reachable time, delay, unicast probes).
EXTRA_MAC = "02:00:00:00:02:10"
EXTRA_ASN = 64520
SESSION_WAIT = 30  # a refused attempt is retried within connectTime (1 s); BIRD's error wait is 5 s at most
SECRETS = f"/api/v1/namespaces/{NAMESPACE}/secrets"


@dataclass(frozen=True)
class ExtraHost:
    """Where the extra router runs (lab/routers.py's RouterHost)."""

    netns: str
    ipv4: str
    ipv6: str


@pytest.fixture()
def extra_router(lab: Any) -> Iterator[Callable[[str, routers.Peering], dict[str, Any]]]:
    """Call with (kind, peering): that router on a new host of the lab LAN; returns its facts
    as lab.json records a router's (what lab/rib.py reads). Removed afterwards."""
    hosts: list[str] = []
    pids: list[int] = []
    runtime = Path("/run") / lab.prefix.rstrip("-")  # FRR, running as user frr, reaches it

    def start(kind: str, peering: routers.Peering) -> dict[str, Any]:
        name = f"{lab.prefix}x{kind}"
        switch, bridge = lab.data["lan"]["bridge"]["netns"], lab.data["lan"]["bridge"]["name"]
        host = ExtraHost(name, str(topology.LAN4.network_address + EXTRA_HOST), f"2001:db8:1::{EXTRA_HOST}")
        netns.create(name)
        hosts.append(name)
        netns.add_veth(name, network.HOST_IF, switch, f"x{kind}", mac_a=EXTRA_MAC)
        netns.enslave(switch, f"x{kind}", bridge)
        netns.add_address(name, network.HOST_IF, f"{host.ipv4}/{topology.LAN4.prefixlen}")
        netns.add_address(name, network.HOST_IF, f"{host.ipv6}/{topology.LAN6.prefixlen}")
        work = runtime / f"x{kind}"
        work.mkdir(parents=True, exist_ok=True)
        procs, control = routers.start_router(
            kind, host, EXTRA_ASN, peering, work=work, log_dir=work / "logs"
        )
        pids.extend(p.pid for p in procs)
        return {"kind": kind, "netns": name, "ipv4": host.ipv4, "asn": EXTRA_ASN, "control": control}

    try:
        yield start
    finally:
        netns.kill_pids(pids)
        for name in hosts:
            netns.delete(name)
            shutil.rmtree(runtime / name.removeprefix(lab.prefix), ignore_errors=True)


@pytest.fixture()
def secret(cluster: Any) -> Iterator[Callable[[str], str]]:
    """Call with a password: a Secret holding it in the speaker's namespace; its name. Removed afterwards."""
    made: list[str] = []

    def create(password: str) -> str:
        name = unique("bgp-key")
        data = {"password": base64.b64encode(password.encode()).decode()}
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data}
        cluster.api.request("POST", SECRETS, body=body)
        made.append(name)
        return name

    try:
        yield create
    finally:
        for name in made:
            try:
                cluster.api.request("DELETE", f"{SECRETS}/{name}")
            except Exception:  # already gone
                continue


def session_up(speaker: Any, address: str) -> bool:
    """True when ``speaker``'s metrics show its BGP session to ``address`` up."""
    return f'metallb_bgp_session_up{{peer="{address}"}} 1.0' in speaker.metrics()


def log_has(speaker: Any, text: str) -> bool:
    """True when the speaker's logs hold ``text``."""
    return text in speaker.logs()


@pytest.mark.parametrize("kind", ["bird", "frr", "gobgp"])
def test_md5_from_a_secret_comes_up_and_a_wrong_key_stays_down_naming_the_peer(
    lab, cluster, speakers, extra_router, secret, kind
):
    node = lab.nodes[0]
    key, wrong = f"lab-{secrets.token_hex(6)}", f"bad-{secrets.token_hex(6)}"
    router = extra_router(
        kind, routers.Peering(f"{lab.hosts[node]['ipv4']}/32", topology.NODE_ASN, password=key)
    )
    peer = unique(f"bgp-md5-{kind}")
    spec = {
        "myASN": topology.NODE_ASN,
        "peerASN": EXTRA_ASN,
        "peerAddress": router["ipv4"],
        "holdTime": "9s",
        "connectTime": "1s",
        "passwordSecret": {"name": secret(wrong), "namespace": NAMESPACE},
        "nodeSelectors": [{"matchLabels": {"kubernetes.io/hostname": node}}],
    }
    cluster.api.request("POST", PEERS, body=metallb_manifest(BGP_PEER, peer, spec))
    try:
        speaker = speakers.start(node)[0]
        wait_for(
            f"{node} to log a failed connection to {peer}",
            lambda: log_has(
                speaker,
                f"bgp peer {peer}: Connect -> Active (connect to {router['ipv4']}: timed out (TCP MD5 is on",
            ),
            timeout=20,
        )
        assert not session_up(speaker, router["ipv4"]), speaker.metrics()
        cluster.api.request(
            "PATCH",
            f"{PEERS}/{peer}",
            body={"spec": {"passwordSecret": {"name": secret(key), "namespace": NAMESPACE}}},
            content_type="application/merge-patch+json",
        )
        wait_for(
            f"{node}'s keyed session with {kind} Established",
            lambda: session_up(speaker, router["ipv4"]),
            timeout=SESSION_WAIT,
        )
    finally:
        cluster.api.request("DELETE", f"{PEERS}/{peer}")
    events = str(cluster.api.request("GET", f"/api/v1/namespaces/{NAMESPACE}/events"))
    for password in (key, wrong):
        assert password not in speaker.logs()
        assert password not in speaker.metrics()
        assert password not in events


def test_a_password_secret_in_another_namespace_is_refused_with_a_log_line_and_an_event(
    lab, cluster, bgp, speakers
):
    peer = bgp.peer("bird", passwordSecret={"name": "elsewhere", "namespace": "default"})
    speaker = speakers.start(lab.nodes[0])[0]
    wait_for(
        f"the speaker to refuse {peer}",
        lambda: log_has(speaker, f"bgp peer {peer} stays down: passwordSecret default/elsewhere"),
        timeout=20,
    )
    wait_for(
        f"a PeerRefused Event on {peer}",
        lambda: cluster.events(NAMESPACE, peer, "PeerRefused"),
        timeout=20,
    )
    assert not session_up(speaker, lab.routers["bird"]["ipv4"])


@pytest.mark.parametrize(
    ("dynamic_asn", "comes_up"),
    [("external", True), ("internal", False)],  # BIRD is AS 64512, the nodes AS 64500
)
def test_dynamic_asn_accepts_the_routers_as_only_when_the_kind_of_session_matches(
    lab, bgp, speakers, dynamic_asn, comes_up
):
    peer = bgp.peer("bird", peerASN=None, dynamicASN=dynamic_asn)
    speaker = speakers.start(lab.nodes[0])[0]
    bird = lab.routers["bird"]["ipv4"]
    if comes_up:
        wait_for(f"{peer} (dynamicASN external) Established", lambda: session_up(speaker, bird), SESSION_WAIT)
        assert log_has(speaker, f"bgp peer {peer}: OpenSent -> OpenConfirm (OPEN received from AS 64512)")
    else:
        wait_for(
            f"{peer} (dynamicASN internal) to refuse BIRD's AS",
            lambda: log_has(speaker, f"bgp peer {peer}: sending NOTIFICATION OPEN message error/bad peer AS"),
            timeout=20,
        )
        assert not session_up(speaker, bird)
