"""BFD Control packet codec: the wire format (checked against scapy's independent BFD layer) and
the session-independent discard rules of RFC 5880 §6.8.6."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from scapy.contrib.bfd import BFD

from ansible_collections.baremetal.lb.daemons.speaker.bfd.packet import (
    ControlPacket,
    Diag,
    MalformedPacket,
    State,
    decode,
)

UP = ControlPacket(
    state=State.UP,
    diag=Diag.NEIGHBOR_SIGNALED_SESSION_DOWN,
    my_discriminator=5,
    your_discriminator=7,
    desired_min_tx_us=100_000,
    required_min_rx_us=300_000,
    detect_mult=3,
    required_min_echo_rx_us=50_000,
    poll=True,
)


def test_encoding_matches_scapy_field_by_field() -> None:
    data = UP.encode()
    assert len(data) == 24
    theirs = BFD(data)
    assert (theirs.version, theirs.diag, theirs.sta, str(theirs.flags)) == (1, 3, 3, "P")
    assert (theirs.detect_mult, theirs.len) == (3, 24)
    assert (theirs.my_discriminator, theirs.your_discriminator) == (5, 7)
    assert (theirs.min_tx_interval, theirs.min_rx_interval, theirs.echo_rx_interval) == (
        100_000,
        300_000,
        50_000,
    )


@pytest.mark.parametrize(
    "packet",
    [
        UP,
        dataclasses.replace(UP, poll=False, final=True, control_plane_independent=True, demand=True),
        dataclasses.replace(UP, state=State.DOWN, your_discriminator=0, diag=Diag.NONE),
        dataclasses.replace(
            UP, state=State.ADMIN_DOWN, your_discriminator=0, diag=Diag.ADMINISTRATIVELY_DOWN
        ),
        dataclasses.replace(UP, state=State.INIT, my_discriminator=0xFFFFFFFF, desired_min_tx_us=0xFFFFFFFF),
    ],
    ids=["up-poll", "final-cpi-demand", "down-no-your-discr", "admin-down", "init-max-values"],
)
def test_round_trip(packet: ControlPacket) -> None:
    assert decode(packet.encode()) == packet


def test_reserved_diag_codes_are_carried_not_rejected() -> None:
    data = bytearray(UP.encode())
    data[0] = (1 << 5) | 20
    assert decode(bytes(data)).diag == 20


def test_trailing_bytes_beyond_length_are_ignored() -> None:
    assert decode(UP.encode() + b"\x00" * 8) == UP


def _bytes(**changes: Any) -> bytes:
    packet: ControlPacket = dataclasses.replace(UP, **changes)
    return packet.encode()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (UP.encode()[:23], "shorter than the 24-byte"),
        (b"", "shorter than the 24-byte"),
        (_bytes(version=0), "version 0"),
        (_bytes(version=2), "version 2"),
        (_bytes(length=23), "length field 23 is less than 24"),
        (_bytes(length=25), "length field 25 exceeds the 24-byte payload"),
        (_bytes(detect_mult=0), "detect multiplier is zero"),
        (_bytes(multipoint=True), "multipoint"),
        (_bytes(my_discriminator=0), "my discriminator is zero"),
        (_bytes(your_discriminator=0), "your discriminator is zero in state UP"),
        (_bytes(your_discriminator=0, state=State.INIT), "your discriminator is zero in state INIT"),
        (_bytes(authentication=True, length=26) + b"\x01\x02", "authentication bit set"),
    ],
    ids=[
        "short",
        "empty",
        "version-0",
        "version-2",
        "length-below-24",
        "length-beyond-payload",
        "detect-mult-0",
        "multipoint",
        "my-discr-0",
        "your-discr-0-up",
        "your-discr-0-init",
        "auth-without-auth",
    ],
)
def test_malformed_packets_are_discarded_with_the_rule(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedPacket, match=reason):
        decode(data)
