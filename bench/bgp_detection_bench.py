"""BGP failure detection and planned restart, as the routers see it: our speaker against BIRD2, FRR, GoBGP.

    .venv/bin/python -m bench.bgp_detection_bench [--trials N] [--restarts N] [--setting NAME]
        [--kernel-only] [--quick]   (root)

Topology (made here, removed at the end, also on failure or SIGINT/SIGTERM): one switch namespace
with a bridge, a speaker host and one host per router, all ``bmlbt-<hex>-…`` namespaces built with
tests/netns/conftest.py's ``Lan`` and started with tests/netns/bgp_lab.py (lab/routers.py's own
configurations); addresses from 192.0.2.0/24, the announced route is 198.51.100.10/32 (a
LoadBalancer IP's host route).

The speaker is the shipped runtime: daemons/speaker/bgp/engine.py as a child process driven through
``EngineProcess`` with the orders of bgp/orders.py, as bgp/handler.py drives it, with the handler's
defaults (hold time 90 s unless the setting says otherwise, connect time 5 s, router ID the node's
IPv4, keepalive = hold/3, restart time 120 s). The engine is started from a thread that entered
the speaker's namespace (setns), so it runs there without a wrapper process.

Detection. Faults: link cut (the speaker's port on the bridge goes down: carrier loss, as
``LabState.set_cable`` pulls a cable; the speaker's own interface stays up) and SIGKILL of the
engine process. Settings: BFD 100 ms x 3 and BFD 300 ms x 3 (BIRD and FRR; GoBGP has no BFD;
the routers' profile is lab/routers.py's 100 ms x 3, so 300 ms is what BFD negotiates, as RFC 5880
takes the slower side) with the shipped 90 s hold time, and hold time 3 s without BFD (all three).
A figure is the time from the fault to the route gone from the router's RIB, read with lab/rib.py
(``birdc show route``, ``vtysh show bgp … json``, ``gobgp global rib``: one CLI call per look, as
fast as the router answers and at most every 10 ms, each router in its own thread from the
fault on). A figure is when the look that found the route gone returned, an upper bound; the
measured interval between looks is printed per router as the resolution. No router offers a
cheaper RIB-removal signal that all three share (GoBGP's ``monitor`` stream has no BIRD or FRR
counterpart), so all three are read alike.

BIRD and FRR also export their best routes to the kernel of their namespace (lab/routers.py's
kernel protocol; FRR's zebra): ``ip -n <router> monitor route`` stamps, with ``time.monotonic()``
on arrival, when the route left the forwarding table, what traffic sees; that is printed as a
second column. Reading a router's CLI is not free: seen on this machine, BIRD 2.0.12 removes the
route about 5.5 s after a link cut with a 3 s hold timer when nothing talks to it, but 2.2-2.7 s
(RIB and kernel alike) while ``birdc`` polls it; ``--kernel-only`` times BIRD and FRR by the
kernel watch alone, without touching their CLI (GoBGP is still polled: it has no kernel routes).

SIGKILL kills the engine process, not the host: its kernel closes the TCP connections at once, so
the routers see the session end without waiting for BFD or the hold timer (a host or kernel crash
is the link-cut case).

A trial fails when the route is not gone from a router's RIB (and, for BIRD and FRR, its kernel
table) within the window (5 s with BFD, 10 s with the hold timer), or when the routers were not
ready before it; failures are counted and printed with their reason, never dropped. Before every
trial the bench waits (bounded, naming what) for the route in every router's RIB and kernel table
and, with BFD, for the router's BFD session Up; after the fault the cable is plugged back and the
engine restarted fresh (its connect backoff starts over).

Planned restart: graceful restart on (``enableGracefulRestart``), no BFD, BIRD, FRR and GoBGP
(GoBGP with its graceful-restart helper configured: lab/routers.py's
``Peering.gobgp_graceful_restart_helper``; BIRD and FRR help by default). The engine is stopped as
the shipped speaker stops it on SIGTERM (``EngineProcess.stop``: no NOTIFICATION), started again
and waited for until Established with the route sent, and watched for 20 more RIB samples (a
router sweeps stale paths at End-of-RIB); meanwhile a thread reads every router's RIB in turn. Printed:
samples taken and samples that found the route missing, per router (goal: 0), plus the kernel
deletions the watch saw.

Figures depend on the machine: a shared 2-core machine adds scheduling delay to every one.
Exit status 1 when a trial failed.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from ipaddress import ip_network
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ansible_collections.baremetal.lb.daemons.speaker.bfd.settings import BFDSettings  # noqa: E402
from ansible_collections.baremetal.lb.daemons.speaker.bgp.handler import (  # noqa: E402
    DEFAULT_CONNECT_TIME,
    DEFAULT_HOLD_TIME,
    ENGINE,
)
from ansible_collections.baremetal.lb.daemons.speaker.bgp.model import PeerSettings, Route  # noqa: E402
from ansible_collections.baremetal.lb.daemons.speaker.bgp.orders import PeerOrder, routes_to_json  # noqa: E402
from ansible_collections.baremetal.lb.daemons.speaker.engine_process import EngineProcess  # noqa: E402
from lab import netns, routers  # noqa: E402
from lab.rib import paths  # noqa: E402
from tests.netns.bgp_lab import ROUTER_ASN, SPEAKER_ASN, Router, start_router  # noqa: E402
from tests.netns.conftest import Host, Lan, open_lan, switch_port  # noqa: E402

PREFIX = "198.51.100.10/32"
ROUTERS = ("bird", "frr", "gobgp")
KERNEL_WATCHED = ("bird", "frr")  # routers that install their routes in their namespace's kernel
FAULTS = ("link cut", "SIGKILL")
POLL_EVERY = 0.01  # seconds: the shortest interval between two looks at a router's RIB
RESTORE_WITHIN = 90.0  # seconds for the route (and BFD) to be back everywhere after a trial
ESTABLISHED_WITHIN = 45.0  # seconds for a restarted engine's sessions (BIRD's error wait meets our backoff)
SAMPLES_AFTER_RESTART = 20  # RIB samples of each router after a restarted engine is Established
CLONE_NEWNET = 0x40000000


@dataclass(frozen=True)
class Setting:
    """Timers the speaker runs with, and which routers are measured under them."""

    name: str
    bfd: BFDSettings | None
    hold_time: int
    routers: tuple[str, ...]
    window: float  # seconds after the fault the route may take to go before the trial fails


SETTINGS = (
    Setting("BFD 100 ms x 3", BFDSettings(100, 100, 3), DEFAULT_HOLD_TIME, ("bird", "frr"), 5.0),
    Setting("BFD 300 ms x 3", BFDSettings(300, 300, 3), DEFAULT_HOLD_TIME, ("bird", "frr"), 5.0),
    Setting("hold 3 s, no BFD", None, 3, ROUTERS, 10.0),
)


@dataclass(frozen=True)
class Gone:
    """When a route left a router after a fault: its RIB, and its kernel table (None: not watched)."""

    rib: float | None  # None: the RIB was not read (--kernel-only)
    fib: float | None  # None: the kernel table was not watched (GoBGP)


@contextlib.contextmanager
def inside(namespace: str) -> Iterator[None]:
    """Run the calling thread in ``namespace``'s network namespace, then return it to its own."""
    libc = ctypes.CDLL(None, use_errno=True)

    def enter(fd: int) -> None:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")

    with open("/proc/thread-self/ns/net") as home, open(f"{netns.NETNS_DIR}/{namespace}") as there:
        enter(there.fileno())
        try:
            yield
        finally:
            enter(home.fileno())


def wait_until(what: str, check: Callable[[], object], timeout: float, step: float = 0.05) -> None:
    """Poll ``check()`` until truthy; TimeoutError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(step)


class Speaker:
    """The shipped BGP engine in the speaker's namespace, driven like bgp/handler.py drives it."""

    def __init__(self, host: Host, lan: Lan, log_level: str) -> None:
        self._host = host
        self._lan = lan
        self._log_level = log_level
        self._engine: EngineProcess | None = None
        self._lock = threading.Lock()
        self.sessions: dict[str, Any] = {}  # the engine's last report, by peer name

    def start(
        self, setting: Setting, kinds: tuple[str, ...], peers: Mapping[str, Router], graceful: bool
    ) -> None:
        """Start a fresh engine with one session per router in ``kinds`` and the route to each."""
        orders = [
            PeerOrder(
                PeerSettings(
                    name=kind,
                    my_asn=SPEAKER_ASN,
                    peer_asn=ROUTER_ASN,
                    peer_address=peers[kind].host.ipv4,
                    router_id=self._host.ipv4,
                    hold_time=setting.hold_time,
                    connect_time=DEFAULT_CONNECT_TIME,
                    graceful_restart=graceful,
                ),
                setting.bfd,
            )
            for kind in kinds
        ]
        routes = routes_to_json({kind: [Route(ip_network(PREFIX))] for kind in kinds})
        with self._lock:
            self.sessions = {}
        engine = EngineProcess(ENGINE, self._report, lambda _status: None)
        with inside(self._host.netns):
            engine.start({"log_level": self._log_level})
        assert engine.pid is not None
        self._lan.pids.append(engine.pid)
        self._engine = engine
        engine.send_if_changed("peers", [order.to_json() for order in orders])
        engine.send_if_changed("routes", routes)

    def _report(self, message: Mapping[str, Any]) -> None:
        sessions = message.get("sessions")
        if sessions is not None:
            with self._lock:
                self.sessions = dict(sessions)

    def established(self, kinds: tuple[str, ...]) -> bool:
        """Every session in ``kinds`` Established with the route announced."""
        with self._lock:
            return all(
                self.sessions.get(k, {}).get("state") == "Established"
                and self.sessions[k].get("prefixes_announced", 0) >= 1
                for k in kinds
            )

    def kill(self) -> None:
        """SIGKILL the engine (a crash: no NOTIFICATION, no BFD AdminDown)."""
        assert self._engine is not None and self._engine.pid is not None
        os.kill(self._engine.pid, signal.SIGKILL)

    def stop(self) -> None:
        """Stop the engine as the shipped speaker does on SIGTERM (graceful when graceful restart is on)."""
        if self._engine is not None:
            self._engine.stop()
            if self._engine.pid in self._lan.pids:
                self._lan.pids.remove(self._engine.pid)


@dataclass
class KernelWatch:
    """``ip monitor route`` in a router's namespace: when the route left its kernel table."""

    namespace: str
    deleted: list[float] = field(default_factory=list)
    proc: subprocess.Popen[str] | None = None

    def start(self, lan: Lan) -> None:
        """Start watching; the monitor's PID joins the LAN's cleanup list."""
        self.proc = subprocess.Popen(
            ["ip", "-n", self.namespace, "monitor", "route"], stdout=subprocess.PIPE, text=True, bufsize=1
        )
        lan.pids.append(self.proc.pid)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        host_route = PREFIX.removesuffix("/32")
        for line in self.proc.stdout:
            at = time.monotonic()
            words = line.split()
            if len(words) > 1 and words[0] == "Deleted" and words[1] in (PREFIX, host_route):
                self.deleted.append(at)

    def installed(self) -> bool:
        """The route is in the namespace's kernel table."""
        return bool(netns.ip("route", "show", PREFIX, netns=self.namespace).strip())

    def deleted_after(self, since: float) -> float | None:
        """The first deletion at or after ``since``, if any."""
        return next((at for at in self.deleted if at >= since), None)


@dataclass
class Bench:
    """The namespaces, routers, watches and speaker of one run."""

    lan: Lan
    speaker_host: Host
    speaker: Speaker
    hosts: dict[str, Host] = field(default_factory=dict)  # one per router kind, kept across settings
    routers: dict[str, Router] = field(default_factory=dict)
    watches: dict[str, KernelWatch] = field(default_factory=dict)
    poll_gaps: dict[str, list[float]] = field(default_factory=dict)  # seconds between RIB looks, by router
    kernel_only: bool = False  # BIRD and FRR: watch only their kernel table, never ask their CLI

    def start_routers(self, kinds: tuple[str, ...], bfd: bool, graceful_restart_helper: bool = False) -> None:
        """Start fresh routers (earlier ones stopped) and their kernel watches."""
        self.stop_routers()
        peering = routers.Peering(
            f"{self.speaker_host.ipv4}/32",
            SPEAKER_ASN,
            bfd=bfd,
            gobgp_graceful_restart_helper=graceful_restart_helper,
        )
        for kind in kinds:  # every host first: `ip monitor` complains when a veth appears beside it
            if kind not in self.hosts:
                self.hosts[kind] = self.lan.add_host(kind)
        for kind in kinds:
            router = start_router(self.lan, kind, peering, host=self.hosts[kind])
            self.routers[kind] = router
            if kind in KERNEL_WATCHED:
                watch = KernelWatch(router.host.netns)
                watch.start(self.lan)
                self.watches[kind] = watch

    def stop_routers(self) -> None:
        """Stop the routers and watches of the previous setting, by PID."""
        pids = [pid for r in self.routers.values() for pid in r.pids]
        pids += [w.proc.pid for w in self.watches.values() if w.proc]
        netns.kill_pids(pids, grace=3.0)
        self.lan.pids[:] = [p for p in self.lan.pids if p not in pids]
        self.routers, self.watches = {}, {}

    def has_route(self, kind: str) -> bool:
        """The router's RIB holds the route."""
        return bool(paths(_facts(self.routers[kind]), PREFIX))

    def ready(self, kinds: tuple[str, ...], bfd: bool) -> None:
        """Wait until every router has the route in its RIB and kernel, and BFD Up when asked."""
        for kind in kinds:
            wait_until(f"{PREFIX} in {kind}'s RIB", functools.partial(self.has_route, kind), RESTORE_WITHIN)
            if kind in self.watches:
                wait_until(f"{PREFIX} in {kind}'s kernel table", self.watches[kind].installed, 10)
            if bfd:
                wait_until(f"{kind}'s BFD session Up", functools.partial(self._bfd_up, kind), 15)

    def _bfd_up(self, kind: str) -> bool:
        router, us = self.routers[kind], self.speaker_host.ipv4
        if kind == "bird":
            out = netns.exec_in(router.host.netns, ["birdc", "-s", router.control, "show", "bfd", "sessions"])
            rows = [line.split() for line in out.splitlines()]
            return any(len(row) > 2 and row[0] == us and row[2] == "Up" for row in rows)
        out = netns.exec_in(
            router.host.netns, ["vtysh", "--vty_socket", router.control, "-c", "show bfd peers json"]
        )
        return any(p.get("peer") == us and p.get("status") == "up" for p in json.loads(out or "[]"))

    def gone_at(self, kind: str, since: float, window: float) -> Gone:
        """When the route left ``kind``'s RIB (and kernel table, when watched), seconds after ``since``."""
        deadline = since + window
        rib = None
        if not (self.kernel_only and kind in self.watches):
            rib = self._rib_gone(kind, since, deadline)
        if kind not in self.watches:
            return Gone(rib, None)
        watch = self.watches[kind]
        while (at := watch.deleted_after(since)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"route still in {kind}'s kernel table after {window:.0f}s")
            time.sleep(0.01)
        return Gone(rib, at - since)

    def _rib_gone(self, kind: str, since: float, deadline: float) -> float:
        gaps = self.poll_gaps.setdefault(kind, [])
        last = None
        while True:
            look = time.monotonic()
            if last is not None:
                gaps.append(look - last)
            last = look
            if not self.has_route(kind):
                return time.monotonic() - since  # when the answer came: an upper bound
            if look > deadline:
                raise TimeoutError(f"route still in {kind}'s RIB after {deadline - since:.0f}s")
            time.sleep(max(0.0, POLL_EVERY - (time.monotonic() - look)))

    def cable(self, plugged: bool) -> None:
        """Plug or pull the speaker's cable: its port on the bridge (carrier, as LabState.set_cable)."""
        netns.set_link(self.lan.switch, switch_port(self.speaker_host.name), up=plugged)


def _facts(router: Router) -> dict[str, str]:
    return {"kind": router.kind, "netns": router.host.netns, "control": router.control}


@dataclass
class Figures:
    """Detection times per (fault, setting, router), failures with their reasons."""

    times: dict[tuple[str, str, str], list[Gone]] = field(default_factory=dict)
    failures: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)

    def add(self, key: tuple[str, str, str], gone: Gone | str) -> None:
        """Record one trial: when the route went, or why the trial failed."""
        self.times.setdefault(key, [])
        self.failures.setdefault(key, [])
        if isinstance(gone, str):
            self.failures[key].append(gone)
        else:
            self.times[key].append(gone)

    @property
    def failed(self) -> int:
        """Failed trials in all."""
        return sum(len(v) for v in self.failures.values())


def detection(bench: Bench, setting: Setting, trials: int, figures: Figures) -> None:
    """``trials`` trials of every fault under ``setting``, into ``figures``."""
    kinds = setting.routers
    bfd = setting.bfd is not None
    bench.start_routers(kinds, bfd=bfd)
    bench.speaker.start(setting, kinds, bench.routers, graceful=False)
    for trial in range(trials):
        for fault in FAULTS:
            try:
                bench.ready(kinds, bfd)
            except (TimeoutError, netns.NetnsError) as why:
                for kind in kinds:
                    figures.add((fault, setting.name, kind), f"not ready: {why}")
                print(f"  FAILED {setting.name} {fault} trial {trial + 1}: not ready: {why}", flush=True)
                bench.speaker.stop()
                bench.speaker.start(setting, kinds, bench.routers, graceful=False)
                continue
            results: dict[str, Gone | str] = {}
            begun = time.monotonic()
            if fault == "link cut":
                bench.cable(False)
            else:
                bench.speaker.kill()
            threads = [
                threading.Thread(target=_measure, args=(bench, k, begun, setting.window, results))
                for k in kinds
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(setting.window + 30)
            bench.cable(True)
            bench.speaker.stop()
            for kind in kinds:
                value = results.get(kind, "no answer from the measuring thread")
                figures.add((fault, setting.name, kind), value)
                if isinstance(value, str):
                    print(
                        f"  FAILED {fault} / {setting.name} / {kind} trial {trial + 1}: {value}", flush=True
                    )
            shown = " ".join(f"{k}={_shown(v)}" for k, v in sorted(results.items()))
            print(f"  {setting.name} {fault} trial {trial + 1}/{trials}: {shown}", flush=True)
            bench.speaker.start(setting, kinds, bench.routers, graceful=False)
    try:
        bench.ready(kinds, bfd)  # the last trial's restore, checked like the others
    except (TimeoutError, netns.NetnsError) as why:
        print(f"  after the last {setting.name} trial the routers did not recover: {why}", flush=True)
    bench.speaker.stop()


def _measure(bench: Bench, kind: str, since: float, window: float, results: dict[str, Gone | str]) -> None:
    try:
        results[kind] = bench.gone_at(kind, since, window)
    except (TimeoutError, netns.NetnsError, OSError, subprocess.TimeoutExpired) as why:
        results[kind] = str(why)


def _shown(gone: Gone | str) -> str:
    if isinstance(gone, str):
        return "FAIL"
    rib = f"{gone.rib:.3f}s" if gone.rib is not None else "-"
    return rib + (f" (kernel {gone.fib:.3f}s)" if gone.fib is not None else "")


@dataclass
class RestartFigures:
    """Planned restarts: RIB samples taken and missing the route, kernel deletions, per router."""

    samples: dict[str, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    kernel_deletions: dict[str, int] = field(default_factory=dict)
    restarts: int = 0


def planned_restarts(bench: Bench, restarts: int) -> RestartFigures:
    """Restart the engine ``restarts`` times with graceful restart on, sampling the routers' RIBs."""
    kinds = ROUTERS
    setting = Setting("graceful restart", None, DEFAULT_HOLD_TIME, kinds, 0.0)
    bench.start_routers(kinds, bfd=False, graceful_restart_helper=True)
    bench.speaker.start(setting, kinds, bench.routers, graceful=True)
    bench.ready(kinds, bfd=False)
    wait_until("every session Established", lambda: bench.speaker.established(kinds), ESTABLISHED_WITHIN)
    figures = RestartFigures({k: 0 for k in kinds}, {k: 0 for k in kinds})
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for kind in kinds:
                present = bench.has_route(kind)
                figures.samples[kind] += 1
                figures.missing[kind] += not present

    sampler = threading.Thread(target=sample, daemon=True)
    begun = time.monotonic()
    sampler.start()
    try:
        for number in range(restarts):
            bench.speaker.stop()
            bench.speaker.start(setting, kinds, bench.routers, graceful=True)
            wait_until(
                f"every session Established after restart {number + 1}",
                lambda: bench.speaker.established(kinds),
                ESTABLISHED_WITHIN,
            )
            # A restarted speaker that failed to re-announce would lose the route when the router
            # sweeps its stale paths at End-of-RIB, just after Established: keep watching past it.
            wait_until(
                f"{SAMPLES_AFTER_RESTART} more RIB samples of every router after restart {number + 1}",
                functools.partial(_sampled_since, figures.samples, dict(figures.samples)),
                30,
            )
            figures.restarts += 1
            print(f"  restart {number + 1}/{restarts}: sessions back", flush=True)
    finally:
        done.set()
        sampler.join(30)
        bench.speaker.stop()
    figures.kernel_deletions = {
        k: len([t for t in w.deleted if t >= begun]) for k, w in bench.watches.items()
    }
    return figures


def _sampled_since(samples: Mapping[str, int], taken: Mapping[str, int]) -> bool:
    return all(samples[k] >= taken[k] + SAMPLES_AFTER_RESTART for k in taken)


def report(figures: Figures, gaps: Mapping[str, list[float]], restart: RestartFigures | None) -> None:
    """Print the detection table, the RIB poll resolution and the planned-restart counts."""
    print(
        "\n| fault | setting | router | trials | RIB median s | min s | max s | failed "
        "| kernel median (min-max) s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for key in figures.times:
        got, failed = figures.times[key], figures.failures[key]
        rib = [g.rib for g in got if g.rib is not None]
        fib = [g.fib for g in got if g.fib is not None]
        cells = [f"{statistics.median(rib):.3f}", f"{min(rib):.3f}", f"{max(rib):.3f}"] if rib else ["-"] * 3
        cells += [
            str(len(failed)),
            f"{statistics.median(fib):.3f} ({min(fib):.3f}-{max(fib):.3f})" if fib else "-",
        ]
        print(f"| {' | '.join(key)} | {len(got) + len(failed)} | {' | '.join(cells)} |")
    print("\nRIB poll resolution (interval between looks, one CLI call each):")
    for kind, between in gaps.items():
        if between:
            print(
                f"  {kind}: median {statistics.median(between) * 1000:.1f} ms, "
                f"max {max(between) * 1000:.1f} ms over {len(between)} looks"
            )
    if restart is not None:
        print(f"\nPlanned restarts with graceful restart: {restart.restarts} done")
        for kind in restart.samples:
            print(
                f"  {kind}: {restart.samples[kind]} RIB samples, {restart.missing[kind]} without the route; "
                f"{restart.kernel_deletions.get(kind, 0)} kernel deletions"
            )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=20, help="trials per fault and setting (default 20)")
    parser.add_argument("--restarts", type=int, default=10, help="planned restarts (default 10)")
    parser.add_argument(
        "--quick", action="store_true", help="2 trials of BFD 100 ms x 3 only and 2 restarts (make test)"
    )
    parser.add_argument(
        "--setting",
        action="append",
        choices=[s.name for s in SETTINGS],
        help="run only this timer setting (repeatable; default all)",
    )
    parser.add_argument(
        "--kernel-only",
        action="store_true",
        help="BIRD and FRR: time only the kernel route's removal, without polling their CLI",
    )
    parser.add_argument(
        "--log-level", default="warning", help="the engine's log level (default warning; timing-neutral)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the bench; 0 when every trial produced a figure and no restart lost the route."""
    args = _parser().parse_args(argv)
    if os.geteuid() != 0:
        print("network namespaces need root", file=sys.stderr)
        return 2
    if missing := routers.missing_binaries():
        print(f"missing router programs: {', '.join(missing)} (make deps)", file=sys.stderr)
        return 2
    trials = 2 if args.quick else max(1, min(args.trials, 200))
    restarts = 2 if args.quick else max(0, min(args.restarts, 100))
    settings = [s for s in SETTINGS if s.name in (args.setting or [s.name for s in SETTINGS])]
    if args.quick:
        settings = settings[:1]

    def _stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _stop)
    figures, restart, stopped = Figures(), None, ""
    gaps: dict[str, list[float]] = {}
    with open_lan() as lan:
        try:
            host = lan.add_host("speaker")
            bench = Bench(lan, host, Speaker(host, lan, args.log_level), kernel_only=args.kernel_only)
            gaps = bench.poll_gaps
            for setting in settings:
                print(f"{setting.name}: {trials} trials of {', '.join(FAULTS)}", flush=True)
                detection(bench, setting, trials, figures)
            if restarts:
                print(f"graceful restart: {restarts} planned restarts", flush=True)
                restart = planned_restarts(bench, restarts)
        except (KeyboardInterrupt, TimeoutError, OSError, subprocess.SubprocessError) as why:
            stopped = f"{type(why).__name__}: {why}"
        finally:  # nothing interrupts the cleanup that follows (it is bounded: kills by PID)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    report(figures, gaps, restart)
    lost = restart is not None and any(restart.missing.values())
    print(f"\nfailed trials: {figures.failed}" + ("; a planned restart lost the route" if lost else ""))
    if stopped:
        print(f"the run stopped early: {stopped}")
    return 1 if figures.failed or lost or stopped else 0


if __name__ == "__main__":
    sys.exit(main())
