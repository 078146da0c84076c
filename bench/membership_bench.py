"""Membership at scale: datagrams per node, detection time and false deaths over N members.

    .venv/bin/python -m bench.membership_bench [--sizes 3,30,200] [--kills 20,20,20]
        [--steady 20] [--max-seconds 300] [--per-process 10] [--profile default]   (root)

For each N, in namespaces the bench creates and removes (prefix ``bmlbm-<6 hex>``; a bridge and
up to 10 hosts on 192.0.2.0/24): N members, several per namespace when N > 10, each with its
own socket running the speaker's :class:`~daemons.speaker.membership.service.Membership` with
the profile's timing, up to ``--per-process`` of them driven by one thread of one process
(bench/membership_agent.py; one per process is what the speaker does, but 200 interpreters on
two cores measure the interpreters, not the protocol), real UDP between them, then:

1. members start, 20 a second (a whole domain starting within a millisecond would flood itself
   with joins, which real nodes do not do), until all N see all N (the time it took is printed);
2. ``--steady`` seconds without faults: datagrams sent plus received per member per second, from
   each member's own counters (mean and max over members);
3. kills: a random member is silenced at once (socket closed, no LEAVE: to its peers, a SIGKILLed
   node); its detection time is from that moment, stamped by its process, to the moment the
   *last* live member dropped it (each member stamps its change with CLOCK_MONOTONIC, the
   bench's clock too); then it is started again under the same name (a new incarnation) and the
   bench waits until all N see all N before the next kill. A kill not detected everywhere within
   5 s, or a restart not seen everywhere within 15 s, is a failed trial, counted, never dropped.
   Kills stop early when ``--max-seconds`` for the size ran out (said in the table);
4. false deaths: every drop of a member that was not the one killed, from the first convergence
   to the end, over the steady phase and the kills (the observed seconds), counted per observer
   and as distinct members dropped.

Packets per member per second are also given over the whole run after convergence (steady phase
plus kills and restarts, whose broadcasts cost one datagram per member each).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import random
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from ansible_collections.baremetal.lb.daemons.speaker.membership.service import (
    DEFAULT_PROFILE,
    PROFILES,
    Timing,
)
from tests.netns.conftest import Lan, open_lan

REPO = Path(__file__).resolve().parent.parent
PORT = 7000
PER_PROCESS = 10  # members one agent process drives
MAX_HOSTS = 10
REPORT_EVERY = 1.0
DETECT_WITHIN = 5.0
REJOIN_WITHIN = 15.0
JOINS_PER_SECOND = 5  # how fast the domain's members start (the agents start theirs in parallel)
SETTLE = (0.5, 1.0)  # seconds between a member seen back everywhere and the next kill


@dataclass
class Figures:
    """What one size yielded."""

    size: int
    converged_after: float = 0.0
    steady_rates: list[float] = field(default_factory=list)  # per member
    run_rates: list[float] = field(default_factory=list)
    detections: list[float] = field(default_factory=list)
    first_detections: list[float] = field(default_factory=list)
    kills_planned: int = 0
    kills_failed: int = 0
    false_deaths: int = 0  # drops of a live member, one per observer
    falsely_dropped: int = 0  # distinct live members some observer dropped
    steady_cpu: float = 0.0  # CPU seconds per second per member while steady
    load: float = 0.0  # the machine's 1-minute load average at the end of the steady phase
    events: dict[str, int] = field(default_factory=dict)
    observed_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


class Domain:
    """The members of one size and what they report; lines are pumped by :meth:`pump`."""

    def __init__(self, lan: Lan, size: int, timing: Timing, per_process: int) -> None:
        self.names = [f"m{i:03}" for i in range(size)]
        hosts = [lan.add_host(f"h{i}") for i in range(min(size, MAX_HOSTS))]
        where = {name: (hosts[i % len(hosts)], PORT + i // len(hosts)) for i, name in enumerate(self.names)}
        groups = [
            (host, mine[at : at + per_process])
            for host in hosts
            for mine in [[n for n, (h, _port) in where.items() if h is host]]
            for at in range(0, len(mine), per_process)
        ]
        peers = {name: [host.ipv4, port] for name, (host, port) in where.items()}
        key = secrets.token_hex(32)
        self.views: dict[str, set[str]] = {name: set() for name in self.names}
        self.drops: list[tuple[float, str, str]] = []  # (t, observer, dropped)
        self.counters: dict[str, list[tuple[float, int, int, int]]] = {n: [] for n in self.names}
        self.lives: dict[str, int] = {name: 0 for name in self.names}  # starts of each member so far
        self.killed_at: dict[str, float] = {}  # member -> when its process silenced it last
        self.events: dict[tuple[str, int], dict[str, int]] = {}  # per member life: its latest event counts
        self._lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self._agents: dict[str, subprocess.Popen[str]] = {}
        self.pids: list[int] = []
        for host, names in groups:
            config = {
                "key": key,
                "host": host.ipv4,
                "members": {n: where[n][1] for n in names},
                "peers": peers,
                "interval": timing.interval,
                "dead_after": timing.dead_after,
                "report_every": REPORT_EVERY,
                "start_gap": len(groups) / JOINS_PER_SECOND,
            }
            proc = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    host.netns,
                    sys.executable,
                    "-m",
                    "bench.membership_agent",
                    json.dumps(config),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=REPO,
            )
            lan.pids.append(proc.pid)
            self.pids.append(proc.pid)
            for name in config["members"]:
                self._agents[name] = proc
            threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self._lines.put(json.loads(line))

    def pump(self, until: Callable[[], bool], within: float) -> bool:
        """Account for reported lines until ``until()`` holds (True) or ``within`` seconds pass (False)."""
        deadline = time.monotonic() + within
        while not until():  # checked once per batch of lines: at N=200 a check is 200 set compares
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                line = self._lines.get(timeout=min(left, 0.1))
            except queue.Empty:
                continue
            self._account(line)
            while not self._lines.empty():
                self._account(self._lines.get_nowait())
        return True

    def _account(self, line: dict[str, Any]) -> None:
        name = line.get("m")
        if name is None:
            return
        if "started" in line:
            self.lives[name] += 1
            self.views[name] = set()
            self.counters[name].append((line["started"], self.lives[name], 0, 0))
        elif "killed" in line:
            self.killed_at[name] = line["killed"]
        elif "add" in line:
            self.views[name] |= set(line["add"])
            self.views[name] -= set(line["drop"])
            self.drops += [(line["t"], name, dropped) for dropped in line["drop"]]
        elif "sent" in line:
            self.counters[name].append((line["t"], self.lives[name], line["sent"], line["recv"]))
            self.events[(name, self.lives[name])] = line["events"]

    def everyone_sees(self, expected: set[str], observers: set[str]) -> Callable[[], bool]:
        return lambda: all(self.views[n] == expected for n in observers)

    def event_totals(self) -> dict[str, int]:
        """The protocol events of every member life so far, summed by kind."""
        totals: dict[str, int] = {}
        for counts in self.events.values():
            for kind, count in counts.items():
                totals[kind] = totals.get(kind, 0) + count
        return totals

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the member processes used so far."""
        total = 0.0
        for pid in self.pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # killed meanwhile
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def kill(self, name: str) -> None:
        """Have ``name``'s process silence it; when it did comes in a ``killed`` line."""
        self._order(name, {"kill": name})

    def restart(self, name: str) -> None:
        """Have ``name``'s process start it again (a new incarnation)."""
        self._order(name, {"start": name})

    def _order(self, name: str, order: dict[str, str]) -> None:
        proc = self._agents[name]
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(order) + "\n")
        proc.stdin.flush()

    def rates(self, since: float, until: float) -> list[float]:
        """Datagrams sent plus received per second per member between two times.

        A member restarted in between counts each of its lives over the time it was heard.
        """
        found = []
        for samples in self.counters.values():
            packets = seconds = 0.0
            inside = [s for s in samples if since <= s[0] <= until]
            for earlier, later in itertools.pairwise(inside):
                if earlier[1] == later[1]:  # the same life
                    packets += later[2] + later[3] - earlier[2] - earlier[3]
                    seconds += later[0] - earlier[0]
            if seconds > 0:
                found.append(packets / seconds)
        return found


def measure(
    lan: Lan,
    size: int,
    *,
    kills: int,
    steady: float,
    max_seconds: float,
    say: Callable[[str], None],
    timing: Timing = PROFILES[DEFAULT_PROFILE],
    per_process: int = PER_PROCESS,
) -> Figures:
    """Start ``size`` members on ``lan``, measure them, return the figures (the LAN is the caller's)."""
    figures = Figures(size, kills_planned=kills)
    began = time.monotonic()
    domain = Domain(lan, size, timing, per_process)
    everyone = set(domain.names)
    if not domain.pump(domain.everyone_sees(everyone, everyone), 60 + size * 0.3):
        figures.notes.append(_not_converged(domain))
        return figures
    converged = time.monotonic()
    figures.converged_after = converged - began
    say(f"N={size}: all see all after {figures.converged_after:.1f}s")
    cpu_before, steady_from = domain.cpu_seconds(), time.monotonic()
    domain.pump(lambda: False, steady)
    steady_until = time.monotonic()
    figures.steady_cpu = (domain.cpu_seconds() - cpu_before) / (time.monotonic() - steady_from) / size
    figures.load = os.getloadavg()[0]
    outages: list[tuple[str, float, float]] = []  # (member, killed, seen back everywhere)
    rng = random.Random(size)
    for trial in range(kills):
        if time.monotonic() - began > max_seconds:
            figures.notes.append(f"{trial} of {kills} kills: --max-seconds {max_seconds:.0f} ran out")
            break
        domain.pump(lambda: False, rng.uniform(*SETTLE))  # a random phase against the heartbeats
        outage = _kill_and_restart(domain, rng.choice(domain.names), figures, say)
        outages.append(outage)
        if outage[2] == float("inf"):
            break
    ended = time.monotonic()
    domain.pump(lambda: False, REPORT_EVERY * 2)  # the last counter reports (members write late)
    figures.steady_rates = domain.rates(converged + REPORT_EVERY, steady_until)  # lines come late
    figures.run_rates = domain.rates(converged + REPORT_EVERY, ended)
    figures.observed_seconds = ended - converged
    figures.events = domain.event_totals()
    false = [
        (t, observer, dropped)
        for t, observer, dropped in domain.drops
        if t >= converged
        and observer != dropped
        and not any(dropped == v and killed <= t <= back for v, killed, back in outages)
    ]
    figures.false_deaths = len(false)
    figures.falsely_dropped = len({dropped for _t, _observer, dropped in false})
    figures.notes += [f"false death: {o} dropped {d} at +{t - converged:.3f}s" for t, o, d in false[:10]]
    return figures


def _kill_and_restart(
    domain: Domain, victim: str, figures: Figures, say: Callable[[str], None]
) -> tuple[str, float, float]:
    """SIGKILL ``victim``, time its detection, start it again; (victim, killed, seen back everywhere)."""
    everyone = set(domain.names)
    others = everyone - {victim}
    domain.killed_at.pop(victim, None)
    domain.kill(victim)
    killed = time.monotonic()  # until its process says when it silenced the victim
    if domain.pump(domain.everyone_sees(others, others), DETECT_WITHIN):
        domain.pump(lambda: victim in domain.killed_at, REPORT_EVERY * 2)
        killed = domain.killed_at.get(victim, killed)
        times = [t for t, _observer, dropped in domain.drops if dropped == victim and t >= killed]
        figures.detections.append(max(times) - killed)
        figures.first_detections.append(min(times) - killed)
    else:
        figures.kills_failed += 1
        say(f"N={figures.size}: the kill of {victim} not detected everywhere within {DETECT_WITHIN}s")
    domain.restart(victim)
    if domain.pump(domain.everyone_sees(everyone, everyone), REJOIN_WITHIN):
        return victim, killed, time.monotonic()
    figures.kills_failed += 1
    say(f"N={figures.size}: {victim} not seen back everywhere within {REJOIN_WITHIN}s; stopping this size")
    return victim, killed, float("inf")


def _not_converged(domain: Domain) -> str:
    """What a domain that never converged looked like: view sizes, traffic, protocol events."""
    sizes = sorted(len(view) for view in domain.views.values())
    rates = domain.rates(time.monotonic() - 10, time.monotonic())
    return (
        f"never converged: members seen min {sizes[0]} median {sizes[len(sizes) // 2]} max {sizes[-1]}; "
        f"datagrams/member/s over the last 10 s mean {statistics.mean(rates or [0]):.0f} "
        f"max {max(rates or [0]):.0f}; events {domain.event_totals()}"
    )


def _stats(values: list[float], scale: float = 1.0) -> tuple[str, str]:
    if not values:
        return "-", "-"
    return f"{statistics.mean(values) * scale:.1f}", f"{max(values) * scale:.1f}"


def report(results: list[Figures], profile: str = DEFAULT_PROFILE, per_process: int = PER_PROCESS) -> str:
    """The table over N, then notes."""
    timing = PROFILES[profile]
    lines = [
        f"membership: profile {profile} (interval {timing.interval * 1000:.0f} ms, dead_after "
        f"{timing.dead_after * 1000:.0f} ms), up to {per_process} members per process, "
        f"{os.cpu_count()} CPUs",
        "",
        "| N | pkts/node/s steady mean | max | pkts/node/s whole run mean | max | "
        "detection (last member) median ms | max ms | first member median ms | kills ok/planned | "
        "failed | false deaths (drops / members) | observed s | CPU % of a core per member, steady | "
        "load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for f in results:
        steady_mean, steady_max = _stats(f.steady_rates)
        run_mean, run_max = _stats(f.run_rates)
        median = f"{statistics.median(f.detections) * 1000:.0f}" if f.detections else "-"
        worst = f"{max(f.detections) * 1000:.0f}" if f.detections else "-"
        first = f"{statistics.median(f.first_detections) * 1000:.0f}" if f.first_detections else "-"
        lines.append(
            f"| {f.size} | {steady_mean} | {steady_max} | {run_mean} | {run_max} | {median} | {worst} | "
            f"{first} | {len(f.detections)}/{f.kills_planned} | {f.kills_failed} | "
            f"{f.false_deaths} / {f.falsely_dropped} | "
            f"{f.observed_seconds:.0f} | {f.steady_cpu * 100:.2f} | {f.load:.2f} |"
        )
    small = next((f for f in results if f.detections), None)
    large = next((f for f in reversed(results) if f.detections), None)
    if small and large and small is not large:
        ratio = statistics.median(large.detections) / statistics.median(small.detections)
        lines.append(f"\ndetection median N={large.size} / N={small.size} = {ratio:.2f}x (goal <= 1.5x)")
    lines += [
        f"- N={f.size}: protocol events over all members (deaths by how they were decided): "
        + ", ".join(f"{kind} {count}" for kind, count in sorted(f.events.items()))
        for f in results
    ]
    lines += [f"- N={f.size}: {note}" for f in results for note in f.notes]
    return "\n".join(lines)


def _stop(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the cleanup short
    raise SystemExit(f"stopped by signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Parse the options, measure each size in fresh namespaces, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="3,30,200", help="comma-separated N (default 3,30,200)")
    parser.add_argument(
        "--kills", default="20,20,20", help="kills per size, comma-separated (default 20,20,20)"
    )
    parser.add_argument(
        "--profile", choices=sorted(PROFILES), default=DEFAULT_PROFILE, help="the speakers' --ml-profile"
    )
    parser.add_argument(
        "--per-process",
        type=int,
        default=PER_PROCESS,
        help=f"members driven by one process (default {PER_PROCESS}; 1: one process each)",
    )
    parser.add_argument(
        "--steady", type=float, default=20.0, help="seconds without faults per size (default 20)"
    )
    parser.add_argument("--max-seconds", type=float, default=300.0, help="bound of one size (default 300)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    kills = [int(k) for k in args.kills.split(",")]
    if len(kills) != len(sizes) or any(s < 2 or s > 1000 for s in sizes) or any(k < 0 for k in kills):
        parser.error("--kills needs one count per size, every size between 2 and 1000")
    if os.geteuid() != 0:
        parser.error("network namespaces need root: run it as root")
    signal.signal(signal.SIGTERM, _stop)
    results = []
    for size, count in zip(sizes, kills, strict=True):
        with open_lan("bmlbm") as lan:
            figures = measure(
                lan,
                size,
                kills=count,
                steady=args.steady,
                max_seconds=args.max_seconds,
                say=print,
                timing=PROFILES[args.profile],
                per_process=args.per_process,
            )
            results.append(figures)
    print(report(results, args.profile, args.per_process))
    return 1 if any(f.kills_failed or f.false_deaths or f.notes for f in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
