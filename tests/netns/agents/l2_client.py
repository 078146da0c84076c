"""Client-side probes written with scapy (an implementation independent of the code under test).

arp IFACE IP WAIT            -> [{"mac": ..., "ip": ...}] every ARP reply to our request within WAIT s
ns IFACE IP6 WAIT            -> [{"mac": ..., "target": ..., "tlla": ..., "S": .., "O": .., "R": ..}]
                                every advertisement sent to us within WAIT s
dad IFACE IP6 WAIT           -> like ns, but a DAD probe from :: (answers go to ff02::1)

Gratuitous ARP replies and unsolicited advertisements (a new owner repeats them for 5 s after
a takeover) are not answers: they are left out, except for dad, whose answers go to ff02::1.
flood IFACE COUNT IP...      -> sends COUNT ARP requests cycling through the IPs, prints {"sent": n}
"""

from __future__ import annotations

import json
import socket
import sys
import time

from scapy.arch import get_if_addr, get_if_hwaddr, in6_getifaddr
from scapy.config import conf
from scapy.layers.inet import UDP
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.pton_ntop import inet_pton
from scapy.sendrecv import AsyncSniffer, sendp, sniff, srp
from scapy.utils6 import in6_getnsma, in6_getnsmac

conf.verb = 0


def arp(iface: str, ip: str, wait: float) -> list[dict[str, str]]:
    mac, own_ip = get_if_hwaddr(iface), get_if_addr(iface)
    probe = Ether(dst="ff:ff:ff:ff:ff:ff", src=mac) / ARP(op=1, pdst=ip, hwsrc=mac, psrc=own_ip)
    answered, _unused = srp(probe, iface=iface, timeout=wait, multi=True)
    return [
        {"mac": r[ARP].hwsrc, "ip": r[ARP].psrc, "eth_src": r[Ether].src}
        for _unused, r in answered
        if r[ARP].pdst == own_ip  # scapy also pairs a gratuitous reply (target = the VIP itself)
    ]


def ns(iface: str, ip: str, wait: float, dad: bool) -> list[dict[str, object]]:
    mac = get_if_hwaddr(iface)
    group = socket.inet_ntop(socket.AF_INET6, in6_getnsma(inet_pton(socket.AF_INET6, ip)))
    src = "::" if dad else _global_ipv6(iface)
    msg = ICMPv6ND_NS(tgt=ip)
    if not dad:
        msg = msg / ICMPv6NDOptSrcLLAddr(lladdr=mac)
    eth = Ether(src=mac, dst=in6_getnsmac(inet_pton(socket.AF_INET6, ip)))
    # Sniff instead of srp: scapy does not pair a DAD probe with an answer sent to ff02::1.
    sniffer = AsyncSniffer(
        iface=iface, filter="icmp6", lfilter=lambda p: ICMPv6ND_NA in p and p[ICMPv6ND_NA].tgt == ip
    )
    sniffer.start()
    time.sleep(0.2)  # the capture socket is open once start() returns, give it a moment anyway
    sendp(eth / IPv6(src=src, dst=group, hlim=255) / msg, iface=iface)
    time.sleep(wait)
    out = []
    for r in sniffer.stop() or []:
        if not dad and r[IPv6].dst != src:  # unsolicited, to ff02::1
            continue
        na = r[ICMPv6ND_NA]
        out.append(
            {
                "mac": r[Ether].src,
                "src": r[IPv6].src,
                "dst": r[IPv6].dst,
                "target": na.tgt,
                "tlla": r[ICMPv6NDOptDstLLAddr].lladdr if ICMPv6NDOptDstLLAddr in r else None,
                "S": int(na.S),
                "O": int(na.O),
                "R": int(na.R),
                "hlim": r[IPv6].hlim,
            }
        )
    return out


def flood(iface: str, count: int, ips: list[str]) -> dict[str, int]:
    mac = get_if_hwaddr(iface)
    psrc = get_if_addr(iface)
    eth = Ether(dst="ff:ff:ff:ff:ff:ff", src=mac)
    frames = [eth / ARP(op=1, pdst=ip, hwsrc=mac, psrc=psrc) for ip in ips]
    batch = [frames[i % len(frames)] for i in range(count)]
    sendp(batch, iface=iface)
    return {"sent": len(batch)}


def capture(iface: str, src: str, port: int, count: int, wait: float) -> list[str]:
    packets = sniff(iface=iface, filter=f"udp dst port {port} and src host {src}", count=count, timeout=wait)
    return [bytes(p[UDP].payload).hex() for p in packets]


def udp(host: str, port: int, payloads: list[str]) -> dict[str, int]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for payload in payloads:
            sock.sendto(bytes.fromhex(payload), (host, port))
    return {"sent": len(payloads)}


def _global_ipv6(iface: str) -> str:
    for addr, scope, name in in6_getifaddr():
        if name == iface and scope == 0:
            return addr
    raise SystemExit(f"{iface} has no global IPv6 address")


def main() -> None:
    cmd, iface = sys.argv[1], sys.argv[2]
    if cmd == "arp":
        result: object = arp(iface, sys.argv[3], float(sys.argv[4]))
    elif cmd in ("ns", "dad"):
        result = ns(iface, sys.argv[3], float(sys.argv[4]), dad=cmd == "dad")
    elif cmd == "capture":
        result = capture(iface, sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]))
    elif cmd == "udp":
        result = udp(iface, int(sys.argv[3]), sys.argv[4:])
    elif cmd == "flood":
        result = flood(iface, int(sys.argv[3]), sys.argv[4:])
    else:
        raise SystemExit(f"unknown command {cmd}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
