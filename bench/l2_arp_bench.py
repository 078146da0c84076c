"""ARP answer latency and throughput of the layer-2 responder, measured between two namespaces.

    PYTHONPATH=. .venv/bin/python bench/l2_arp_bench.py [--requests 2000] [--seconds 3]
        [--realtime 0,10] [--lanes one,per-cpu] [--reps 5] [--burners 2]   (as root)

Builds two fresh namespaces joined by a veth pair (documentation addresses only), runs the
responder in one of them (free to run on any CPU, as the speaker's engine is) and a raw-socket
client pinned to the last CPU in the other, then prints:

* latency: one request at a time, p50/p99 of request-to-reply time seen by the client;
* throughput: the client sends as fast as it can for a while; answered requests per second,
  and per second of responder CPU time (the "per core" figure);
* idle wake-ups: frames for other IPs sent to the responder, and how many it received.

``--realtime 0,10 --reps 5 --burners 2`` compares the responder at normal priority (the speaker's
``--ml-realtime-priority=0``) with SCHED_FIFO 10 (every profile's engine) while two busy loops keep both CPUs
busy: the priorities take turns (A B, B A, ...), each run starts a fresh responder, and the
figures are medians with their range; a failed run is counted and printed. ``--lanes one,per-cpu``
compares, the same way, one answering thread (the responder before lanes) with a lane per CPU
(the shipped default); with both lists every pair takes its turn.

Everything is bounded in count and time; the namespaces are deleted afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.baremetal.lb.daemons.speaker.engine_child import run_realtime
from ansible_collections.baremetal.lb.daemons.speaker.layer2 import arp
from ansible_collections.baremetal.lb.daemons.speaker.layer2.ethernet import ETH_P_ARP
from ansible_collections.baremetal.lb.daemons.speaker.layer2.responder import Responder, lane_cpus
from ansible_collections.baremetal.lb.daemons.speaker.membership.service import REALTIME_PRIORITY
from bench.figures import median_spread
from lab import netns

VIP = ipaddress.IPv4Address("198.51.100.10")
CLIENT_IP = ipaddress.IPv4Address("192.0.2.2")
IFACE = "eth0"
CLK_TCK = os.sysconf("SC_CLK_TCK")
_WINDOW = 32
LANES: dict[str, Callable[[set[int]], list[frozenset[int]]]] = {
    "one": lambda cpus: [frozenset(cpus)],  # one answering thread, anywhere: the responder before lanes
    "per-cpu": lane_cpus,  # the speaker's default
}


def serve(priority: int = 0, lanes: str = "per-cpu") -> None:
    """Answer for VIP on eth0 until SIGTERM, at SCHED_FIFO ``priority`` (0: normal) as the layer-2
    engine runs it, from ``lanes`` (see :data:`LANES`); print the counters as a JSON line on SIGUSR1."""
    run_realtime(priority)
    responder = Responder(lanes=LANES[lanes](os.sched_getaffinity(0)))

    def report(*_: object) -> None:
        counters = responder.counters
        answered = sum(counters.responses_sent.values())
        print(json.dumps({"frames_received": counters.frames_received, "responses": answered}), flush=True)

    signal.signal(signal.SIGTERM, lambda *_: responder.stop())
    signal.signal(signal.SIGUSR1, report)
    responder.update({IFACE: [VIP]}).add_done_callback(lambda _: print("ready", flush=True))
    responder.run()


def client(cpu: int, mode: str, amount: float) -> None:
    """Measure from the client side (the instrument: SCHED_FIFO 20 when allowed); print the result as JSON."""
    os.sched_setaffinity(0, {cpu})
    with contextlib.suppress(PermissionError, OSError):
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(20))
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
    parser.add_argument("--requests", type=int, default=2000, help="latency samples per run (100-20000)")
    parser.add_argument("--seconds", type=float, default=3.0, help="throughput run length (1-30)")
    parser.add_argument(
        "--realtime",
        default=str(REALTIME_PRIORITY),
        help="the responder's SCHED_FIFO priorities to compare, comma-separated, 0: normal (default:"
        f" {REALTIME_PRIORITY}, the speaker's)",
    )
    parser.add_argument(
        "--lanes",
        default="per-cpu",
        help="the responder's answering threads to compare, comma-separated: one, per-cpu (default: per-cpu,"
        " the speaker's)",
    )
    parser.add_argument("--reps", type=int, default=1, help="runs of each variant, alternating (1-20)")
    parser.add_argument("--burners", type=int, default=0, help="busy-loop processes during the runs (0-4)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--priority", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--lane-layout", default="per-cpu", help=argparse.SUPPRESS)
    parser.add_argument("--client", choices=["latency", "throughput", "others"], help=argparse.SUPPRESS)
    parser.add_argument("--amount", type=float, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.priority, args.lane_layout)
    elif args.client:
        client(max(os.sched_getaffinity(0)), args.client, args.amount)
    else:
        priorities = [int(p) for p in args.realtime.split(",")]
        layouts = args.lanes.split(",")
        if (
            not all(0 <= p <= 99 for p in priorities)
            or not set(layouts) <= LANES.keys()
            or not 1 <= args.reps <= 20
            or not 0 <= args.burners <= 4
        ):
            parser.error(f"--realtime takes 0-99, --lanes {', '.join(LANES)}, --reps 1-20, --burners 0-4")
        requests = max(100, min(args.requests, 20000))
        seconds = max(1.0, min(args.seconds, 30.0))
        variants = [Variant(p, layout) for p in priorities for layout in layouts]
        _orchestrate(requests, seconds, variants, args.reps, args.burners)


Run = dict[str, float]


@dataclass(frozen=True)
class Variant:
    """One responder setting compared: its SCHED_FIFO priority (0: normal) and its lanes."""

    priority: int
    lanes: str

    def __str__(self) -> str:
        return f"{'normal' if self.priority == 0 else f'SCHED_FIFO {self.priority}'}, {self.lanes} lane(s)"


def _orchestrate(requests: int, seconds: float, variants: list[Variant], reps: int, burners: int) -> None:
    prefix = f"bmlbb-{secrets.token_hex(3)}"
    server_ns, client_ns = f"{prefix}-srv", f"{prefix}-cl"
    me = [sys.executable, str(Path(__file__).resolve())]
    runs: dict[Variant, list[Run]] = {v: [] for v in variants}
    failed: dict[Variant, list[str]] = {v: [] for v in variants}
    bound = reps * len(variants) * (seconds + requests * 0.001 + 30) + 60  # seconds, generous
    load: list[subprocess.Popen[bytes]] = []
    try:
        netns.create(server_ns)
        netns.create(client_ns)
        netns.add_veth(server_ns, IFACE, client_ns, IFACE)
        netns.add_address(server_ns, IFACE, "192.0.2.1/24")
        netns.add_address(client_ns, IFACE, f"{CLIENT_IP}/24")

        def run_client(mode: str, amount: float) -> dict[str, float]:
            argv = [*me, "--client", mode, "--amount", str(amount)]
            result: dict[str, float] = json.loads(netns.exec_in(client_ns, argv, timeout=120 + seconds))
            return result

        with _server(server_ns, me, Variant(0, "per-cpu")) as counters:
            idle = run_client("others", 5000)
            woken = counters.read()["frames_received"]
        load = [_burner(bound) for _unused in range(burners)]
        for rep in range(reps):
            order = variants if rep % 2 == 0 else variants[::-1]
            for variant in order:
                try:
                    with _server(server_ns, me, variant) as counters:
                        run = _measure(counters, run_client, requests, seconds)
                except Exception as error:  # counted and printed, never dropped
                    failed[variant].append(f"{type(error).__name__}: {error}")
                    print(f"  run {rep + 1}, {variant}: FAILED {error}", flush=True)
                    continue
                runs[variant].append(run)
                print(
                    f"  run {rep + 1}, {variant}: p50 {run['p50_us']:.0f} us,"
                    f" p99 {run['p99_us']:.0f} us, {run['per_core']:,.0f} answers per CPU-second",
                    flush=True,
                )
    finally:
        netns.kill_pids([p.pid for p in load if p.poll() is None])
        netns.delete(server_ns)  # stops anything still running in it
        netns.delete(client_ns)
    _report(runs, failed, requests, seconds, burners)
    print(f"idle         {idle['sent']:.0f} requests for other IPs, {woken} reached the responder")


@contextlib.contextmanager
def _server(namespace: str, me: list[str], variant: Variant) -> Iterator[_Counters]:
    """The responder serving in ``namespace`` as ``variant`` says, stopped afterwards."""
    argv = ["ip", "netns", "exec", namespace, *me, "--serve", "--priority", str(variant.priority)]
    argv += ["--lane-layout", variant.lanes]
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        if not select.select([server.stdout], [], [], 30)[0] or server.stdout.readline().strip() != "ready":
            raise RuntimeError("the responder did not start within 30 s")
        yield _Counters(server)
    finally:
        if server.poll() is None:
            netns.kill_pids([server.pid])


def _burner(seconds: float) -> subprocess.Popen[bytes]:
    """A busy loop at normal priority that ends by itself after ``seconds`` (and is killed by PID)."""
    loop = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass"
    return subprocess.Popen([sys.executable, "-c", loop])


def _measure(
    counters: _Counters, run_client: Callable[[str, float], Run], requests: int, seconds: float
) -> Run:
    latency = run_client("latency", requests)
    pid = counters.pid
    before, cpu_before = counters.read()["responses"], _cpu_seconds(pid)
    load = run_client("throughput", seconds)
    cpu = _cpu_seconds(pid) - cpu_before
    answered = counters.read()["responses"] - before
    return {
        **latency,
        "rate": answered / seconds,
        "per_core": answered / max(cpu, 1e-9),
        "cpu_us": cpu / max(answered, 1) * 1e6,
        "client_answered": load["answered"],
        "client_sent": load["sent"],
    }


def _spread(values: list[float]) -> str:
    return median_spread(values, "{:,.0f}".format)


def _report(
    runs: dict[Variant, list[Run]],
    failed: dict[Variant, list[str]],
    requests: int,
    seconds: float,
    burners: int,
) -> None:
    cpus = os.cpu_count()
    print(
        f"\nARP answers, responder on any CPU, client (SCHED_FIFO when allowed) pinned to CPU"
        f" {max(os.sched_getaffinity(0))}; {burners} busy loops on {cpus} CPUs; {requests} latency samples"
        f" and {seconds:.0f} s of throughput per run; median (min-max) over runs\n"
    )
    print("| responder | runs | failed | p50 us | p99 us | answered/s | per CPU-second |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for variant, done in runs.items():
        cells = [
            str(variant),
            str(len(done) + len(failed[variant])),
            str(len(failed[variant])),
            _spread([r["p50_us"] for r in done]),
            _spread([r["p99_us"] for r in done]),
            _spread([r["rate"] for r in done]),
            _spread([r["per_core"] for r in done]),
        ]
        print("| " + " | ".join(cells) + " |")
    for variant, errors in failed.items():
        for error in errors:
            print(f"  failed run, {variant}: {error}")


class _Counters:
    """Reads the serving process's counters (it prints them on SIGUSR1)."""

    def __init__(self, server: subprocess.Popen[str]) -> None:
        self._server = server
        self.pid = server.pid

    def read(self) -> dict[str, int]:
        assert self._server.stdout is not None
        self._server.send_signal(signal.SIGUSR1)
        if not select.select([self._server.stdout], [], [], 5)[0]:
            raise TimeoutError("the responder did not report its counters")
        return dict(json.loads(self._server.stdout.readline()))


if __name__ == "__main__":
    main()
