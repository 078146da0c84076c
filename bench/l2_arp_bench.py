"""ARP answer latency and throughput of the layer-2 responder, measured between two namespaces.

    PYTHONPATH=. .venv/bin/python bench/l2_arp_bench.py [--requests 2000] [--seconds 3]   (as root)

Builds two fresh namespaces joined by a veth pair (documentation addresses only), runs the
responder pinned to one CPU in one of them and a raw-socket client pinned to another CPU in
the other, then prints:

* latency: one request at a time, p50/p99 of request-to-reply time seen by the client;
* throughput: the client sends as fast as it can for a while; answered requests per second,
  and per second of responder CPU time (the "per core" figure);
* idle wake-ups: frames for other IPs sent to the responder, and how many it received.

Everything is bounded in count and time; the namespaces are deleted afterwards.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import secrets
import select
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ansible_collections.baremetal.lb.daemons.speaker.layer2 import arp
from ansible_collections.baremetal.lb.daemons.speaker.layer2.ethernet import ETH_P_ARP
from ansible_collections.baremetal.lb.daemons.speaker.layer2.responder import Responder
from lab import netns

VIP = ipaddress.IPv4Address("198.51.100.10")
CLIENT_IP = ipaddress.IPv4Address("192.0.2.2")
IFACE = "eth0"
CLK_TCK = os.sysconf("SC_CLK_TCK")
_WINDOW = 32


def serve(cpu: int) -> None:
    """Answer for VIP on eth0 until SIGTERM; print the counters as a JSON line on SIGUSR1."""
    os.sched_setaffinity(0, {cpu})
    responder = Responder()

    def report(*_: object) -> None:
        counters = responder.counters
        answered = sum(counters.responses_sent.values())
        print(json.dumps({"frames_received": counters.frames_received, "responses": answered}), flush=True)

    signal.signal(signal.SIGTERM, lambda *_: responder.stop())
    signal.signal(signal.SIGUSR1, report)
    responder.update({IFACE: [VIP]}).add_done_callback(lambda _: print("ready", flush=True))
    responder.run()


def client(cpu: int, mode: str, amount: float) -> None:
    """Measure from the client side; print the result as JSON."""
    os.sched_setaffinity(0, {cpu})
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    sock.bind((IFACE, ETH_P_ARP))
    mac = sock.getsockname()[4]
    request = arp.request_frame(mac, CLIENT_IP, VIP)
    if mode == "latency":
        print(json.dumps(_latency(sock, request, int(amount))))
    elif mode == "throughput":
        print(json.dumps(_throughput(sock, request, amount)))
    else:  # other IPs only: the responder should never wake
        others = [arp.request_frame(mac, CLIENT_IP, VIP + i) for i in range(1, 200)]
        for i in range(int(amount)):
            sock.send(others[i % len(others)])
        print(json.dumps({"sent": int(amount)}))


def _is_reply(data: bytes) -> bool:
    return len(data) >= 42 and data[12:14] == b"\x08\x06" and data[20:22] == b"\x00\x02"


def _latency(sock: socket.socket, request: bytes, count: int) -> dict[str, float]:
    samples = []
    for _unused in range(count):
        start = time.perf_counter()
        sock.send(request)
        deadline = start + 0.2
        while (left := deadline - time.perf_counter()) > 0 and select.select([sock], [], [], left)[0]:
            if _is_reply(sock.recv(128)):
                samples.append(time.perf_counter() - start)
                break
    samples.sort()
    return {
        "answered": len(samples),
        "p50_us": statistics.median(samples) * 1e6,
        "p99_us": samples[int(len(samples) * 0.99) - 1] * 1e6,
    }


def _throughput(sock: socket.socket, request: bytes, seconds: float) -> dict[str, float]:
    """Keep WINDOW requests in flight: blasting would only overflow the veth backlog on our CPU."""
    sent = answered = lost = inflight = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        while inflight < _WINDOW:
            sock.send(request)
            sent += 1
            inflight += 1
        if not select.select([sock], [], [], 0.05)[0]:
            lost, inflight = lost + inflight, 0  # give up on what is still in flight
            continue
        sock.setblocking(False)
        try:
            while inflight:
                if _is_reply(sock.recv(128)):
                    answered += 1
                    inflight -= 1
        except BlockingIOError:
            pass
        sock.setblocking(True)
    return {"sent": sent, "answered": answered, "lost": lost, "seconds": seconds}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="latency samples")
    parser.add_argument("--seconds", type=float, default=3.0, help="throughput run length")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", choices=["latency", "throughput", "others"], help=argparse.SUPPRESS)
    parser.add_argument("--amount", type=float, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = cpus[0], cpus[-1]
    if args.serve:
        serve(server_cpu)
    elif args.client:
        client(client_cpu, args.client, args.amount)
    else:
        _orchestrate(args.requests, args.seconds)


def _orchestrate(requests: int, seconds: float) -> None:
    prefix = f"bmlbb-{secrets.token_hex(3)}"
    server_ns, client_ns = f"{prefix}-srv", f"{prefix}-cl"
    me = [sys.executable, str(Path(__file__).resolve())]
    server = None
    try:
        netns.create(server_ns)
        netns.create(client_ns)
        netns.add_veth(server_ns, IFACE, client_ns, IFACE)
        netns.add_address(server_ns, IFACE, "192.0.2.1/24")
        netns.add_address(client_ns, IFACE, f"{CLIENT_IP}/24")
        server = subprocess.Popen(
            ["ip", "netns", "exec", server_ns, *me, "--serve"], stdout=subprocess.PIPE, text=True
        )
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        counters = _Counters(server)

        def run_client(mode: str, amount: float) -> dict[str, float]:
            argv = [*me, "--client", mode, "--amount", str(amount)]
            result: dict[str, float] = json.loads(netns.exec_in(client_ns, argv, timeout=120 + seconds))
            return result

        idle = run_client("others", 5000)
        woken = counters.read()["frames_received"]
        latency = run_client("latency", requests)
        before, cpu_before = counters.read()["responses"], _cpu_seconds(server.pid)
        load = run_client("throughput", seconds)
        cpu = _cpu_seconds(server.pid) - cpu_before
        answered = counters.read()["responses"] - before
    finally:
        if server is not None and server.poll() is None:
            netns.kill_pids([server.pid])
        netns.delete(server_ns)  # stops anything still running in it
        netns.delete(client_ns)

    print(
        f"latency      {latency['answered']:.0f}/{requests} answered, "
        f"p50 {latency['p50_us']:.0f} us, p99 {latency['p99_us']:.0f} us (client-side round trip)"
    )
    print(
        f"throughput   {answered / seconds:,.0f} answered/s by the responder "
        f"({load['answered']:.0f} of {load['sent']:.0f} replies back at the client in {seconds:.1f} s, "
        f"{_WINDOW} in flight)"
    )
    print(
        f"per core     {answered / cpu:,.0f} answered per responder CPU-second "
        f"({cpu:.2f} CPU-s, {cpu / max(answered, 1) * 1e6:.1f} us CPU per answer)"
    )
    print(f"idle         {idle['sent']:.0f} requests for other IPs, {woken} reached the responder")


class _Counters:
    """Reads the serving process's counters (it prints them on SIGUSR1)."""

    def __init__(self, server: subprocess.Popen[str]) -> None:
        self._server = server

    def read(self) -> dict[str, int]:
        assert self._server.stdout is not None
        self._server.send_signal(signal.SIGUSR1)
        if not select.select([self._server.stdout], [], [], 5)[0]:
            raise TimeoutError("the responder did not report its counters")
        return dict(json.loads(self._server.stdout.readline()))


if __name__ == "__main__":
    main()
