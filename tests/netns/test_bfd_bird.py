"""Our BFD engine against BIRD2's `protocol bfd`, on a real link between two namespaces.

BIRD runs 100 ms x 3; our side asks for the same, so the detection time is 300 ms.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import netns
from tests.netns.bfd_peers import BfdAgent, Bird, start_agent
from tests.netns.conftest import HOST_IF, Host, Lan, wait_for

FAST = {"receive_interval_ms": 100, "transmit_interval_ms": 100, "detect_multiplier": 3}
DETECTION_S = 0.3
MARGIN_S = 0.1  # scheduling on a shared 2-core machine
UP_WITHIN_S = 5.0  # slow 1 s start plus the handshake


@pytest.fixture()
def work() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bmlbt-bfd-") as path:
        yield Path(path)


def pair(lan: Lan, work: Path) -> tuple[Host, Host, BfdAgent, Bird]:
    ours, theirs = lan.add_host("spk"), lan.add_host("bird")
    return ours, theirs, start_agent(lan, ours), Bird(lan, theirs, work)


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_up_with_negotiated_intervals_and_down_within_detection_time_on_sigkill(
    lan: Lan, work: Path, family: str
) -> None:
    ours, theirs, agent, bird = pair(lan, work)
    us, them = getattr(ours, family), getattr(theirs, family)
    bird.start([(us, them)])
    agent.add(them, us, **FAST)

    agent.wait_state(them, "UP", UP_WITHIN_S)
    wait_for("BIRD's session Up", lambda: bird.session_state(us) == "Up", UP_WITHIN_S)
    session = wait_for(
        "the Poll Sequence to settle on 100 ms",
        lambda: (s := agent.sessions()[them])["transmit_interval_ms"] == 100 and not s["polling"] and s,
        UP_WITHIN_S,
    )
    assert session["receive_interval_ms"] == 100
    assert session["detection_time_ms"] == 300
    assert session["remote_discriminator"] != 0

    killed = time.monotonic()
    bird.kill()
    down = agent.wait_state(them, "DOWN", 2.0)
    assert down["diag"] == "CONTROL_DETECTION_TIME_EXPIRED"
    assert down["at"] - killed <= DETECTION_S + MARGIN_S, f"Down {down['at'] - killed:.3f}s after the kill"

    restarted = time.monotonic()
    bird.start([(us, them)])
    agent.wait_state(them, "UP", UP_WITHIN_S, after=restarted)


def test_link_cut_in_the_peers_namespace_is_detected(lan: Lan, work: Path) -> None:
    ours, theirs, agent, bird = pair(lan, work)
    bird.start([(ours.ipv4, theirs.ipv4)])
    agent.add(theirs.ipv4, ours.ipv4, **FAST)
    agent.wait_state(theirs.ipv4, "UP", UP_WITHIN_S)
    settled = lambda: agent.sessions()[theirs.ipv4]["detection_time_ms"] == 300  # noqa: E731
    wait_for("100 ms intervals", settled, UP_WITHIN_S)

    cut = time.monotonic()
    netns.set_link(theirs.netns, HOST_IF, up=False)
    down = agent.wait_state(theirs.ipv4, "DOWN", 2.0)
    assert down["at"] - cut <= DETECTION_S + MARGIN_S, f"Down {down['at'] - cut:.3f}s after the cut"

    restored = time.monotonic()
    netns.set_link(theirs.netns, HOST_IF, up=True)
    agent.wait_state(theirs.ipv4, "UP", UP_WITHIN_S + 2, after=restored)


def test_peer_protocol_disable_then_enable_brings_the_session_back(lan: Lan, work: Path) -> None:
    """BIRD 2.0.12 drops the sessions of a disabled `protocol bfd` without an AdminDown packet (seen
    here: our side times out), so this is a restart of the peer's BFD without a process restart."""
    ours, theirs, agent, bird = pair(lan, work)
    bird.start([(ours.ipv4, theirs.ipv4)])
    agent.add(theirs.ipv4, ours.ipv4, **FAST)
    agent.wait_state(theirs.ipv4, "UP", UP_WITHIN_S)

    disabled = time.monotonic()
    bird.birdc("disable", "peers")
    down = agent.wait_state(theirs.ipv4, "DOWN", 2.0)
    assert down["at"] - disabled <= DETECTION_S + MARGIN_S

    enabled = time.monotonic()
    bird.birdc("enable", "peers")
    agent.wait_state(theirs.ipv4, "UP", UP_WITHIN_S, after=enabled)


def test_our_stop_sends_admin_down(lan: Lan, work: Path) -> None:
    ours, theirs, agent, bird = pair(lan, work)
    bird.start([(ours.ipv4, theirs.ipv4)])
    agent.add(theirs.ipv4, ours.ipv4, **FAST)
    wait_for("BIRD's session Up", lambda: bird.session_state(ours.ipv4) == "Up", UP_WITHIN_S)

    agent.command({"stop": 0.0})
    wait_for("BIRD's session Down", lambda: bird.session_state(ours.ipv4) == "Down", 1.0)


def test_passive_session_waits_for_the_peer(lan: Lan, work: Path) -> None:
    ours, theirs, agent, bird = pair(lan, work)
    agent.add(theirs.ipv4, ours.ipv4, passive_mode=True, **FAST)
    quiet_until = time.monotonic() + 1.5  # an active session would have sent at its 1 s slow rate
    wait_for("1.5 s of passive waiting", lambda: time.monotonic() >= quiet_until, 3.0)
    assert agent.sessions()[theirs.ipv4]["control_packet_output"] == 0

    bird.start([(ours.ipv4, theirs.ipv4)])
    agent.wait_state(theirs.ipv4, "UP", UP_WITHIN_S)
