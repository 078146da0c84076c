"""Send one BFD Control packet (state Down, your discriminator 0) with a chosen TTL / hop limit.

Usage: bfd_send.py DESTINATION TTL
"""

from __future__ import annotations

import socket
import sys

from ansible_collections.baremetal.lb.daemons.speaker.bfd.packet import ControlPacket, State

destination, ttl = sys.argv[1], int(sys.argv[2])
if ":" in destination:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
else:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
packet = ControlPacket(
    State.DOWN,
    my_discriminator=99,
    your_discriminator=0,
    desired_min_tx_us=1_000_000,
    required_min_rx_us=1_000_000,
    detect_mult=3,
)
sock.sendto(packet.encode(), (destination, 3784))
