"""Our BGP speaker against BIRD2, FRR and GoBGP: sessions come up and routes land in their RIBs."""

from __future__ import annotations

from typing import Any

import pytest

from lab import routers

from .bgp_lab import SPEAKER_ASN, peer, start_router
from .conftest import Agent, Lan, wait_for

ROUTERS = ["bird", "frr", "gobgp"]
COMMUNITY = (65000 << 16) | 100
LARGE = (SPEAKER_ASN, 1, 2)


# A router that refuses the first attempts (BIRD waits up to 5 s after an error) is tried again
# every connect_time (1 s here: the retry wait never exceeds it), so within a few seconds after;
# the rest is margin for a loaded machine (one unexplained 20 s miss was seen with 13 runs passing).
ESTABLISHED_WITHIN = 45


def established(agent: Agent, name: str, timeout: float = ESTABLISHED_WITHIN) -> None:
    agent.read_until(
        f"session {name} Established",
        lambda line: line.get("state", [None, None, None])[0] == name and line["state"][2] == "Established",
        timeout,
    )


def answer(agent: Agent, command: dict[str, Any]) -> Any:
    agent.send(command)
    return agent.read_until(f"answer to {command}", lambda line: "ok" in line or "sessions" in line, 10)


@pytest.mark.parametrize("kind", ROUTERS)
@pytest.mark.parametrize("internal", [False, True], ids=["ebgp", "ibgp"])
def test_routes_reach_the_router_with_their_attributes_and_go_on_withdraw(
    lan: Lan, kind: str, internal: bool
) -> None:
    speaker_host = lan.add_host("speaker")
    asn = SPEAKER_ASN if internal else 64500
    router = start_router(lan, kind, routers.Peering(f"{speaker_host.ipv4}/32", SPEAKER_ASN), asn=asn)
    agent = lan.start(speaker_host, "bgp_speaker_agent.py")
    answer(agent, {"peers": [peer(router, peer_asn=asn)]})
    routes = [
        {
            "prefix": "198.51.100.0/24",
            "communities": [COMMUNITY],
            "large_communities": [LARGE],
            "local_pref": 250,
        },
        {
            "prefix": "2001:db8:100::/48",
            "communities": [COMMUNITY],
            "large_communities": [LARGE],
            "local_pref": 250,
        },
    ]
    answer(agent, {"routes": kind, "set": routes})
    established(agent, kind)

    v4 = wait_for("the IPv4 route in the router's RIB", lambda: router.rib("198.51.100.0/24"), 15)
    v6 = wait_for("the IPv6 route in the router's RIB", lambda: router.rib("2001:db8:100::/48"), 15)
    assert speaker_host.ipv4 in v4.next_hops
    assert speaker_host.ipv6 in v6.next_hops
    for entry in (v4, v6):
        assert entry.communities == {"65000:100"}
        assert entry.large_communities == {f"{SPEAKER_ASN}:1:2"}
        if internal:
            assert entry.local_pref == 250

    answer(agent, {"routes": kind, "set": routes[1:]})
    wait_for("the IPv4 route withdrawn", lambda: router.rib("198.51.100.0/24") is None, 15)
    assert router.rib("2001:db8:100::/48") is not None
    answer(agent, {"routes": kind, "set": []})
    wait_for("the IPv6 route withdrawn", lambda: router.rib("2001:db8:100::/48") is None, 15)
    status = answer(agent, {"sessions": True})["sessions"][kind]
    assert (
        status["state"] == "Established" and status["updates_sent"] >= 4 and status["prefixes_announced"] == 0
    )
