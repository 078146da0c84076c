"""Our BFD engine against BIRD2's `protocol bfd`, on a real link between two namespaces.

BIRD runs 100 ms x 3; our side asks for the same, so the detection time is 300 ms.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lab import netns
from tests.netns.bfd_peers import FAST, UP_WITHIN_S, BfdAgent, Bird, start_agent
from tests.netns.conftest import AGENTS, HOST_IF, PYTHON, Host, Lan, wait_for


def pair(lan: Lan, work: Path) -> tuple[Host, Host, BfdAgent, Bird]:
    ours, theirs = lan.add_host("spk"), lan.add_host("bird")
    return ours, theirs, start_agent(lan, ours), Bird(lan, theirs, work)


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_up_with_negotiated_intervals_and_down_within_detection_time_on_sigkill(
    lan: Lan, private_dir: Path, family: str
) -> None:
    ours, theirs, agent, bird = pair(lan, private_dir)
    us, them = getattr(ours, family), getattr(theirs, family)
    bird.start([(us, them)])
    session = agent.up_at_fast(them, us)
    wait_for("BIRD's session Up", lambda: bird.session_state(us) == "Up", UP_WITHIN_S)
    assert session["receive_interval_ms"] == 100
    assert session["detection_time_ms"] == 300
    assert session["remote_discriminator"] != 0

    killed = time.monotonic()
    bird.kill()
    agent.assert_detected(them, killed)

    restarted = time.monotonic()
    bird.start([(us, them)])
    agent.wait_state(them, "UP", UP_WITHIN_S, after=restarted)


def test_link_cut_in_the_peers_namespace_is_detected(lan: Lan, private_dir: Path) -> None:
    ours, theirs, agent, bird = pair(lan, private_dir)
    bird.start([(ours.ipv4, theirs.ipv4)])
    agent.up_at_fast(theirs.ipv4, ours.ipv4)

    cut = time.monotonic()
    netns.set_link(theirs.netns, HOST_IF, up=False)
    agent.assert_detected(theirs.ipv4, cut)

    restored = time.monotonic()
    netns.set_link(theirs.netns, HOST_IF, up=True)
    agent.wait_state(theirs.ipv4, "UP", UP_WITHIN_S + 2, after=restored)


def test_peer_protocol_disable_then_enable_brings_the_session_back(lan: Lan, private_dir: Path) -> None:
    """BIRD 2.0.12 drops the sessions of a disabled `protocol bfd` without an AdminDown packet (seen
    here: our side times out), so this is a restart of the peer's BFD without a process restart."""
    ours, theirs, agent, bird = pair(lan, private_dir)
    bird.start([(ours.ipv4, theirs.ipv4)])
    agent.up_at_fast(theirs.ipv4, ours.ipv4)

    disabled = time.monotonic()
    bird.birdc("disable", "peers")
    agent.assert_detected(theirs.ipv4, disabled)

    enabled = time.monotonic()
    bird.birdc("enable", "peers")
    agent.wait_state(theirs.ipv4, "UP", UP_WITHIN_S, after=enabled)


def test_our_stop_sends_admin_down(lan: Lan, private_dir: Path) -> None:
    ours, theirs, agent, bird = pair(lan, private_dir)
    bird.start([(ours.ipv4, theirs.ipv4)])
    agent.add(theirs.ipv4, ours.ipv4, **FAST)
    wait_for("BIRD's session Up", lambda: bird.session_state(ours.ipv4) == "Up", UP_WITHIN_S)

    agent.command({"stop": 0.0})
    wait_for("BIRD's session Down", lambda: bird.session_state(ours.ipv4) == "Down", 1.0)


def test_passive_session_waits_for_the_peer(lan: Lan, private_dir: Path) -> None:
    ours, theirs, agent, bird = pair(lan, private_dir)
    agent.add(theirs.ipv4, ours.ipv4, passive_mode=True, **FAST)
    quiet_until = time.monotonic() + 1.5  # an active session would have sent at its 1 s slow rate
    wait_for("1.5 s of passive waiting", lambda: time.monotonic() >= quiet_until, 3.0)
    assert agent.sessions()[theirs.ipv4]["control_packet_output"] == 0

    bird.start([(ours.ipv4, theirs.ipv4)])
    agent.wait_state(theirs.ipv4, "UP", UP_WITHIN_S)


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_packets_from_beyond_the_link_are_discarded_and_ours_leave_from_the_rfc_port_range(
    lan: Lan, family: str
) -> None:
    ours, theirs = lan.add_host("spk"), lan.add_host("peer")
    agent = start_agent(lan, ours)
    us, them = getattr(ours, family), getattr(theirs, family)
    agent.add(them, us, **FAST)

    lan.run(theirs, PYTHON, str(AGENTS / "bfd_send.py"), us, "254")
    wait_for("the TTL 254 packet counted", lambda: agent.command({"discarded": True}).get("ttl") == 1, 3.0)
    assert agent.sessions()[them]["control_packet_input"] == 0

    lan.run(theirs, PYTHON, str(AGENTS / "bfd_send.py"), us, "255")
    wait_for("the TTL 255 packet accepted", lambda: agent.sessions()[them]["state"] == "INIT", 3.0)

    ports = {int(line.split()[3].rsplit(":", 1)[1]) for line in lan.run(ours, "ss", "-Huan").splitlines()}
    assert 3784 in ports
    assert all(port == 3784 or 49152 <= port <= 65535 for port in ports), ports
