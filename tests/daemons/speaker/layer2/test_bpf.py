"""The generated filters, run through a small classic-BPF interpreter written for this test."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.baremetal.lb.daemons.speaker.layer2 import arp, bpf, ndp
from ansible_collections.baremetal.lb.daemons.speaker.layer2.ethernet import mac_to_bytes

MAC = mac_to_bytes("02:00:00:00:00:02")
HOST, BROADCAST, OTHERHOST, OUTGOING = 0, 1, 3, 4
PKTTYPE = (-0x1000 + 4) & 0xFFFFFFFF


def run(program: bpf.Program, packet: bytes, pkttype: int = BROADCAST) -> int:
    """Execute like the kernel: out-of-range loads drop the packet."""
    code = program.instructions
    acc, pc = 0, 0
    for _unused in range(len(code) + 1):
        op, jt, jf, k = (int(v) for v in code[pc])
        pc += 1
        if op in (0x20, 0x28, 0x30):
            if k == PKTTYPE:
                acc = pkttype
                continue
            size = {0x20: 4, 0x28: 2, 0x30: 1}[op]
            if k + size > len(packet):
                return 0
            acc = int.from_bytes(packet[k : k + size], "big")
        elif op == 0x54:
            acc &= k
        elif op == 0x15:
            pc += jt if acc == k else jf
        elif op == 0x25:
            pc += jt if acc > k else jf
        elif op == 0x05:
            pc += k
        elif op == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")
    raise AssertionError("program did not terminate")


def arp_request(target: str) -> bytes:
    return bytes(arp.request_frame(MAC, ipaddress.IPv4Address("192.0.2.1"), ipaddress.IPv4Address(target)))


def solicitation(target: str) -> bytes:
    return bytes(
        ndp.solicitation_frame(MAC, ipaddress.IPv6Address("2001:db8::1"), ipaddress.IPv6Address(target))
    )


def assert_well_formed(program: bpf.Program) -> None:
    code = program.instructions
    assert len(code) <= bpf.BPF_MAXINSNS
    assert code[-1].code == 0x06
    for pc, (op, jt, jf, k) in enumerate(code):
        assert 0 <= jt <= 255 and 0 <= jf <= 255
        targets = [pc + 1 + k] if op == 0x05 else [pc + 1 + jt, pc + 1 + jf] if op in (0x15, 0x25) else []
        assert all(t < len(code) for t in targets)


def test_empty_set_admits_nothing() -> None:
    program = bpf.compile_filter([])
    assert_well_formed(program)
    assert run(program, arp_request("198.51.100.10")) == 0
    assert run(program, solicitation("2001:db8::10")) == 0


def test_exact_filter_for_a_mixed_set() -> None:
    owned = [ipaddress.ip_address(a) for a in ("198.51.100.10", "2001:db8::10")]
    program = bpf.compile_filter(owned)
    assert program.exact
    assert_well_formed(program)
    assert run(program, arp_request("198.51.100.10")) > 0
    assert run(program, arp_request("198.51.100.11")) == 0
    assert run(program, solicitation("2001:db8::10")) > 0
    assert run(program, solicitation("2001:db8::11")) == 0


@pytest.mark.parametrize("pkttype", [OTHERHOST, OUTGOING])
def test_frames_not_for_us_are_dropped(pkttype: int) -> None:
    program = bpf.compile_filter([ipaddress.ip_address("198.51.100.10")])
    assert run(program, arp_request("198.51.100.10"), pkttype) == 0
    assert run(program, arp_request("198.51.100.10"), HOST) > 0


def test_replies_and_advertisements_are_dropped() -> None:
    vip4, vip6 = ipaddress.IPv4Address("198.51.100.10"), ipaddress.IPv6Address("2001:db8::10")
    program = bpf.compile_filter([vip4, vip6])
    request = arp.ArpPacket(arp.OP_REQUEST, MAC, ipaddress.IPv4Address("192.0.2.1"), bytes(6), vip4)
    assert run(program, arp.reply_frame(request, MAC)) == 0
    assert run(program, ndp.unsolicited_advertisement_frame(vip6, MAC)) == 0
    assert run(program, b"\x00" * 14) == 0  # too short to hold an ARP header: dropped by the kernel


def test_thousands_of_addresses_fit_and_none_is_lost() -> None:
    owned: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [
        ipaddress.IPv4Address("198.51.100.0") + i * 3 for i in range(5000)
    ]
    owned += [ipaddress.IPv6Address("2001:db8::") + i * 7 for i in range(5000)]
    program = bpf.compile_filter(owned)
    assert not program.exact
    assert_well_formed(program)
    for ip in owned[::97]:
        frame = arp_request(str(ip)) if ip.version == 4 else solicitation(str(ip))
        assert run(program, frame) > 0
    assert run(program, arp_request("203.0.113.1")) == 0  # far outside the grouped prefixes


v4s = st.builds(lambda n: ipaddress.IPv4Address("198.51.100.0") + n, st.integers(0, 63))
v6s = st.builds(lambda n: ipaddress.IPv6Address("2001:db8::") + (n << 40 | n), st.integers(0, 63))


@settings(max_examples=150, deadline=None)
@given(
    owned=st.sets(st.one_of(v4s, v6s), max_size=20),
    queries=st.lists(st.one_of(v4s, v6s), max_size=10),
    max_entries=st.integers(1, 25),
)
def test_never_drops_owned_and_exact_when_it_says_so(
    owned: set[ipaddress.IPv4Address | ipaddress.IPv6Address],
    queries: list[ipaddress.IPv4Address | ipaddress.IPv6Address],
    max_entries: int,
) -> None:
    program = bpf.compile_filter(owned, max_v4=max_entries, max_v6=max_entries)
    assert_well_formed(program)
    for ip in [*owned, *queries]:
        frame = arp_request(str(ip)) if ip.version == 4 else solicitation(str(ip))
        admitted = run(program, frame) > 0
        if ip in owned:
            assert admitted
        elif program.exact:
            assert not admitted


VIP4, VIP6 = ipaddress.IPv4Address("198.51.100.10"), ipaddress.IPv6Address("2001:db8::10")
OTHER4, OTHER6 = ipaddress.IPv4Address("198.51.100.11"), ipaddress.IPv6Address("2001:db8::11")
CLIENT4 = ipaddress.IPv4Address("192.0.2.1")


def _arp(op: int, sender: ipaddress.IPv4Address, target: ipaddress.IPv4Address) -> bytes:
    return arp.frame(arp.BROADCAST, MAC, arp.ArpPacket(op, MAC, sender, bytes(6), target))


@pytest.mark.parametrize(
    ("frame", "admitted"),
    [
        pytest.param(_arp(arp.OP_REPLY, VIP4, CLIENT4), True, id="arp reply from the vip"),
        pytest.param(arp.gratuitous_frames(VIP4, MAC)[0], True, id="gratuitous request for the vip"),
        pytest.param(arp.gratuitous_frames(VIP4, MAC)[1], True, id="gratuitous reply for the vip"),
        pytest.param(_arp(arp.OP_REQUEST, VIP4, CLIENT4), True, id="request asked from the vip"),
        pytest.param(ndp.unsolicited_advertisement_frame(VIP6, MAC), True, id="na of the vip"),
        pytest.param(_arp(arp.OP_REQUEST, CLIENT4, VIP4), False, id="request asking for the vip"),
        pytest.param(arp.probe_frame(MAC, VIP4), False, id="arp probe for the vip"),
        pytest.param(_arp(arp.OP_REPLY, OTHER4, CLIENT4), False, id="arp reply from another ip"),
        pytest.param(ndp.unsolicited_advertisement_frame(OTHER6, MAC), False, id="na of another ip"),
        pytest.param(solicitation(str(VIP6)), False, id="solicitation for the vip"),
    ],
)
def test_the_watch_admits_exactly_the_frames_where_someone_speaks_for_an_owned_ip(
    frame: bytes, admitted: bool
) -> None:
    program = bpf.compile_filter([VIP4, VIP6], match=bpf.WATCH)
    assert_well_formed(program)
    assert (run(program, frame) > 0) is admitted
    assert run(program, frame, OUTGOING) == 0  # our own announcements never wake the watch


def test_the_watch_groups_thousands_of_addresses_without_losing_one() -> None:
    owned = [ipaddress.IPv4Address("198.51.100.0") + i * 3 for i in range(5000)]
    program = bpf.compile_filter(owned, match=bpf.WATCH)
    assert_well_formed(program)
    assert all(run(program, arp.gratuitous_frames(ip, MAC)[0]) > 0 for ip in owned[::97])
