from __future__ import annotations

import ipaddress

import pytest
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from ansible_collections.baremetal.lb.daemons.speaker.layer2 import ndp
from ansible_collections.baremetal.lb.daemons.speaker.layer2.ethernet import (
    FrameError,
    ipv6_multicast_mac,
    mac_to_bytes,
    mac_to_str,
    solicited_node_address,
)

OUR_MAC = mac_to_bytes("02:00:00:00:00:01")
ASKER_MAC = mac_to_bytes("02:00:00:00:00:02")
VIP = ipaddress.IPv6Address("2001:db8::a:bcde:f012")
ASKER = ipaddress.IPv6Address("2001:db8::1")
OUR_LL = ipaddress.IPv6Address("fe80::1")


def test_solicited_node_group_and_mac() -> None:
    group = solicited_node_address(VIP)
    assert group == ipaddress.IPv6Address("ff02::1:ffde:f012")
    assert mac_to_str(ipv6_multicast_mac(group)) == "33:33:ff:de:f0:12"


def test_solicitation_matches_scapy_checksum_and_fields() -> None:
    data = ndp.solicitation_frame(ASKER_MAC, ASKER, VIP)
    theirs = Ether(data)
    rebuilt = Ether(data)
    del rebuilt[ICMPv6ND_NS].cksum  # scapy computes it afresh on build
    assert Ether(bytes(rebuilt))[ICMPv6ND_NS].cksum == theirs[ICMPv6ND_NS].cksum
    assert theirs[IPv6].dst == "ff02::1:ffde:f012" and theirs[IPv6].hlim == 255
    assert theirs.dst == "33:33:ff:de:f0:12"
    assert theirs[ICMPv6ND_NS].tgt == str(VIP)
    assert theirs[ICMPv6NDOptSrcLLAddr].lladdr == mac_to_str(ASKER_MAC)


def _scapy_ns(src: str = str(ASKER), hlim: int = 255, lladdr: bool = True) -> bytes:
    group = str(solicited_node_address(VIP))
    packet = Ether(src=mac_to_str(ASKER_MAC), dst="33:33:ff:de:f0:12") / IPv6(src=src, dst=group, hlim=hlim)
    packet /= ICMPv6ND_NS(tgt=str(VIP))
    if lladdr:
        packet /= ICMPv6NDOptSrcLLAddr(lladdr=mac_to_str(ASKER_MAC))
    return bytes(packet)


def test_scapy_solicitation_parses() -> None:
    packet = ndp.parse_frame(_scapy_ns())
    assert packet.src == ASKER and packet.eth_src == ASKER_MAC
    assert packet.message == ndp.NeighborSolicitation(VIP, ASKER_MAC)


def test_reply_is_solicited_override_to_the_asker() -> None:
    request = ndp.parse_frame(_scapy_ns(lladdr=False))
    assert isinstance(request.message, ndp.NeighborSolicitation)
    theirs = Ether(ndp.reply_frame(request, request.message, OUR_MAC))
    na = theirs[ICMPv6ND_NA]
    assert theirs.dst == mac_to_str(ASKER_MAC) and theirs.src == mac_to_str(OUR_MAC)
    assert theirs[IPv6].dst == str(ASKER) and theirs[IPv6].src == str(VIP) and theirs[IPv6].hlim == 255
    assert (na.R, na.S, na.O, na.tgt) == (0, 1, 1, str(VIP))
    assert theirs[ICMPv6NDOptDstLLAddr].lladdr == mac_to_str(OUR_MAC)
    checked = na.cksum
    del na.cksum
    assert Ether(bytes(theirs))[ICMPv6ND_NA].cksum == checked


def test_dad_probe_is_answered_to_all_nodes_unsolicited() -> None:
    request = ndp.parse_frame(_scapy_ns(src="::", lladdr=False))
    assert isinstance(request.message, ndp.NeighborSolicitation)
    reply = ndp.parse_frame(ndp.reply_frame(request, request.message, OUR_MAC))
    assert reply.dst == ndp.ALL_NODES
    assert reply.message == ndp.NeighborAdvertisement(VIP, OUR_MAC, solicited=False, override=True)


def test_unsolicited_advertisement() -> None:
    data = ndp.unsolicited_advertisement_frame(VIP, OUR_MAC)
    packet = ndp.parse_frame(data)
    assert data[:6] == bytes.fromhex("333300000001")
    assert (packet.src, packet.dst) == (VIP, ndp.ALL_NODES)
    assert packet.message == ndp.NeighborAdvertisement(VIP, OUR_MAC, solicited=False, override=True)


def test_router_flag_round_trips() -> None:
    advert = ndp.NeighborAdvertisement(VIP, None, solicited=True, override=False, router=True)
    packet = ndp.parse_frame(ndp.encode_frame(ASKER_MAC, OUR_MAC, OUR_LL, ASKER, advert))
    assert packet.message == advert


def _corrupt_checksum(data: bytes) -> bytes:
    at = 14 + 40 + 2
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_scapy_ns(hlim=64), "hop limit"),
        (_corrupt_checksum(_scapy_ns()), "checksum"),
        (_scapy_ns()[:70], "truncated"),
        (bytes(Ether() / IPv6(hlim=255) / ICMPv6ND_NS(tgt=str(VIP)) / Raw(b"\x01\x00" + bytes(6))), "option"),
        (bytes(Ether() / IPv6(hlim=255) / ICMPv6EchoRequest(data=bytes(24))), "not neighbour discovery"),
        (b"\x00" * 20, "IPv6"),
    ],
)
def test_rejects_invalid_neighbour_discovery(data: bytes, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        ndp.parse_frame(data)
