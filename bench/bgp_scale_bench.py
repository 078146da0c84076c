"""BGP at scale: how long our speaker takes to announce N prefixes to a router, against GoBGP.

    .venv/bin/python -m bench.bgp_scale_bench [--prefixes 1000,10000] [--reps 5]   (root)

Topology, in namespaces the bench creates and removes (prefix ``bmlbs-<6 hex>``): one bridge and
three hosts on 192.0.2.0/24 and 2001:db8::/64. The receiver is BIRD2 (AS 64500) with one BGP
protocol per sender, IPv6 unicast imported, nothing exported and no kernel protocol, so the
receiver's work is the same for both senders and no netlink writes dilute the comparison:

* A, ``speaker`` (AS 64512): our shipped runtime, the BGP engine as a child process through
  EngineProcess, fed one peer order with the handler's default hold and connect times
  and then one routes order with all N routes, as daemons/speaker/bgp/handler.py feeds it;
* B, ``gobgp`` (AS 64513): gobgpd (Debian's package, started as the lab starts it), fed the same
  prefixes through its own gRPC API in batch: ``AddPathStream``, 1000 paths per request, stubs
  generated from the .proto files of the installed version (bench/gobgp_api.py).

Prefixes: IPv6 /128s 2001:db8:b::1 ... (inside the documentation range 2001:db8::/32; IPv4's
documentation ranges hold only 768 host routes), sent as MP-BGP IPv6 NLRI over the IPv4 session.

One trial: both sessions Established; the sender's agent (bench/bgp_scale_agent.py, inside the
sender's namespace) takes CLOCK_MONOTONIC just before it hands all N routes over (A: the routes
order written to the engine's stdin; B: the AddPathStream call, paths prebuilt); the bench polls
BIRD every 10 ms (the resolution of every figure) over its control socket for the channel's
``Routes: N imported`` counter of that sender's protocol and stops the clock when it reads N.
That counter is BIRD's count of routes now in its table from that protocol, kept as routes are
imported, so reading it costs O(1), unlike ``show route count`` which walks the table. Then the
sender withdraws everything and the bench waits for 0 before the next trial.

Systems alternate, and so does who goes first (A B, B A, A B, ...), after one untimed warm-up round
at the largest size (each sender's first announcement pays one-off costs: the gRPC channel, first
allocations). Per system and size the median and the spread (min-max) are printed, the median
hand-over (how long the call that hands the routes over took: A's pipe write, B's whole
AddPathStream, of which building the requests in Python is about 10 ms per 10,000 paths), the ratio
of medians (speaker / GoBGP; the goal is <= 2), and failed trials, warm-up ones included (counted,
never dropped; a failed trial has no figure). Memory: the engine process's RSS (VmRSS; VmHWM is its
peak) with the session up and no routes, and after the largest size arrived. It is the whole engine
child: the Python interpreter, the speaker's modules, the asyncio loop and the BFD thread, the
session's Adj-RIB-Out and the last routes order. It excludes the Kubernetes half (here the agent
stands in for it) and kernel socket buffers. gobgpd's RSS is printed beside it for scale (its whole
process: global RIB, Adj-RIB-Out, the Go runtime, whose garbage collector lets RSS run ahead of the
live heap). Exit status 1 when a trial failed."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import gobgp_api  # noqa: E402
from bench.bgp_scale_agent import SCALE_NETWORK  # noqa: E402
from lab import process, routers  # noqa: E402
from tests.netns.conftest import Agent, Host, Lan, open_lan  # noqa: E402

RECEIVER_ASN, SPEAKER_ASN, GOBGP_ASN = 64500, 64512, 64513
SYSTEMS = ("speaker", "gobgp")  # A, B; every other round runs them B, A
POLL = 0.01  # seconds between reads of BIRD's counter
ESTABLISHED_WITHIN = 60.0  # our connect backoff meets BIRD's error wait: see tests/netns/test_bgp_routes.py
SECONDS_PER_PREFIX = 0.01  # the bound of one trial: 10 s plus this per prefix, generous on a busy machine


def receiver_conf(receiver: Host, senders: dict[str, tuple[Host, int]]) -> str:
    """BIRD's configuration: one protocol per sender (named after it) importing IPv6 unicast."""
    protocols = "".join(
        f"protocol bgp {name} {{\n"
        f"  local {receiver.ipv4} as {RECEIVER_ASN};\n"
        f"  neighbor {host.ipv4} as {asn};\n"
        "  connect delay time 1; connect retry time 1; error wait time 1, 5;\n"
        "  ipv6 { import all; export none; };\n"
        "}\n"
        for name, (host, asn) in senders.items()
    )
    return f"router id {receiver.ipv4};\nprotocol device {{ }}\n{protocols}"


class BirdControl:
    """BIRD's control socket, spoken directly (a Unix socket reaches across network namespaces)."""

    _END = re.compile(rb"^(0000|[89]\d{3}) ", re.MULTILINE)  # the last line of a reply, or an error

    def __init__(self, path: str) -> None:
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.settimeout(10)
        self._socket.connect(path)
        self.greeting = self._read()[5:].strip()  # "0001 BIRD x.y ready."

    def command(self, line: str) -> str:
        """Send one command and return its whole reply."""
        self._socket.sendall(line.encode() + b"\n")
        return self._read()

    def _read(self) -> str:
        reply = b""
        while not self._END.search(reply) and not reply.startswith(b"0001 "):
            chunk = self._socket.recv(65536)
            if not chunk:
                raise ConnectionError("BIRD closed its control socket")
            reply += chunk
        return reply.decode(errors="replace")

    def protocol(self, name: str) -> tuple[str, int]:
        """The BGP state of protocol ``name`` and how many routes its IPv6 channel has imported."""
        reply = self.command(f"show protocols all {name}")
        state = re.search(r"BGP state:\s+(\w+)", reply)
        routes = re.search(r"Routes:\s+(\d+) imported", reply)
        return (state.group(1) if state else "?", int(routes.group(1)) if routes else 0)

    def close(self) -> None:
        """Close the socket."""
        self._socket.close()


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {key: int(value) for key, value in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.MULTILINE)}


@dataclass
class Trial:
    """One timed announcement: seconds to the receiver's last route, or why it failed."""

    system: str
    size: int
    seconds: float | None
    error: str = ""
    hand_over: float = 0.0  # seconds the hand-over call took (A: the pipe write; B: AddPathStream)


@dataclass
class Results:
    """Every trial and the memory figures of a run."""

    trials: list[Trial] = field(default_factory=list)
    warmups: list[Trial] = field(default_factory=list)  # untimed: not in the figures
    # (system, routes held) -> VmRSS/VmHWM in KiB; 0 routes: the session up and idle
    memory: dict[tuple[str, int], dict[str, int]] = field(default_factory=dict)

    @property
    def failed(self) -> list[Trial]:
        """The trials without a figure, warm-up trials included."""
        return [t for t in self.warmups + self.trials if t.seconds is None]


@dataclass
class Bench:
    """The running topology: the receiver's control socket, and each sender's agent and PID."""

    bird: BirdControl
    agents: dict[str, Agent]
    pids: dict[str, int]  # speaker: the engine process, gobgp: gobgpd
    memory: dict[tuple[str, int], dict[str, int]] = field(default_factory=dict)  # as Results.memory

    def wait_established(self) -> str:
        """Wait until BIRD has every session Established and the engine says so too; '' or why not."""
        deadline = time.monotonic() + ESTABLISHED_WITHIN
        while True:
            states = {name: self.bird.protocol(name)[0] for name in SYSTEMS}
            if all(state == "Established" for state in states.values()):
                break
            if time.monotonic() > deadline:
                return f"sessions not Established within {ESTABLISHED_WITHIN:.0f}s: {states}"
            time.sleep(0.1)
        answer = self.agents["speaker"].call({"established": ESTABLISHED_WITHIN}, ESTABLISHED_WITHIN + 5)
        return str(answer.get("error", ""))

    def trial(self, system: str, size: int, measure_memory: bool = False) -> Trial:
        """Announce ``size`` prefixes from ``system``, time their arrival, then withdraw them.

        With ``measure_memory`` both senders' RSS is recorded while the routes are held.
        """
        why = self.wait_established()
        if why:
            return Trial(system, size, None, why)
        bound = 10 + size * SECONDS_PER_PREFIX
        agent = self.agents[system]
        agent.send({"announce": size})
        arrived = self._wait_count(system, size, bound)
        times = agent.read(bound)
        trial = Trial(system, size, arrived - times["t0"] if arrived is not None else None)
        trial.hand_over = times["handed"] - times["t0"]
        if arrived is None:
            trial.error = f"the receiver did not hold {size} routes within {bound:.0f}s"
        elif measure_memory:
            self.memory[system, size] = rss_kib(self.pids[system])
        agent.send({"announce": 0})
        if self._wait_count(system, 0, bound) is None:
            trial.seconds = None
            trial.error = trial.error or f"routes from {system} still held {bound:.0f}s after the withdrawal"
        agent.read(bound)
        return trial

    def _wait_count(self, system: str, count: int, bound: float) -> float | None:
        """Poll BIRD until ``system``'s protocol holds ``count`` routes; CLOCK_MONOTONIC then, or None."""
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            if self.bird.protocol(system)[1] == count:
                return time.monotonic()
            time.sleep(POLL)
        return None


def start_agent(lan: Lan, host: Host, log: Path, *args: str) -> tuple[Agent, int | None]:
    """Start bench/bgp_scale_agent.py in ``host``'s namespace; return it and its engine's PID.

    Both PIDs join the LAN's cleanup list; the agent's and the engine's logs go to ``log``.
    """
    with open(log, "ab") as errors:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", host.netns, sys.executable, "-m", "bench.bgp_scale_agent", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            cwd=REPO,
        )
    lan.pids.append(proc.pid)
    agent = Agent(proc)
    try:
        ready = agent.read(60)
    except (RuntimeError, TimeoutError) as failed:
        raise RuntimeError(
            f"the {args[0]} agent did not start: {failed}\n{process.log_tail(str(log))}"
        ) from None
    engine = int(ready["pid"]) if ready.get("pid") else None
    if engine:
        lan.pids.append(engine)
    return agent, engine


@contextmanager
def topology(lan: Lan) -> Iterator[Bench]:
    """Receiver, our speaker and gobgpd on ``lan``; everything is removed with the LAN."""
    gobgp_api.stubs_dir(gobgp_api.installed_version())  # here: the namespaces have no way out
    work = Path(tempfile.mkdtemp(prefix="bmlbs-"))
    work.chmod(0o755)
    lan.cleanups.append(lambda: shutil.rmtree(work, ignore_errors=True))
    receiver, speaker, gobgp = (lan.add_host(name) for name in ("receiver", "speaker", "gobgp"))
    conf, control = work / "bird.conf", work / "bird.ctl"
    conf.write_text(receiver_conf(receiver, {"speaker": (speaker, SPEAKER_ASN), "gobgp": (gobgp, GOBGP_ASN)}))
    bird = process.start("bird", receiver.netns, ["bird", "-f", "-c", str(conf), "-s", str(control)], work)
    lan.pids.append(bird.pid)
    process.wait_until("BIRD's control socket", control.exists, 20, bird)
    (work / "gobgp").mkdir()
    peering = routers.Peering(f"{receiver.ipv4}/32", RECEIVER_ASN)
    gobgpd, api = routers.start_router("gobgp", gobgp, GOBGP_ASN, peering, work=work / "gobgp", log_dir=work)
    lan.pids.extend(p.pid for p in gobgpd)
    ours, engine = start_agent(
        lan,
        speaker,
        work / "speaker.log",
        "speaker",
        receiver.ipv4,
        speaker.ipv4,
        str(SPEAKER_ASN),
        str(RECEIVER_ASN),
    )
    # GoBGP's agent runs no engine of ours: only the agent itself is kept.
    theirs = start_agent(lan, gobgp, work / "gobgp-agent.log", "gobgp", api, gobgp.ipv6)[0]
    if engine is None:
        raise RuntimeError("the speaker agent reported no engine PID")
    bird_control = BirdControl(str(control))
    try:
        yield Bench(
            bird_control, {"speaker": ours, "gobgp": theirs}, {"speaker": engine, "gobgp": gobgpd[0].pid}
        )
    finally:
        bird_control.close()


def run(lan: Lan, sizes: list[int], reps: int, say: Callable[[str], None] = print) -> Results:
    """Time ``reps`` announcements of every size for each system: A B, then B A, and so on."""
    results = Results()
    with topology(lan) as bench:
        say(f"receiver: {bench.bird.greeting}")
        why = bench.wait_established()
        if why:
            raise RuntimeError(why)
        for system in SYSTEMS:
            bench.memory[system, 0] = rss_kib(bench.pids[system])
        # One untimed round first: each sender's first announcement pays one-off costs (the gRPC
        # channel, gobgpd's and the engine's first allocations) that no later trial pays.
        rounds = [("warm-up", max(sizes), results.warmups)]
        rounds += [(f"rep {rep + 1}/{reps}", size, results.trials) for size in sizes for rep in range(reps)]
        for number, (label, size, into) in enumerate(rounds):
            for system in SYSTEMS if number % 2 == 0 else SYSTEMS[::-1]:
                last = into is results.trials and size == max(sizes) and label == f"rep {reps}/{reps}"
                trial = bench.trial(system, size, measure_memory=last)
                into.append(trial)
                figure = f"{trial.seconds:.3f} s" if trial.seconds is not None else f"FAILED: {trial.error}"
                say(f"{size:>6} prefixes  {label:<9} {system:<8} {figure}")
        results.memory = bench.memory
    return results


def row(trials: list[Trial]) -> tuple[float | None, str]:
    """The median of the trials' figures (None without any) and their table cells after the names."""
    figures = [t.seconds for t in trials if t.seconds is not None]
    failed = len(trials) - len(figures)
    if not figures:
        return None, f"- | - | - | 0 | {failed} |"
    median = statistics.median(figures)
    hand_over = statistics.median(t.hand_over for t in trials)
    spread = f"{min(figures):.3f}-{max(figures):.3f}"
    return median, f"{median:.3f} | {spread} | {hand_over:.3f} | {len(figures)} | {failed} |"


def report(results: Results, sizes: list[int]) -> str:
    """The figures as Markdown: per size and system median and spread, the ratio, memory."""
    lines = [
        "| prefixes | system | median s | min-max s | hand-over median s | ok | failed |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    ratios = []
    for size in sizes:
        medians = {}
        for system in SYSTEMS:
            median, cells = row([t for t in results.trials if t.system == system and t.size == size])
            lines.append(f"| {size} | {system} | {cells}")
            if median is not None:
                medians[system] = median
        if len(medians) == len(SYSTEMS) and medians["gobgp"] > 0:
            ratio = medians["speaker"] / medians["gobgp"]
            ratios.append(f"- {size} prefixes: speaker / GoBGP = {ratio:.2f}x (goal <= 2x)")
    lines += ["", "Ratio of medians:", *(ratios or ["- none: a system has no successful trial"])]
    lines += [
        "",
        "Memory (VmRSS, peak VmHWM). The speaker's figure is its engine process alone: the Python",
        "interpreter, the speaker's modules, the asyncio loop, the BFD thread, the session's",
        "Adj-RIB-Out and the last routes order; not the Kubernetes half, not kernel socket buffers.",
    ]
    for (system, routes), kib in sorted(
        results.memory.items(), key=lambda m: (SYSTEMS.index(m[0][0]), m[0][1])
    ):
        rss, peak = kib.get("VmRSS", 0), kib.get("VmHWM", 0)
        line = (
            f"- {system}, session up, {routes} routes: RSS {rss / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB"
        )
        idle = results.memory.get((system, 0), {}).get("VmRSS")
        if routes and idle:
            line += f" ({(rss - idle) / routes:.2f} KiB per route over idle)"
        lines.append(line)
    lines += [
        "",
        f"Failed trials: {len(results.failed)}",
        *(f"- {t.system}, {t.size} prefixes: {t.error}" for t in results.failed),
    ]
    return "\n".join(lines)


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the bench in fresh namespaces, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--prefixes", default="1000,10000", help="comma-separated sizes (default 1000,10000)")
    parser.add_argument("--reps", type=int, default=5, help="trials per system and size (default 5)")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.prefixes.split(",")]
    if args.reps < 1 or any(size < 1 or size > 65535 for size in sizes):
        parser.error("--reps must be at least 1 and every size between 1 and 65535")
    if os.geteuid() != 0:
        parser.error("network namespaces need root: run it as root")
    signal.signal(signal.SIGTERM, _stop)
    version = subprocess.run(
        ["gobgp", "--version"], check=False, capture_output=True, text=True, timeout=10
    ).stdout.strip()
    print(
        f"baseline: {version}, prefixes injected through its gRPC AddPathStream "
        f"(batches of {gobgp_api.BATCH}); receiver BIRD2; "
        f"IPv6 /128s from {SCALE_NETWORK}; clock CLOCK_MONOTONIC, poll every {POLL * 1000:.0f} ms"
    )
    with open_lan("bmlbs") as lan:
        results = run(lan, sizes, args.reps)
    print(report(results, sizes))
    return 1 if results.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
