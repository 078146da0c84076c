"""A speaker of membership version 1 (all-to-all heartbeats): the old node of a rolling upgrade.

  l2_membership_v1_agent.py NAME BIND_HOST PORT KEYHEX NAME=HOST ...

Heart-beats every peer every 100 ms in version 1 and counts a peer alive while its version 1
heartbeats arrive within 300 ms, as the version 1 speaker did; anything else it cannot read.
Lines out: {"ready": true}, then {"members": [...], "t": <CLOCK_MONOTONIC>} per change.
"""

from __future__ import annotations

import json
import select
import socket
import sys
import time

from ansible_collections.baremetal.lb.daemons.speaker.membership.wire import (
    LEGACY_VERSION,
    Kind,
    Message,
    WireError,
    decode,
    encode,
)

INTERVAL, DEAD_AFTER = 0.1, 0.3
LIFETIME = 120.0  # seconds: bounded, whatever the test does


def say(obj: object) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main() -> None:
    name, host, port, key_hex, *peer_args = sys.argv[1:]
    key = bytes.fromhex(key_hex)
    peers = [(p.split("=")[1], int(port)) for p in peer_args if p.split("=")[0] != name]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, int(port)))
    incarnation, seq = time.time_ns(), 0
    heard: dict[str, float] = {}
    shown: list[str] = []
    say({"ready": True})
    next_beat = started = time.monotonic()
    while (now := time.monotonic()) - started < LIFETIME:
        if now >= next_beat:
            seq += 1
            datagram = encode(
                key, Message(Kind.HEARTBEAT, name, incarnation, seq, time.time_ns(), version=LEGACY_VERSION)
            )
            for address in peers:
                sock.sendto(datagram, address)
            next_beat += INTERVAL
        if select.select([sock], [], [], max(0.0, min(next_beat - now, 0.02)))[0]:
            try:
                message = decode(key, sock.recv(65535))
            except WireError:
                continue  # a version 2 datagram: the old speaker counted it as forged
            if message.version != LEGACY_VERSION:
                continue
            if message.kind is Kind.LEAVE:
                heard.pop(message.sender, None)
            else:
                heard[message.sender] = time.monotonic()
        now = time.monotonic()
        heard = {n: t for n, t in heard.items() if now - t <= DEAD_AFTER}
        members = sorted({name, *heard})
        if members != shown:
            shown = members
            say({"members": members, "t": now})


if __name__ == "__main__":
    main()
