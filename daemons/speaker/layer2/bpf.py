"""Classic BPF socket filters admitting only the frames about addresses we own.

Two kinds (:class:`Match`): :data:`ANSWER` lets through only ARP requests and neighbour
solicitations asking for an owned address, so the responder sleeps through all other traffic;
:data:`WATCH` lets through only ARP packets *sent from* an owned address and neighbour
advertisements *of* one, which is how another host claiming our address shows itself
(RFC 5227 §2.4 for ARP; an NA for the address for IPv6).

Program layout. Classic BPF conditional jumps reach at most 255 instructions ahead, so the
program never jumps far conditionally: every address test is followed by its own
``ret ACCEPT`` and a failed test skips just that entry; the two protocol blocks are reached
with ``ja``, whose offset is 32 bits. The kernel caps a program at 4096 instructions, so
past a per-family number of entries the addresses are grouped into prefixes (the longest
prefix length that yields few enough groups): the filter then admits a superset of the owned
addresses and the responder's exact check drops the rest. No owned address is ever filtered
out.
"""

from __future__ import annotations

import ctypes
import ipaddress
import socket
import struct
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from .ethernet import ETH_P_ARP, ETH_P_IPV6, HEADER_LEN

SO_ATTACH_FILTER = 26
BPF_MAXINSNS = 4096

# Opcodes (linux/filter.h): class | size | mode, class | op | source.
_LD_W_ABS = 0x20
_LD_H_ABS = 0x28
_LD_B_ABS = 0x30
_ALU_AND_K = 0x54
_JMP_JA = 0x05
_JMP_JEQ_K = 0x15
_JMP_JGT_K = 0x25
_RET_K = 0x06

_SKF_AD_PKTTYPE = (-0x1000 + 4) & 0xFFFFFFFF  # ancillary load: skb->pkt_type
_PACKET_MULTICAST = 2  # host(0), broadcast(1), multicast(2) pass; otherhost and outgoing do not
_ACCEPT = 0xFFFF
_DROP = 0

_ARP_OP = HEADER_LEN + 6
_ARP_SENDER_IP = HEADER_LEN + 14
_ARP_TARGET_IP = HEADER_LEN + 24
_IPV6_NEXT_HEADER = HEADER_LEN + 6
_ICMPV6_TYPE = HEADER_LEN + 40
_NS_TARGET = HEADER_LEN + 40 + 8

# Entries per family before grouping: an IPv4 entry takes 3 instructions, an IPv6 one at most
# 13, so 800 * 3 + 120 * 13 plus the 22 fixed instructions stays under BPF_MAXINSNS.
MAX_EXACT_V4 = 800
MAX_EXACT_V6 = 120


@dataclass(frozen=True)
class Match:
    """Which frames a filter admits.

    ARP packets of operation ``arp_op`` (any when None) whose IPv4 address at byte
    ``arp_address`` of the frame is owned, and ICMPv6 messages of type ``nd_type`` whose
    target is owned.
    """

    arp_op: int | None
    arp_address: int
    nd_type: int


ANSWER = Match(arp_op=1, arp_address=_ARP_TARGET_IP, nd_type=135)  # requests asking for us
WATCH = Match(arp_op=None, arp_address=_ARP_SENDER_IP, nd_type=136)  # anyone speaking for us


class Instruction(NamedTuple):
    """One ``struct sock_filter``."""

    code: int
    jt: int
    jf: int
    k: int


@dataclass(frozen=True)
class Program:
    """A filter program and whether it admits exactly the owned addresses (no prefix grouping)."""

    instructions: tuple[Instruction, ...]
    exact: bool

    def to_bytes(self) -> bytes:
        """The instructions as the kernel's array of ``struct sock_filter``."""
        return b"".join(struct.pack("=HBBI", *i) for i in self.instructions)


def compile_filter(
    addresses: Iterable[ipaddress.IPv4Address | ipaddress.IPv6Address],
    max_v4: int = MAX_EXACT_V4,
    max_v6: int = MAX_EXACT_V6,
    match: Match = ANSWER,
) -> Program:
    """The filter admitting the frames ``match`` describes about one of ``addresses``.

    By default (:data:`ANSWER`) ARP requests and solicitations whose target is one of
    ``addresses``. ``max_v4``/``max_v6`` bound the number of entries per family before prefix
    grouping.
    """
    owned = list(addresses)
    v4 = {int(a) for a in owned if a.version == 4}
    v6 = {int(a) for a in owned if a.version == 6}
    nets4 = _cover(v4, 32, max_v4)
    nets6 = _cover(v6, 128, max_v6)
    arp_checks = [] if match.arp_op is None else [(_LD_H_ABS, _ARP_OP, match.arp_op)]
    arp_block = _guarded(arp_checks, [_entry(match.arp_address, net, plen, 32) for net, plen in nets4])
    ns_block = _guarded(
        [(_LD_B_ABS, _IPV6_NEXT_HEADER, 58), (_LD_B_ABS, _ICMPV6_TYPE, match.nd_type)],
        [_entry(_NS_TARGET, net, plen, 128) for net, plen in nets6],
    )
    head = [
        Instruction(_LD_W_ABS, 0, 0, _SKF_AD_PKTTYPE),
        Instruction(_JMP_JGT_K, 0, 1, _PACKET_MULTICAST),
        Instruction(_RET_K, 0, 0, _DROP),
        Instruction(_LD_H_ABS, 0, 0, 12),
        Instruction(_JMP_JEQ_K, 0, 1, ETH_P_ARP),
        Instruction(_JMP_JA, 0, 0, 3),  # to the ARP block
        Instruction(_JMP_JEQ_K, 0, 1, ETH_P_IPV6),
        Instruction(_JMP_JA, 0, 0, 1 + len(arp_block)),  # to the NS block
        Instruction(_RET_K, 0, 0, _DROP),
    ]
    program = (*head, *arp_block, *ns_block)
    if len(program) > BPF_MAXINSNS:
        raise ValueError(f"filter of {len(program)} instructions; lower max_v4/max_v6")
    exact = all(plen == 32 for _unused, plen in nets4) and all(plen == 128 for _unused, plen in nets6)
    return Program(program, exact)


def attach(sock: socket.socket, program: Program) -> None:
    """Attach ``program`` to ``sock``, atomically replacing any filter it had."""
    code = program.to_bytes()
    buf = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("HP", len(program.instructions), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def _cover(values: Collection[int], bits: int, limit: int) -> list[tuple[int, int]]:
    """(network, prefix length) pairs covering ``values``: the longest prefix giving <= limit."""
    for plen in range(bits, -1, -1):
        shift = bits - plen
        nets = sorted({v >> shift << shift for v in values})
        if len(nets) <= limit:
            return [(n, plen) for n in nets]
    raise AssertionError("prefix length 0 always yields a single network")


def _entry(offset: int, network: int, plen: int, bits: int) -> list[Instruction]:
    """Compare the address at ``offset`` with ``network/plen`` and accept on a match."""
    words = bits // 32
    mask_all = ((1 << bits) - 1) ^ ((1 << (bits - plen)) - 1)
    tests: list[list[Instruction]] = []
    for i in range(words):
        shift = 32 * (words - 1 - i)
        mask = (mask_all >> shift) & 0xFFFFFFFF
        if mask == 0:
            continue
        test = [Instruction(_LD_W_ABS, 0, 0, offset + 4 * i)]
        if mask != 0xFFFFFFFF:
            test.append(Instruction(_ALU_AND_K, 0, 0, mask))
        test.append(Instruction(_JMP_JEQ_K, 0, 0, (network >> shift) & mask))
        tests.append(test)
    out: list[Instruction] = []
    remaining = sum(len(t) for t in tests) + 1  # the tests plus the final accept
    for test in tests:
        remaining -= len(test)
        jeq = test[-1]
        out += [*test[:-1], jeq._replace(jf=remaining)]
    out.append(Instruction(_RET_K, 0, 0, _ACCEPT))
    return out


def _guarded(checks: list[tuple[int, int, int]], entries: list[list[Instruction]]) -> list[Instruction]:
    """A protocol block: header checks that drop on mismatch, the entries, then drop."""
    block: list[Instruction] = []
    for load, offset, value in checks:
        block += [
            Instruction(load, 0, 0, offset),
            Instruction(_JMP_JEQ_K, 1, 0, value),
            Instruction(_RET_K, 0, 0, _DROP),
        ]
    for entry in entries:
        block += entry
    block.append(Instruction(_RET_K, 0, 0, _DROP))
    return block
