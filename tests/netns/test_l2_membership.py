"""Membership heartbeats between namespaces: failure detection, LEAVE, forged and replayed packets."""

from __future__ import annotations

import os
import secrets
import signal
import time
from typing import Any

from ansible_collections.baremetal.lb.daemons.speaker.membership.service import (
    DEAD_AFTER,
    DIGEST_EVERY,
    INTERVAL,
    OWN_STALL_LOG,
)
from ansible_collections.baremetal.lb.daemons.speaker.membership.wire import Kind, Message, encode
from tests.netns.conftest import HOST_IF, Agent, Host, Lan, wait_for

PORT = 7947
KEY = secrets.token_bytes(32)


def start_members(lan: Lan, hosts: list[Host], configured: list[Host] | None = None) -> list[Agent]:
    peers = [f"{h.name}={h.ipv4}" for h in (configured or hosts)]
    return [
        lan.start(h, "l2_membership_agent.py", h.name, h.ipv4, str(PORT), KEY.hex(), HOST_IF, *peers)
        for h in hosts
    ]


def members_are(names: set[str]) -> Any:
    return lambda line: "members" in line and set(line["members"]) == names


def logged(start: str) -> Any:
    return lambda line: line.get("log", "").startswith(start)


def state(agent: Agent) -> dict[str, Any]:
    """The agent's current view (membership change lines read meanwhile are dropped)."""
    agent.send({"state": True})
    reply: dict[str, Any] = agent.read_until("state", lambda line: "state" in line, 5)["state"]
    return reply


def test_killed_peer_is_dead_within_the_threshold(lan: Lan) -> None:
    hosts = [lan.add_host(n) for n in ("a", "b", "c")]
    a, b, _unused = start_members(lan, hosts)
    a.read_until("everyone", members_are({"a", "b", "c"}), 5)

    os.kill(b.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    accusation = a.read_until("a's accusation of b in the log", logged("membership: suspecting b: "), 3)
    silent_ms = float(accusation["log"].split("not heard for ")[1].split(" ms")[0])
    assert silent_ms > DEAD_AFTER * 1000, accusation["log"]
    a.read_until(
        "b's death in the log, with its reason",
        logged("membership: b is no longer a member, declared dead"),
        3,
    )
    seen = a.read_until("b's death", members_are({"a", "c"}), 3)
    detection = seen["t"] - killed_at
    print(f"\nkilled peer detected after {detection * 1000:.0f} ms (dead_after {DEAD_AFTER * 1000:.0f} ms)")
    # The last heartbeat left at most one interval before the kill.
    assert DEAD_AFTER - INTERVAL - 0.02 <= detection <= DEAD_AFTER + 0.15


def test_graceful_stop_sends_leave_and_the_peer_reacts_at_once(lan: Lan) -> None:
    hosts = [lan.add_host(n) for n in ("a", "b")]
    a, b = start_members(lan, hosts)
    a.read_until("both", members_are({"a", "b"}), 5)

    os.kill(b.pid, signal.SIGTERM)
    stopped_at = time.monotonic()
    a.read_until(
        "b's leave in the log", logged("membership: b is no longer a member, it left (graceful stop)"), 2
    )
    seen = a.read_until("b's leave", members_are({"a"}), 2)
    reaction = seen["t"] - stopped_at
    print(f"\nLEAVE handled {reaction * 1000:.1f} ms after SIGTERM")
    assert reaction < 0.1  # far below the silence threshold
    assert b.proc.wait(5) == 0


def test_forged_and_replayed_heartbeats_change_nothing(lan: Lan) -> None:
    a_host, b_host, c_host, x = (lan.add_host(n) for n in ("a", "b", "c", "x"))
    a, b = start_members(lan, [a_host, b_host], configured=[a_host, b_host, c_host])
    a.read_until("both", members_are({"a", "b"}), 5)

    captured = lan.client(a_host, "capture", HOST_IF, b_host.ipv4, str(PORT), "5", "3")
    assert len(captured) == 5
    os.kill(b.pid, signal.SIGKILL)
    a.read_until("b's death", members_are({"a"}), 3)

    now = time.time_ns()
    forged = [
        encode(b"wrong key", Message(Kind.HEARTBEAT, "b", now, 10**9, now)).hex(),
        encode(b"wrong key", Message(Kind.HEARTBEAT, "c", now, 1, now)).hex(),
    ]
    lan.client(x, "udp", a_host.ipv4, str(PORT), *captured, *forged)
    # Positive control: the same path with the right key does make c a member.
    genuine = encode(KEY, Message(Kind.HEARTBEAT, "c", now, 1, time.time_ns())).hex()
    lan.client(x, "udp", a_host.ipv4, str(PORT), genuine)
    a.read_until("the genuine heartbeat of c", members_are({"a", "c"}), 3)

    got = state(a)
    assert "b" not in got["members"]
    assert got["rejected"].get("replayed", 0) == 5
    assert got["forged"] == 2


def test_node_whose_link_goes_down_gives_itself_up_and_comes_back(lan: Lan) -> None:
    hosts = [lan.add_host(n) for n in ("a", "b")]
    a, b = start_members(lan, hosts)
    a.read_until("both", members_are({"a", "b"}), 5)

    lan.run(hosts[1], "ip", "link", "set", HOST_IF, "down")
    b.read_until("b dropping itself", lambda line: "members" in line and "b" not in line["members"], 2)
    a.read_until("b's death", members_are({"a"}), 2)

    lan.run(hosts[1], "ip", "link", "set", HOST_IF, "up")
    a.read_until("b back", members_are({"a", "b"}), 5)
    got = wait_for("b whole again", lambda: (s := state(b))["members"] == ["a", "b"] and s, timeout=5)
    assert got["send_errors"] > 0  # the LEAVE on a downed link failed, and nothing broke


def test_a_killed_node_restarted_under_its_name_is_back_everywhere(lan: Lan) -> None:
    hosts = [lan.add_host(n) for n in ("a", "b", "c")]
    a, b, c = start_members(lan, hosts)
    a.read_until("everyone", members_are({"a", "b", "c"}), 5)

    os.kill(b.pid, signal.SIGKILL)
    a.read_until("b's death", members_are({"a", "c"}), 3)
    c.read_until("b's death", members_are({"a", "c"}), 3)
    (b,) = start_members(lan, [hosts[1]], configured=hosts)  # a new process: a higher incarnation
    started = time.monotonic()
    seen = a.read_until("b back", members_are({"a", "b", "c"}), 3)
    print(f"\nrestarted b seen by a {(seen['t'] - started) * 1000:.0f} ms after its start")
    c.read_until("b back", members_are({"a", "b", "c"}), 3)
    b.read_until("b knowing everyone", members_are({"a", "b", "c"}), 3)


def test_a_frozen_node_is_declared_dead_says_why_when_it_wakes_and_is_back_everywhere(lan: Lan) -> None:
    """A node that does not run longer than dead-after (a paused VM, a stolen vCPU) is silent to its peers.

    They declare it dead, as they must; on waking it logs how long it sent no heartbeat, so the
    verdict its peers logged is explained in its own log, refutes and is a member again everywhere.
    """
    hosts = [lan.add_host(n) for n in ("a", "b", "c")]
    a, b, c = start_members(lan, hosts)
    a.read_until("everyone", members_are({"a", "b", "c"}), 5)

    os.kill(b.pid, signal.SIGSTOP)
    try:
        a.read_until("b's death while it is stopped", members_are({"a", "c"}), 3)
    finally:
        os.kill(b.pid, signal.SIGCONT)
    woke = b.read_until("b's own stall in its log", logged(OWN_STALL_LOG), 3)
    unheard_ms = float(woke["log"].split(OWN_STALL_LOG)[1].split(" ms")[0])
    assert unheard_ms > DEAD_AFTER * 1000, woke["log"]
    a.read_until("b back", members_are({"a", "b", "c"}), 3)
    c.read_until("b back", members_are({"a", "b", "c"}), 3)


def test_a_watcher_stopped_in_the_middle_of_its_turn_accuses_nobody(lan: Lan) -> None:
    """A watcher's thread that stops right after it read its socket (a stolen vCPU, another thread
    of the engine holding the GIL through a long decode) goes on with heartbeats waiting unread.

    It must not take that for silence: its peers kept heart-beating all along.
    """
    hosts = [lan.add_host(n) for n in ("a", "b", "c")]
    a, _b, _c = start_members(lan, hosts)
    a.read_until("everyone", members_are({"a", "b", "c"}), 5)

    a.send({"stall_in_turn": 2 * DEAD_AFTER})
    a.read_until("a going on after its stall", lambda line: "stalled" in line, 3)
    received = state(a)["received"]
    wait_for("a reading heartbeats again", lambda: state(a)["received"] >= received + 4, timeout=3)
    got = state(a)
    assert got["events"].get("accused", 0) == 0, got["events"]
    assert got["members"] == ["a", "b", "c"]


def test_a_watcher_that_cannot_hear_a_healthy_node_does_not_evict_it(lan: Lan) -> None:
    """b stops hearing a (a's datagrams to b are dropped); c hears both and must keep both."""
    hosts = [lan.add_host(n) for n in ("a", "b", "c")]
    a_host, b_host, _unused = hosts
    a, b, c = start_members(lan, hosts)
    c.read_until("everyone", members_are({"a", "b", "c"}), 5)

    lan.run(a_host, "ip", "route", "add", "blackhole", f"{b_host.ipv4}/32")
    wait_for("b accusing a", lambda: state(b)["events"].get("accused", 0) >= 1, timeout=3)
    wait_for("a refuting", lambda: state(a)["events"].get("refuted", 0) >= 1, timeout=3)
    deadline = time.monotonic() + 3
    while (left := deadline - time.monotonic()) > 0:  # c's view over 3 s: every change it reports
        try:
            line = c.read(left)
        except TimeoutError:
            break
        assert set(line.get("members", ["a", "b", "c"])) == {"a", "b", "c"}, (
            f"c evicted a healthy node: {line}"
        )
    assert state(c)["members"] == ["a", "b", "c"]

    lan.run(a_host, "ip", "route", "del", "blackhole", f"{b_host.ipv4}/32")
    wait_for("b seeing a again", lambda: state(b)["members"] == ["a", "b", "c"], timeout=5)


def test_a_split_domain_heals_into_one(lan: Lan) -> None:
    """{a, b} and {c, d} stop hearing each other: each side buries the other; healed, all rejoin
    within one detection time (until then both halves announce the IPs they split).

    Each node also heart-beats the nearest buried member on either side of it on the ring of
    every peer, so within an interval of the heal a buried node hears from the far side: it is
    told it was buried and refutes to everyone, and it is told whom the far side has alive, so
    it has those it buried refute too. Digests (every DIGEST_EVERY) are not needed for it.
    """
    hosts = [lan.add_host(n) for n in ("a", "b", "c", "d")]
    agents = start_members(lan, hosts)
    for agent in agents:
        agent.read_until("everyone", members_are({"a", "b", "c", "d"}), 5)
    halves = (hosts[:2], hosts[2:])

    def cut(action: str) -> None:
        for near, far in (halves, halves[::-1]):
            for host in near:
                for other in far:
                    lan.run(host, "ip", "route", action, "blackhole", f"{other.ipv4}/32")

    cut("add")
    for agent, half in zip(agents, (0, 0, 1, 1), strict=True):
        agent.read_until("its half alone", members_are({h.name for h in halves[half]}), 10)

    healed = time.monotonic()  # the first route goes now: the figure includes removing the others
    cut("del")
    joined = [
        agent.read_until("one domain", members_are({"a", "b", "c", "d"}), DIGEST_EVERY) for agent in agents
    ]
    slowest = max(line["t"] for line in joined) - healed
    print(f"\nsplit healed: every node saw all four {slowest * 1000:.0f} ms after the routes went")
    assert slowest < DEAD_AFTER, f"healed after {slowest * 1000:.0f} ms, over one detection time"


def test_a_rolling_upgrade_keeps_failover_between_versions(lan: Lan) -> None:
    """a still speaks version 1 (all-to-all heartbeats); b and c speak version 2 and keep it a member."""
    a_host, b_host, c_host = hosts = [lan.add_host(n) for n in ("a", "b", "c")]
    peers = [f"{h.name}={h.ipv4}" for h in hosts]
    a = lan.start(a_host, "l2_membership_v1_agent.py", "a", a_host.ipv4, str(PORT), KEY.hex(), *peers)
    b, c = start_members(lan, [b_host, c_host], configured=hosts)
    b.read_until(
        "the version 1 peer named in the log",
        lambda line: "version 1" in line.get("log", "") and " a " in line["log"],
        5,
    )
    for agent in (a, b, c):
        agent.read_until("everyone, across versions", members_are({"a", "b", "c"}), 5)

    os.kill(c.pid, signal.SIGKILL)  # a version 2 node dies: the version 1 node must notice
    killed_at = time.monotonic()
    seen = a.read_until("c's death, seen by the version 1 node", members_are({"a", "b"}), 3)
    assert seen["t"] - killed_at <= DEAD_AFTER + 0.15
    b.read_until("c's death", members_are({"a", "b"}), 3)

    os.kill(a.pid, signal.SIGKILL)  # the version 1 node dies: the version 2 node must notice
    killed_at = time.monotonic()
    seen = b.read_until("a's death, seen by a version 2 node", members_are({"b"}), 3)
    assert seen["t"] - killed_at <= DEAD_AFTER + 0.15
