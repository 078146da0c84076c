from __future__ import annotations

import ipaddress

import pytest
from scapy.layers.l2 import ARP, Ether

from ansible_collections.baremetal.lb.daemons.speaker.layer2 import arp
from ansible_collections.baremetal.lb.daemons.speaker.layer2.ethernet import (
    BROADCAST,
    FrameError,
    mac_to_bytes,
    mac_to_str,
)

OUR_MAC = mac_to_bytes("02:00:00:00:00:01")
ASKER_MAC = mac_to_bytes("02:00:00:00:00:02")
VIP = ipaddress.IPv4Address("198.51.100.10")
ASKER = ipaddress.IPv4Address("192.0.2.1")


def test_request_round_trips_and_matches_scapy() -> None:
    data = arp.request_frame(ASKER_MAC, ASKER, VIP)
    assert len(data) == 60
    eth, packet = arp.parse_frame(data)
    assert (eth.dst, eth.src) == (BROADCAST, ASKER_MAC)
    assert packet == arp.ArpPacket(arp.OP_REQUEST, ASKER_MAC, ASKER, b"\x00" * 6, VIP)
    theirs = Ether(data)[ARP]
    assert (theirs.op, theirs.psrc, theirs.pdst, theirs.hwsrc) == (
        1,
        str(ASKER),
        str(VIP),
        mac_to_str(ASKER_MAC),
    )


def test_reply_goes_to_the_asker_with_our_mac() -> None:
    request = arp.ArpPacket(arp.OP_REQUEST, ASKER_MAC, ASKER, b"\x00" * 6, VIP)
    eth, reply = arp.parse_frame(arp.reply_frame(request, OUR_MAC))
    assert (eth.dst, eth.src) == (ASKER_MAC, OUR_MAC)
    assert reply == arp.ArpPacket(arp.OP_REPLY, OUR_MAC, VIP, ASKER_MAC, ASKER)


def test_scapy_built_request_decodes() -> None:
    frame = bytes(
        Ether(src=mac_to_str(ASKER_MAC), dst="ff:ff:ff:ff:ff:ff") / ARP(psrc=str(ASKER), pdst=str(VIP))
    )
    _unused, packet = arp.parse_frame(frame)
    assert (packet.op, packet.sender_ip, packet.target_ip) == (arp.OP_REQUEST, ASKER, VIP)
    assert not packet.is_gratuitous


def test_gratuitous_pair_is_request_and_reply_sender_equals_target() -> None:
    frames = arp.gratuitous_frames(VIP, OUR_MAC)
    parsed = [arp.parse_frame(f) for f in frames]
    assert [p.op for _unused, p in parsed] == [arp.OP_REQUEST, arp.OP_REPLY]
    for eth, packet in parsed:
        assert eth.dst == BROADCAST and eth.src == OUR_MAC
        assert packet.sender_ip == packet.target_ip == VIP
        assert packet.sender_mac == OUR_MAC
        assert packet.is_gratuitous


@pytest.mark.parametrize(
    "data",
    [
        b"\x00" * 10,
        bytes(Ether() / ARP())[:30],  # truncated ARP
        bytes(Ether(type=0x0800) / (b"\x00" * 46)),  # not ARP
        bytes(Ether() / ARP(hwtype=6)),  # not Ethernet hardware
    ],
)
def test_rejects_what_is_not_ethernet_ipv4_arp(data: bytes) -> None:
    with pytest.raises(FrameError):
        arp.parse_frame(data)


def test_mac_text_form() -> None:
    assert mac_to_str(mac_to_bytes("02:AB:00:00:00:0f")) == "02:ab:00:00:00:0f"
    with pytest.raises(ValueError, match="not a MAC"):
        mac_to_bytes("02:00")
