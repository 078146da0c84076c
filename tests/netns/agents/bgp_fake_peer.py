"""A tiny fake BGP peer: accepts one session, answers OPEN and KEEPALIVE, then sends a malformed
UPDATE (path attributes longer than the message) and reports the NOTIFICATION it gets back.

Usage: bgp_fake_peer.py LISTEN_ADDRESS ASN. Prints {"ready": true}, then {"notification": [code,
subcode]} or {"notification": null} if the connection closed without one.
"""

from __future__ import annotations

import json
import socket
import struct
import sys

MARKER = b"\xff" * 16


def message(kind: int, body: bytes) -> bytes:
    return MARKER + struct.pack("!HB", 19 + len(body), kind) + body


def read_message(conn: socket.socket) -> tuple[int, bytes]:
    header = conn.recv(19, socket.MSG_WAITALL)
    if len(header) < 19:
        raise EOFError
    length, kind = struct.unpack("!HB", header[16:19])
    body = conn.recv(length - 19, socket.MSG_WAITALL) if length > 19 else b""
    return kind, body


def main() -> None:
    address, asn = sys.argv[1], int(sys.argv[2])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, 179))
    listener.listen(1)
    listener.settimeout(30)
    print(json.dumps({"ready": True}), flush=True)
    conn, _address = listener.accept()
    conn.settimeout(10)
    read_message(conn)  # the speaker's OPEN
    conn.sendall(message(1, struct.pack("!BHH4sB", 4, asn, 3, socket.inet_aton("192.0.2.99"), 0)))
    conn.sendall(message(4, b""))
    malformed = struct.pack("!HH", 0, 200) + b"\x40\x01\x01\x00"  # claims 200 bytes of attributes
    result = None
    try:
        while True:
            kind, body = read_message(conn)
            if kind == 4 and malformed:
                conn.sendall(message(2, malformed))
                malformed = b""
            elif kind == 3:
                result = [body[0], body[1]]
                break
    except (EOFError, OSError):
        pass
    print(json.dumps({"notification": result}), flush=True)


main()
