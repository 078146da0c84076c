"""The responder on real packets between namespaces: a client asks, the owner answers."""

from __future__ import annotations

import ipaddress
import re

from tests.netns.conftest import HOST_IF, Lan, wait_for

VIP4 = "198.51.100.10"
VIP6 = "2001:db8::10"
STALE_MAC = "02:00:00:00:00:99"


def test_exactly_the_owner_answers_arp_with_its_mac(lan: Lan) -> None:
    n1, n2, client = lan.add_host("n1"), lan.add_host("n2"), lan.add_host("cl")
    r1 = lan.start(n1, "l2_responder_agent.py")
    r2 = lan.start(n2, "l2_responder_agent.py")
    assert r1.call({"update": {HOST_IF: [VIP4]}}) == {"ok": True}
    assert r2.call({"update": {HOST_IF: ["198.51.100.20"]}}) == {"ok": True}

    replies = lan.client(client, "arp", HOST_IF, VIP4, "1.0")
    assert [(r["mac"], r["eth_src"]) for r in replies] == [(n1.mac, n1.mac)]
    assert lan.client(client, "arp", HOST_IF, "198.51.100.11", "0.5") == []

    # The real arping tool agrees (unicast follow-ups to our MAC are answered too).
    out = lan.run(client, "arping", "-c", "3", "-w", "3000000", "-I", HOST_IF, VIP4)
    assert out.lower().count(f"from {n1.mac}") == 3
    assert n2.mac not in out.lower()

    counters = r1.call({"counters": True})
    assert counters["requests_received"] == {VIP4: 4}
    assert counters["responses_sent"] == {VIP4: 4}
    assert r2.call({"counters": True})["responses_sent"] == {}


def test_ownership_moves_between_responders(lan: Lan) -> None:
    n1, n2, client = lan.add_host("n1"), lan.add_host("n2"), lan.add_host("cl")
    r1 = lan.start(n1, "l2_responder_agent.py")
    r2 = lan.start(n2, "l2_responder_agent.py")
    r1.call({"update": {HOST_IF: [VIP4]}})
    r2.call({"update": {HOST_IF: []}})
    assert [r["mac"] for r in lan.client(client, "arp", HOST_IF, VIP4, "0.5")] == [n1.mac]
    r1.call({"update": {HOST_IF: []}})
    r2.call({"update": {HOST_IF: [VIP4]}})
    assert [r["mac"] for r in lan.client(client, "arp", HOST_IF, VIP4, "0.5")] == [n2.mac]


def test_ndp_owner_answers_with_solicited_override_advert(lan: Lan) -> None:
    n1, n2, client = lan.add_host("n1"), lan.add_host("n2"), lan.add_host("cl")
    r1 = lan.start(n1, "l2_responder_agent.py")
    r2 = lan.start(n2, "l2_responder_agent.py")
    r1.call({"update": {HOST_IF: [VIP6]}})
    r2.call({"update": {HOST_IF: ["2001:db8::20"]}})

    answers = lan.client(client, "ns", HOST_IF, VIP6, "1.0")
    assert len(answers) == 1
    na = answers[0]
    assert (na["mac"], na["tlla"], na["target"]) == (n1.mac, n1.mac, VIP6)
    assert (na["S"], na["O"], na["R"], na["hlim"]) == (1, 1, 0, 255)
    assert na["dst"] == client.ipv6
    assert lan.client(client, "ns", HOST_IF, "2001:db8::11", "0.5") == []

    # ndisc6, the real tool, resolves it through the kernel's own socket and checksum checks.
    out = lan.run(client, "ndisc6", "-1", "-r", "2", "-w", "1000", VIP6, HOST_IF)
    assert re.search(rf"Target link-layer address:\s*{n1.mac}", out, re.IGNORECASE)

    # Duplicate address detection for the VIP is defended: answer to all-nodes, not solicited.
    dad = lan.client(client, "dad", HOST_IF, VIP6, "1.0")
    assert [(a["dst"], a["S"], a["O"], a["tlla"]) for a in dad] == [("ff02::1", 0, 1, n1.mac)]


def test_gratuitous_arp_and_na_update_the_client_neighbour_table(lan: Lan) -> None:
    n1, client = lan.add_host("n1"), lan.add_host("cl")
    r1 = lan.start(n1, "l2_responder_agent.py")
    r1.call({"update": {HOST_IF: [VIP4, VIP6]}})
    for vip in (VIP4, VIP6):
        lan.run(client, "ip", "neigh", "replace", vip, "lladdr", STALE_MAC, "dev", HOST_IF, "nud", "stale")
        assert STALE_MAC in lan.run(client, "ip", "neigh", "show", vip)

    r1.call({"announce": VIP4})
    r1.call({"announce": VIP6})

    def neighbour_is_n1(vip: str) -> bool:
        return n1.mac in lan.run(client, "ip", "neigh", "show", vip).lower()

    wait_for("gratuitous ARP to land", lambda: neighbour_is_n1(VIP4), timeout=2)
    wait_for("unsolicited NA to land", lambda: neighbour_is_n1(VIP6), timeout=2)
    # The burst goes on: at once, then every 1.1 s for 5 s -> 5 rounds per IP.
    wait_for(
        "the whole burst",
        lambda: r1.call({"counters": True})["gratuitous_sent"] == {VIP4: 5, VIP6: 5},
        timeout=7,
        step=0.2,
    )


def test_filter_keeps_the_responder_asleep_for_other_ips(lan: Lan) -> None:
    n1, client = lan.add_host("n1"), lan.add_host("cl")
    r1 = lan.start(n1, "l2_responder_agent.py")
    r1.call({"update": {HOST_IF: [VIP4, VIP6]}})
    others = [f"198.51.100.{i}" for i in range(100, 150)]
    assert lan.client(client, "flood", HOST_IF, "500", *others) == {"sent": 500}
    lan.run(client, "ping", "-c", "3", "-i", "0.2", "-W", "1", n1.ipv4)
    lan.run(client, "ping", "-6", "-c", "3", "-i", "0.2", "-W", "1", n1.ipv6)  # NS for n1's own address
    assert lan.client(client, "ns", HOST_IF, "2001:db8::11", "0.3") == []
    quiet = r1.call({"counters": True})
    assert quiet["frames_received"] == 0, quiet

    assert lan.client(client, "flood", HOST_IF, "20", VIP4) == {"sent": 20}
    busy = wait_for(
        "the owned requests",
        lambda: (c := r1.call({"counters": True}))["responses_sent"].get(VIP4) == 20 and c,
        timeout=3,
    )
    assert busy["frames_received"] == 20 and busy["frames_ignored"] == 0


def test_thousands_of_owned_ips_are_all_answered_and_only_they(lan: Lan) -> None:
    """More IPv6 addresses than an exact filter holds (IPv4 documentation space is too small)."""
    n1, client = lan.add_host("n1"), lan.add_host("cl")
    r1 = lan.start(n1, "l2_responder_agent.py")
    base = ipaddress.IPv4Address("203.0.113.0")
    owned = [str(ipaddress.IPv4Address(int(base) + i)) for i in range(0, 256, 2)]
    owned += [f"2001:db8:1::{i:x}" for i in range(3000)]
    owned += [f"198.51.100.{i}" for i in range(1, 255)]
    assert r1.call({"update": {HOST_IF: owned}}) == {"ok": True}
    for ip in ("203.0.113.254", "198.51.100.1", "198.51.100.254"):
        assert [r["mac"] for r in lan.client(client, "arp", HOST_IF, ip, "0.5")] == [n1.mac]
    assert [a["mac"] for a in lan.client(client, "ns", HOST_IF, "2001:db8:1::bb7", "0.5")] == [n1.mac]
    assert lan.client(client, "arp", HOST_IF, "203.0.113.3", "0.5") == []
    # 3000 IPv6 addresses exceed an exact filter: the kernel admits their covering prefix, the
    # responder's exact check answers only owned ones (::bb8 is the first one past the range).
    assert lan.client(client, "ns", HOST_IF, "2001:db8:1::bb8", "0.5") == []
    assert r1.call({"counters": True})["frames_ignored"] >= 1
