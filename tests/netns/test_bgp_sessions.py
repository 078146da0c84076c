"""Session behaviour of our BGP speaker against real routers: MD5, hold timer, malformed input."""

from __future__ import annotations

import os
import signal

import pytest

from lab import routers

from .bgp_lab import ROUTER_ASN, SPEAKER_ASN, peer, start_router
from .conftest import Lan, wait_for
from .test_bgp_routes import ROUTERS, answer, established


@pytest.mark.parametrize("kind", ROUTERS)
def test_md5_right_key_comes_up_and_wrong_key_stays_down(lan: Lan, kind: str) -> None:
    speaker_host = lan.add_host("speaker")
    peering = routers.Peering(f"{speaker_host.ipv4}/32", SPEAKER_ASN, password="s3cret-key")
    router = start_router(lan, kind, peering)
    agent = lan.start(speaker_host, "bgp_speaker_agent.py")

    answer(agent, {"peers": [peer(router, password="wrong-key")]})
    line = agent.read_until(
        "a failed connection attempt", lambda line: line.get("state", [0, 0, 0])[2] == "Active", 15
    )
    assert "connect to" in line["state"][3]
    status = answer(agent, {"sessions": True})["sessions"][kind]
    assert status["state"] != "Established" and status["established_transitions"] == 0

    answer(agent, {"peers": [peer(router, password="s3cret-key")]})
    established(agent, kind)


@pytest.mark.parametrize("kind", ROUTERS)
def test_a_silent_peer_expires_the_hold_timer(lan: Lan, kind: str) -> None:
    speaker_host = lan.add_host("speaker")
    router = start_router(lan, kind, routers.Peering(f"{speaker_host.ipv4}/32", SPEAKER_ASN, hold_time=3))
    agent = lan.start(speaker_host, "bgp_speaker_agent.py")
    answer(agent, {"peers": [peer(router)]})
    established(agent, kind)
    bgp_pid = router.pids[-1]  # FRR: bgpd after zebra
    os.kill(bgp_pid, signal.SIGSTOP)
    try:
        agent.read_until(
            "the hold timer expiry log line",
            lambda line: "sending NOTIFICATION hold timer expired" in line.get("log", ""),
            8,
        )
        agent.read_until(
            "the session leaving Established",
            lambda line: line.get("state", [0, 0, 0])[1] == "Established",
            3,
        )
    finally:
        os.kill(bgp_pid, signal.SIGCONT)


def test_a_malformed_update_ends_that_session_with_a_notification_and_keeps_the_others(lan: Lan) -> None:
    speaker_host = lan.add_host("speaker")
    router = start_router(lan, "bird", routers.Peering(f"{speaker_host.ipv4}/32", SPEAKER_ASN))
    fake = lan.add_host("fake")
    fake_peer = lan.start(fake, "bgp_fake_peer.py", fake.ipv4, str(ROUTER_ASN))
    agent = lan.start(speaker_host, "bgp_speaker_agent.py")
    answer(agent, {"peers": [peer(router), peer(router, name="fake", peer_address=fake.ipv4)]})
    agent.read_until(
        "the log line naming the error",
        lambda line: (
            "sending NOTIFICATION UPDATE message error/malformed attribute list" in line.get("log", "")
        ),
        20,
    )
    sent = fake_peer.read_until("the fake peer's report", lambda line: "notification" in line, 5)
    assert sent["notification"] == [3, 1], sent  # UPDATE message error / malformed attribute list
    # The speaker logs and writes the NOTIFICATION before its session leaves Established, and
    # the fake peer has exited by now (nothing to connect to again): wait for both states.
    sessions = wait_for(
        "the fake session out of Established and the BIRD session Established beside it",
        lambda: (
            (s := answer(agent, {"sessions": True})["sessions"])["bird"]["state"] == "Established"
            and s["fake"]["state"] != "Established"
            and s
        ),
        15,
    )
    assert sessions["fake"]["notifications_sent"] >= 1
