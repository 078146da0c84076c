"""Duplicate-VIP detection on real packets: the layer-2 engine against a Linux host that holds the VIP.

The engine runs as the speaker runs it (``python -m …layer2.engine``, orders on stdin, reports
on stdout) in a namespace of the LAN. The rogue is plain Linux in another namespace with the
VIP assigned to its interface: it answers probes for the VIP and, when it talks from the VIP,
sends ARP packets claiming it. A peer speaker answering for the same VIP is no conflict.
"""

from __future__ import annotations

import ipaddress
import secrets
import subprocess
import time
from typing import Any

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.layer2 import conflicts
from ansible_collections.baremetal.lb.daemons.speaker.layer2.engine_messages import StartOrder, plan_to_json
from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import IPClaim

from .conftest import HOST_IF, PYTHON, Agent, Host, Lan

ENGINE = "ansible_collections.baremetal.lb.daemons.speaker.layer2.engine"
VIP4 = "198.51.100.10"
VIP6 = "2001:db8::10"
PORT = 7946
KEY = secrets.token_bytes(32)


def _engine(lan: Lan, host: Host, peers: list[Host]) -> Agent:
    """The layer-2 engine in ``host``'s namespace, heart-beating ``peers``; ready to take a plan."""
    proc = subprocess.Popen(
        ["ip", "netns", "exec", host.netns, PYTHON, "-m", ENGINE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    lan.pids.append(proc.pid)
    engine = Agent(proc)
    order = StartOrder(
        node=host.name,
        key=KEY,
        bind=(host.ipv4, PORT),
        peers={peer.name: (peer.ipv4, PORT) for peer in peers},
        interval=0.1,
        dead_after=0.3,
        watch_links=(HOST_IF,),
    )
    engine.send({"start": order.to_json()})
    assert engine.read(30) == {"ready": True}
    return engine


def _plan(engine: Agent, vip: str, *candidates: str) -> float:
    """Give ``engine`` a plan with one Service on ``vip``; returns when it was sent (monotonic)."""
    ip = ipaddress.ip_address(vip)
    claim = IPClaim(ip, "shop/web", vip, frozenset(candidates), (HOST_IF,))
    sent = time.monotonic()
    engine.send({"plan": plan_to_json([claim])})
    return sent


def _announcing(vip: str):
    return lambda line: vip in (line.get("announcing") or {})


def _lines_until(engine: Agent, what: str, check: Any, timeout: float) -> list[dict[str, Any]]:
    """Every report line up to and including the first for which ``check`` holds."""
    lines: list[dict[str, Any]] = []
    engine.read_until(what, lambda line: bool(lines.append(line)) or check(line), timeout=timeout)
    return lines


def _conflict(line: dict[str, Any]) -> dict[str, Any] | None:
    found: dict[str, Any] | None = line.get("conflict")
    return found


def _hold(lan: Lan, rogue: Host, vip: str) -> None:
    """The rogue assigns ``vip`` to its interface (IPv6 without DAD, which the speaker would win)."""
    if ":" in vip:
        lan.run(rogue, "ip", "-6", "addr", "add", f"{vip}/128", "dev", HOST_IF, "nodad")
    else:
        lan.run(rogue, "ip", "addr", "add", f"{vip}/32", "dev", HOST_IF)


@pytest.mark.parametrize("vip", [VIP4, VIP6], ids=["arp", "ndp"])
def test_a_first_claim_probes_finds_the_rogue_and_still_announces(lan: Lan, vip: str) -> None:
    node, rogue = lan.add_host("n1"), lan.add_host("rogue")
    _hold(lan, rogue, vip)
    engine = _engine(lan, node, [])
    sent = _plan(engine, vip, "n1")

    reports = _lines_until(engine, f"an announcement of {vip} after its probe window", _announcing(vip), 10)
    waited = time.monotonic() - sent
    announcing = reports[-1]
    found = [
        (c["ip"], c["mac"], c["interface"], c["state"], c["phase"]) for c in map(_conflict, reports) if c
    ]
    assert found == [(vip, rogue.mac, HOST_IF, "detected", "probe")]
    assert announcing["announcing"][vip]["services"] == ["shop/web"]  # it keeps the VIP and says so
    print(f"\nfirst claim of {vip}: announced {waited * 1000:.0f} ms after the plan (probe window included)")
    assert conflicts.PROBE_WINDOW <= waited < 1.0


def test_a_rogue_talking_from_an_owned_vip_is_reported_once_and_the_owner_keeps_answering(lan: Lan) -> None:
    node, rogue, client = lan.add_host("n1"), lan.add_host("rogue"), lan.add_host("cl")
    engine = _engine(lan, node, [])
    _plan(engine, VIP4, "n1")
    before = _lines_until(engine, f"an announcement of {VIP4}", _announcing(VIP4), 10)
    assert not [line for line in before if _conflict(line)]  # the probe found nobody

    _hold(lan, rogue, VIP4)
    for _unused in range(3):  # Linux asks for the client from the VIP: ARP requests claiming it
        lan.run(rogue, "ip", "neigh", "flush", "dev", HOST_IF)
        lan.run(rogue, "ping", "-c", "1", "-W", "1", "-I", VIP4, client.ipv4, check=False)
    conflict = engine.read_until("a conflict report", _conflict, timeout=10)["conflict"]
    assert (conflict["ip"], conflict["mac"], conflict["state"], conflict["phase"]) == (
        VIP4,
        rogue.mac,
        "detected",
        "owning",
    )
    counters = engine.read_until(
        "the conflicting packets counted",
        lambda line: (line.get("counters") or {}).get("conflicts_received"),
        10,
    )["counters"]
    assert counters["conflicts_received"][VIP4] >= 1

    # It never yields and never fights: it still answers, and sent no more than its takeover burst.
    answers = {a["mac"] for a in lan.client(client, "arp", HOST_IF, VIP4, "1.0")}
    assert node.mac in answers
    rounds = round(5.0 / 1.1 + 0.5)
    assert counters["gratuitous_sent"].get(VIP4, 0) <= rounds


def test_a_peer_speaker_answering_for_the_same_vip_is_no_conflict(lan: Lan) -> None:
    n1, n2 = lan.add_host("n1"), lan.add_host("n2")
    e1, e2 = _engine(lan, n1, [n2]), _engine(lan, n2, [n1])
    # Each is told it is the only candidate: both answer and announce (a split view), so each
    # sees the other's gratuitous ARP claiming the VIP; the neighbour table names the sender a peer.
    _plan(e1, VIP4, "n1")
    _plan(e2, VIP4, "n2")

    def peer_claim_counted(line: dict[str, Any]) -> bool:
        return bool(((line.get("counters") or {}).get("peer_claims_received") or {}).get(VIP4))

    seen = _lines_until(e1, "n2's claims counted as a peer's", peer_claim_counted, 15)
    assert not [line for line in seen if _conflict(line)], seen
