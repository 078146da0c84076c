"""Layer-2 failover as the client sees it: our speaker against keepalived (VRRP), same topology.

    PYTHONPATH=. .venv/bin/python bench/l2_failover_bench.py [--state-dir DIR] [--trials 20]
        [--dead-after 0.3 0.4] [--vrrp-trials 20]   (root)

Uses the lab (three node namespaces, a client namespace, one LAN): a running one given by
``--state-dir`` or ``BMLB_LAB_STATE``, else a fresh one that is removed afterwards. A prober in
the client namespace sends an ARP request for the VIP every 10 ms; the outage of one trial is
the longest silence between the owner's last answer and the new owner's first. The prober is
read while it runs and stopped once the new owner has answered for a while, so a trial lasts
about as long as its outage; between trials the bench waits until the owner alone answers again.

Scenarios, each run ``--trials`` times for our speaker (controller + three speakers, a Service
from an on-link pool; once per ``--dead-after`` value) and ``--vrrp-trials`` times for
keepalived (VRRP defaults: advert 1 s; and VRRPv3 with 100 ms adverts):

* link cut: ``ip link set eth0 down`` in the owner's namespace;
* SIGKILL: the owner's daemon is killed (our speaker: both its processes, as a crash would;
  keepalived: its parent is stopped first so it cannot respawn the VRRP child, then both die);
* graceful stop: SIGTERM (our speaker sends LEAVE; keepalived sends a priority-0 advert).

Prints min/median/p95 per scenario and our median as a ratio to keepalived's. Every loop is
bounded; the speakers, controller, keepalived instances and test objects are removed at the
end, also on failure. keepalived comes from the Debian package ``keepalived``; every start of
it gets fresh config/pidfile paths, and its processes are tracked and ended by PID.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ansible_collections.baremetal.lb.daemons.kube.kubeapi import KubeApi  # noqa: E402
from lab import build, lifecycle  # noqa: E402
from lab.state import LabState  # noqa: E402
from tests.lab import controller_harness, speaker_harness  # noqa: E402
from tests.lab.controller_harness import wait_for  # noqa: E402
from tests.lab.speaker_harness import Probe, handover, mac_to_node, predicted_owner  # noqa: E402

VRRP_VIP = "192.0.2.126"  # top of the suggested layer-2 pool, never handed out here
LEAD = 0.6  # seconds of answers before each event
AFTER = 0.25  # seconds the new owner is watched answering before a trial ends
SETTLE_TIMEOUT = 20.0  # seconds for the owner to be the only one answering again after a restore
Action = Callable[[], object]
Reply = tuple[float, str]


@dataclass
class Trial:
    """One scenario step: do it, and put things back afterwards."""

    name: str
    act: Action
    restore: Action
    window: float  # longest the prober runs after the event
    recover: Action | None = None  # a harder restore, when the owner does not come back


class Watch:
    """A 10 ms ARP prober in the client namespace whose replies are read while it runs."""

    def __init__(self, lab: LabState, vip: str, seconds: float, interval: float = 0.01) -> None:
        self._owners = mac_to_node(lab)
        self._probe = Probe(lab, vip, seconds, interval)
        self._replies: list[Reply] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        stdout = self._probe.process.stdout
        assert stdout is not None
        for line in stdout:
            if line.strip():
                item = json.loads(line)
                with self._lock:
                    self._replies.append((item["t"], self._owners.get(item["mac"], item["mac"])))

    def replies(self) -> list[Reply]:
        """The replies so far: (wall time, node name or MAC)."""
        with self._lock:
            return list(self._replies)

    def until(self, done: Callable[[list[Reply]], bool], deadline: float) -> None:
        """Poll every 20 ms until ``done(replies)``, the end of the prober or the wall time ``deadline``."""
        while time.time() < deadline and self._probe.process.poll() is None:
            if done(self.replies()):
                return
            time.sleep(0.02)

    def close(self) -> list[Reply]:
        """Stop the prober and return every reply."""
        self._probe.kill()
        self._thread.join(10)
        return self.replies()


def answerers(lab: LabState, vip: str, seconds: float = 0.3) -> set[str]:
    """Who answered ARP for ``vip`` during ``seconds`` of 10 ms probing."""
    return {who for _unused, who in Probe(lab, vip, seconds).replies()}


def _sole(lab: LabState, vip: str, owner: str, timeout: float) -> None:
    wait_for(f"{owner} alone to answer for {vip}", lambda: answerers(lab, vip) == {owner}, timeout=timeout)


def _measure(lab: LabState, vip: str, owner: str, trial: Trial) -> float:
    watch = Watch(lab, vip, LEAD + trial.window + 1.0)
    try:
        time.sleep(LEAD)
        at = time.time()
        trial.act()

        def done(replies: list[Reply]) -> bool:
            first = next((t for t, who in replies if t > at and who != owner), None)
            return first is not None and time.time() - first > AFTER

        watch.until(done, at + trial.window)
    finally:
        replies = watch.close()
        trial.restore()
    try:
        _sole(lab, vip, owner, SETTLE_TIMEOUT)
    except AssertionError:
        if trial.recover is None:
            raise
        print(f"    ({trial.name}: {owner} did not come back within {SETTLE_TIMEOUT:.0f} s; restarting it)")
        trial.recover()
        _sole(lab, vip, owner, 30)
    outage, new = handover(replies, at, owner)
    return outage if new not in (None, owner) else float("inf")


def summary(label: str, outages: list[float]) -> float:
    """Print min/median/p95 of the finite outages; return the median (inf when none)."""
    finite = sorted(o for o in outages if o != float("inf"))
    if not finite:
        print(f"  {label:<34} no handover seen in {len(outages)} trials", flush=True)
        return float("inf")
    p95 = finite[min(len(finite) - 1, round(0.95 * (len(finite) - 1)))]
    median = statistics.median(finite)
    failed = len(outages) - len(finite)
    print(
        f"  {label:<34} n={len(finite):<3} min {finite[0] * 1000:6.0f} ms  median {median * 1000:6.0f} ms"
        f"  p95 {p95 * 1000:6.0f} ms" + (f"  ({failed} without handover)" if failed else ""),
        flush=True,
    )
    return median


def _run(
    lab: LabState, vip: str, owner: str, trials: list[Trial], *, count: int, title: str
) -> dict[str, float]:
    print(f"{title} (VIP {vip}, owner {owner}):", flush=True)
    return {
        t.name: summary(t.name, [_measure(lab, vip, owner, t) for _trial in range(count)]) for t in trials
    }


def _link(lab: LabState, node: str, up: bool) -> None:
    lab.exec(node, ["ip", "link", "set", lab.hosts[node]["interface"], "up" if up else "down"])


# -- our speaker ---------------------------------------------------------------------------------


@contextlib.contextmanager
def our_setup(
    lab: LabState, workdir: Path, dead_after: float
) -> Iterator[tuple[str, str, speaker_harness.Speakers]]:
    """Controller, three speakers and one Service; yields (VIP, owner, speakers); removes it all."""
    kubectl_binary = str(build.ensure_all(log=False)["kubectl"])

    def kubectl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [kubectl_binary, f"--kubeconfig={lab.kubeconfig}", *args]
        return subprocess.run(argv, capture_output=True, text=True, check=check)

    controller_harness.install(kubectl)
    speaker_harness.install(kubectl)
    api = KubeApi.connect(str(lab.kubeconfig))
    cluster = controller_harness.Cluster(api)
    l2 = speaker_harness.L2Config(api)
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", namespace)
    controller = controller_harness.Controller(
        controller_harness.controller_kubeconfig(lab, workdir / "controller.kubeconfig"), workdir
    )
    speakers = speaker_harness.Speakers(
        lab, speaker_harness.speaker_kubeconfig(lab, workdir / "speaker.kubeconfig"), workdir
    )
    try:
        pool = cluster.create_pool(f"bench-{uuid.uuid4().hex[:6]}", ["192.0.2.64/27"])
        l2.advertise(f"bench-{uuid.uuid4().hex[:6]}", ipAddressPools=[pool])
        controller.start()
        speakers.start(args=(f"--ml-dead-after={dead_after}",))
        l2.deploy(namespace, "web")
        cluster.create_service(namespace, controller_harness.service_manifest("web"))
        ips = cluster.wait_ips(namespace, "web")
        owner = predicted_owner(ips, set(lab.nodes))
        _sole(lab, ips[0], owner, 30)
        yield ips[0], owner, speakers
    finally:
        speakers.stop_all()
        controller.stop()
        with contextlib.suppress(Exception):
            cluster.cleanup()
        l2.cleanup()
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def _ours(lab: LabState, count: int, workdir: Path, dead_after: float) -> dict[str, float]:
    run = workdir / f"ours-{dead_after}"
    run.mkdir()
    with our_setup(lab, run, dead_after) as (vip, owner, speakers):
        speaker = speakers[owner]
        trials = [
            Trial("link cut", lambda: _link(lab, owner, False), lambda: _link(lab, owner, True), 3.0),
            Trial("SIGKILL (both processes)", speaker.crash, speaker.start, 3.0),
            Trial("graceful stop (SIGTERM)", speaker.stop, speaker.start, 2.0),
        ]
        return _run(
            lab,
            vip,
            owner,
            trials,
            count=count,
            title=f"baremetal.lb speaker, dead after {dead_after * 1000:.0f} ms",
        )


# -- keepalived ----------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc), deepest last."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class _Keepalived:
    """keepalived in every node namespace, one VRRP instance holding VRRP_VIP."""

    def __init__(self, lab: LabState, workdir: Path, fast: bool) -> None:
        self.lab = lab
        self.workdir = workdir / ("keepalived-fast" if fast else "keepalived-defaults")
        self.workdir.mkdir()
        self.fast = fast
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.pids: dict[str, set[int]] = {}  # every keepalived PID seen per node
        self.starts: dict[str, int] = {}
        self.priorities = {node: 200 - 50 * index for index, node in enumerate(sorted(lab.nodes))}

    @property
    def master(self) -> str:
        """The node with the highest priority."""
        return max(self.priorities, key=lambda node: self.priorities[node])

    def _log(self, node: str) -> Path:
        return self.workdir / f"{node}-{self.starts[node]}" / "keepalived.log"

    def start(self, node: str) -> None:
        """Start (again) the instance of ``node`` with fresh paths; wait until its VRRP child runs."""
        self._reap(node)
        self.starts[node] = self.starts.get(node, 0) + 1
        run = self.workdir / f"{node}-{self.starts[node]}"
        run.mkdir()
        config = run / "keepalived.conf"
        version, advert = ("3", "0.1") if self.fast else ("2", "1")
        interface = self.lab.hosts[node]["interface"]
        config.write_text(
            f"global_defs {{\n  vrrp_version {version}\n  script_user root\n}}\n"
            f"vrrp_instance bench {{\n  state BACKUP\n  interface {interface}\n"
            f"  virtual_router_id 51\n  priority {self.priorities[node]}\n  advert_int {advert}\n"
            f"  virtual_ipaddress {{\n    {VRRP_VIP}/24\n  }}\n}}\n"
        )
        with self._log(node).open("wb") as log:
            self.processes[node] = subprocess.Popen(
                [
                    "ip", "netns", "exec", self.lab.hosts[node]["netns"], "keepalived", "--dont-fork",
                    "--log-console", "--vrrp", f"--use-file={config}",
                    f"--pid={run}/keepalived.pid", f"--vrrp_pid={run}/vrrp.pid",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.pids.setdefault(node, set()).add(self.processes[node].pid)
        wait_for(f"keepalived on {node} to enter a VRRP state", lambda: self._running(node), timeout=15)

    def _running(self, node: str) -> bool:
        process = self.processes[node]
        if process.poll() is not None:
            tail = self._log(node).read_text(errors="replace")[-2000:]
            raise AssertionError(f"keepalived on {node} exited with {process.returncode}: {tail}")
        self.pids[node].update(_children(process.pid))
        return "Entering" in self._log(node).read_text(errors="replace")

    def signal(self, node: str, sig: signal.Signals) -> None:
        """Signal every keepalived process of ``node`` (parent and VRRP child) and reap it.

        For SIGKILL the parent is stopped first, so it cannot respawn a child killed before it.
        """
        process = self.processes[node]
        if sig == signal.SIGKILL:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGSTOP)
        family = [*_children(process.pid), process.pid]
        self.pids[node].update(family)
        for pid in family if sig == signal.SIGKILL else [process.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        deadline = time.monotonic() + 5  # a SIGKILLed child takes a moment to be gone
        while any(_alive(pid) for pid in family) and time.monotonic() < deadline:
            time.sleep(0.01)
        self._reap(node)
        if sig == signal.SIGKILL:  # a killed VRRP child leaves the address behind
            interface = self.lab.hosts[node]["interface"]
            self.lab.exec(node, ["ip", "addr", "del", f"{VRRP_VIP}/24", "dev", interface], check=False)

    def _reap(self, node: str) -> None:
        """SIGKILL any keepalived process of ``node`` still alive (by recorded PID) and wait it out."""
        process = self.processes.get(node)
        if process is not None and process.poll() is None:
            return  # the current instance is meant to run
        leftovers = [pid for pid in self.pids.get(node, ()) if _alive(pid)]
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in leftovers) and time.monotonic() < deadline:
            time.sleep(0.05)
        if leftovers:
            print(f"    (killed leftover keepalived processes of {node}: {leftovers})", flush=True)
        self.pids[node] = {pid for pid in leftovers if _alive(pid)}

    def restart(self, node: str) -> None:
        """The harder restore: kill whatever runs for ``node``, clear the VIP, start afresh."""
        if node in self.processes and self.processes[node].poll() is None:
            self.signal(node, signal.SIGKILL)
        self._reap(node)
        interface = self.lab.hosts[node]["interface"]
        self.lab.exec(node, ["ip", "link", "set", interface, "up"], check=False)
        self.lab.exec(node, ["ip", "addr", "del", f"{VRRP_VIP}/24", "dev", interface], check=False)
        self.start(node)

    def stop_all(self) -> None:
        """Stop every instance (SIGTERM, then SIGKILL), then anything left by PID."""
        for node in list(self.processes):
            if self.processes[node].poll() is None:
                with contextlib.suppress(Exception):
                    self.signal(node, signal.SIGTERM)
            self._reap(node)


def _vrrp(lab: LabState, count: int, workdir: Path, fast: bool) -> dict[str, float]:
    if not shutil.which("keepalived"):
        print("keepalived not installed (apt-get install keepalived): VRRP comparison skipped")
        return {}
    group = _Keepalived(lab, workdir, fast)
    try:
        for node in lab.nodes:
            group.start(node)
        owner = group.master
        _sole(lab, VRRP_VIP, owner, 30)
        window = 1.5 if fast else 5.0

        def recover() -> None:
            group.restart(owner)

        trials = [
            Trial(
                "link cut",
                lambda: _link(lab, owner, False),
                lambda: _link(lab, owner, True),
                window,
                recover,
            ),
            Trial(
                "SIGKILL",
                lambda: group.signal(owner, signal.SIGKILL),
                lambda: group.start(owner),
                window,
                recover,
            ),
            Trial(
                "graceful stop (SIGTERM)",
                lambda: group.signal(owner, signal.SIGTERM),
                lambda: group.start(owner),
                window,
                recover,
            ),
        ]
        title = "keepalived VRRPv3, advert 100 ms" if fast else "keepalived VRRP defaults (advert 1 s)"
        return _run(lab, VRRP_VIP, owner, trials, count=count, title=title)
    finally:
        group.stop_all()
        for node in lab.nodes:  # no VIP left behind for the next run
            interface = lab.hosts[node]["interface"]
            lab.exec(node, ["ip", "addr", "del", f"{VRRP_VIP}/24", "dev", interface], check=False)


# -- main ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def lab_context(state_dir: str | None) -> Iterator[LabState]:
    """The lab in ``state_dir`` (must be healthy), or a fresh one removed afterwards."""
    if state_dir:
        state = LabState.load(Path(state_dir))
        if not state or not lifecycle.healthy(state):
            raise SystemExit(f"no healthy lab in {state_dir}")
        yield state
        return
    directory = Path(tempfile.mkdtemp(prefix="bmlb-l2bench-"))
    try:
        yield lifecycle.up(directory, node_count=3)
    finally:
        lifecycle.down(directory)
        shutil.rmtree(directory, ignore_errors=True)


PAIRS = {
    "link cut": "link cut",
    "SIGKILL (both processes)": "SIGKILL",
    "graceful stop (SIGTERM)": "graceful stop (SIGTERM)",
}


def _ratios(ours: dict[float, dict[str, float]], baselines: dict[str, dict[str, float]]) -> None:
    print("our median as a ratio to keepalived's (lower is better):")
    for dead_after, figures in ours.items():
        for ours_name, theirs_name in PAIRS.items():
            cells = [
                f"{label}: {figures[ours_name] / theirs[theirs_name]:.2f}"
                f" ({theirs[theirs_name] * 1000:.0f} ms)"
                for label, theirs in baselines.items()
                if theirs.get(theirs_name) not in (None, 0.0, float("inf"))
            ]
            print(
                f"  dead after {dead_after * 1000:3.0f} ms  {ours_name:<26} ours"
                f" {figures[ours_name] * 1000:5.0f} ms   " + "   ".join(cells)
            )


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--state-dir", default=os.environ.get("BMLB_LAB_STATE"), help="reuse this running lab"
    )
    parser.add_argument("--trials", type=int, default=20, help="trials per scenario for our speaker (>= 1)")
    parser.add_argument(
        "--dead-after",
        type=float,
        nargs="+",
        default=[0.4],
        help="the speakers' --ml-dead-after (s); several values: one run each",
    )
    parser.add_argument(
        "--vrrp-trials", type=int, default=20, help="trials per scenario for keepalived (0: skip)"
    )
    args = parser.parse_args()
    trials, vrrp_trials = max(1, min(args.trials, 200)), max(0, min(args.vrrp_trials, 100))
    dead_afters = [max(0.15, min(value, 5.0)) for value in args.dead_after[:4]]
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespaces)")
    ours: dict[float, dict[str, float]] = {}
    baselines: dict[str, dict[str, float]] = {}
    with lab_context(args.state_dir) as lab, tempfile.TemporaryDirectory(prefix="bmlb-l2bench-") as tmp:
        workdir = Path(tmp)
        for dead_after in dead_afters:
            ours[dead_after] = _ours(lab, trials, workdir, dead_after)
        if vrrp_trials:
            baselines["VRRP defaults"] = _vrrp(lab, vrrp_trials, workdir, fast=False)
            baselines["VRRP 100 ms"] = _vrrp(lab, vrrp_trials, workdir, fast=True)
    _ratios(ours, baselines)


if __name__ == "__main__":
    main()
