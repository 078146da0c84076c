"""Our BFD engine against FRR's bfdd (with zebra, which bfdd needs), on a real link.

bfdd runs 100 ms x 3 like our side. FRR lowers its Required Min RX once Up, and says AdminDown
when a peer is shut down administratively.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.netns.bfd_peers import DETECTION_S, UP_WITHIN_S, BfdAgent, Frr, start_agent
from tests.netns.conftest import Host, Lan, wait_for


def pair(lan: Lan, work: Path) -> tuple[Host, Host, BfdAgent, Frr]:
    ours, theirs = lan.add_host("spk"), lan.add_host("frr")
    return ours, theirs, start_agent(lan, ours), Frr(lan, theirs, work)


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_up_negotiated_admin_down_and_back(lan: Lan, private_dir: Path, family: str) -> None:
    ours, theirs, agent, frr = pair(lan, private_dir)
    us, them = getattr(ours, family), getattr(theirs, family)
    frr.start([(us, them)])
    ours_view = agent.up_at_fast(them, us)
    theirs_view = wait_for("bfdd's session up at 100 ms", lambda: _settled(frr.peer(us)), UP_WITHIN_S)
    assert theirs_view["detect-multiplier"] == 3
    assert (ours_view["receive_interval_ms"], ours_view["detection_time_ms"]) == (100, 300)
    assert theirs_view["id"] == ours_view["remote_discriminator"]
    assert theirs_view["remote-id"] == ours_view["local_discriminator"]

    shut = time.monotonic()
    frr.set_shutdown(us, them, shutdown=True)
    down = agent.wait_state(them, "DOWN", 2.0)
    assert down["diag"] == "NEIGHBOR_SIGNALED_SESSION_DOWN", "bfdd says AdminDown"
    assert down["at"] - shut < DETECTION_S, "told, not timed out"

    reopened = time.monotonic()
    frr.set_shutdown(us, them, shutdown=False)
    agent.wait_state(them, "UP", UP_WITHIN_S, after=reopened)


def test_sigkill_of_bfdd_is_detected_within_detection_time(lan: Lan, private_dir: Path) -> None:
    ours, theirs, agent, frr = pair(lan, private_dir)
    frr.start([(ours.ipv4, theirs.ipv4)])
    agent.up_at_fast(theirs.ipv4, ours.ipv4)
    wait_for("bfdd's session up at 100 ms", lambda: _settled(frr.peer(ours.ipv4)), UP_WITHIN_S)

    killed = time.monotonic()
    frr.kill_bfdd()
    agent.assert_detected(theirs.ipv4, killed)


def _settled(peer: dict[str, object] | None) -> dict[str, object] | None:
    """bfdd's peer entry once Up with 100 ms both ways, else None."""
    if not peer or peer.get("status") != "up":
        return None
    return peer if peer.get("transmit-interval") == peer.get("remote-receive-interval") == 100 else None
