"""Layer-2 soak: no false failover while both cores are busy and a resync storm rages.

    PYTHONPATH=. .venv/bin/python bench/l2_soak_bench.py [--state-dir DIR] [--seconds 600]
        [--services 20] [--burners 2] [--profile default|fast] [--dead-after S] [--interval S]
        [--bound S] [--no-storm] [--logs DIR]   (root)

Starts the controller, three speakers (``--ml-profile`` as given, default the shipped one;
``--dead-after`` overrides the profile's) and ``--services``
Services (one IPv4 VIP each, spread over the three nodes by MetalLB's hash) in the lab
(``--state-dir``/``BMLB_LAB_STATE``, else a fresh lab removed afterwards), waits until every
VIP is answered by its predicted owner alone, then for ``--seconds``:

* ``--burners`` busy-loop processes at normal priority keep the CPUs busy (each ends by itself
  shortly after the soak and is killed by PID at the end in any case);
* a resync storm (:mod:`bench.l2_soak_storm`) annotates the Services, their EndpointSlices, the
  pool and the L2Advertisement, labels the Nodes, and every few seconds cuts each speaker's API
  connections so its watches break and resume; bounded in rounds and time;
* a prober in the client namespace (:mod:`bench.l2_soak_prober`, SCHED_FIFO above the speakers
  when ``chrt`` works) sends an ARP request for every VIP each ``--interval`` and reports runs
  of answers;
* each speaker's ``baremetal_lb_speaker_live_members`` gauge is sampled every 2 s, and each
  CPU's steal time every 0.1 s (/proc/stat: time the hypervisor gave a virtual CPU's core to
  someone else, which stalls whatever runs on it while the other CPU goes on).

The verdict is :func:`bench.l2_soak_judge.judge`'s (its docstring has the rule): every silence
of a VIP longer than ``--bound`` counts, less only the time the prober itself could not run
(such silences within the bound but for that time are printed as unobserved); so does any answer
from a second node, any live-member dip or peer declared dead, and any announce or withdraw a
speaker logged. The bound defaults to the failover bound, the dead-after time (the least
silence a real failover leaves: the peers wait that long before they take over), and may not
exceed it; ``--bound 0.1`` is the stricter rule of a client that notices 100 ms. Shorter
silences are printed as late answers of the owners, with how many of them exceeded 100 ms.
Each outage and unobserved silence (the first 20 of each) gets a line: the VIP, its owner, when
it began and how long it lasted, and how many of the owner's other VIPs and of the other nodes'
VIPs were silent at its middle, so a stall of one node's engine, of the whole lab and of one
VIP's answers look different, and each CPU's steal over it, so a stall of the VM does too.
Also printed: CPU use, steal time (each 0.1-s sample in which a CPU lost over 50 ms), what the
storm did (by kind, failed writes, connections cut) and what the speakers made of it (re-plans
counted by ``baremetal_lb_speaker_replans_total{reason="change"}``, watches logged as broken and
resumed).
Exit status 1 when a false failover was seen or the storm did no work; then the daemons' logs
are copied to a new /tmp/bmlb-l2soak-failed-* directory (always to ``--logs`` when given).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ansible_collections.baremetal.lb.daemons.kube.kubeapi import KubeApi  # noqa: E402
from ansible_collections.baremetal.lb.daemons.speaker.membership.service import (  # noqa: E402
    DEAD_AFTER,
    DEFAULT_PROFILE,
    OWN_STALL_LOG,
    PROFILES,
)
from bench.cpu_steal import NOTABLE_MS as NOTABLE_STEAL_MS  # noqa: E402
from bench.cpu_steal import Sample, steal_ms, steal_summary, stolen_between, stolen_text  # noqa: E402
from bench.l2_failover_bench import lab_context  # noqa: E402
from bench.l2_soak_judge import Observed, Outage, StormWork, Verdict, judge, storm_problems  # noqa: E402
from bench.l2_soak_prober import Prober  # noqa: E402
from bench.l2_soak_storm import KINDS, WATCH_CUT, ResyncStorm, StormTargets  # noqa: E402
from lab import build  # noqa: E402
from lab.state import LabState  # noqa: E402
from tests.lab import controller_harness, speaker_harness  # noqa: E402
from tests.lab.controller_harness import Cluster, service_manifest, unique, wait_for  # noqa: E402
from tests.lab.speaker_harness import POOL4, L2Config, Speakers, mac_to_node, metric, predicted_owner  # noqa: E402

BURN = (
    "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"
)
SAMPLE_EVERY = 2.0
NOTABLE_MS = 100.0  # excused silences longer than this are counted apart (a client may notice them)
OUTAGES_LISTED = 20  # outages printed one per line (VIP, owner, when, how long, what was silent alongside)
STORM_KINDS = (*KINDS, WATCH_CUT)
SETTLE_SECONDS = 60.0  # for every VIP to be answered by its owner alone before the soak
STEAL_EVERY = 0.1  # seconds between samples of each CPU's steal time
_REPLANS = "baremetal_lb_speaker_replans_total"
_DECLARED_DEAD = "baremetal_lb_speaker_peers_declared_dead"


@dataclass(frozen=True)
class Settings:
    """How hard and how long to soak."""

    seconds: float
    burners: int = 2
    interval: float = 0.02
    """Seconds between rounds of ARP requests (one per VIP)."""
    bound: float = DEAD_AFTER
    """A silence longer than this is an outage; by default the failover bound (dead-after)."""
    dead_after: float = DEAD_AFTER
    """The speakers' ``--ml-dead-after``: the bound must not exceed it."""
    storm: bool = True

    @property
    def split(self) -> float:
        """Answers further apart than this start a new run (two intervals: one lost answer)."""
        return 2 * self.interval

    def check(self) -> None:
        """Refuse settings under which the rule could hide an outage."""
        if not self.split <= self.bound <= self.dead_after:
            raise ValueError(
                f"need 2 x interval ({self.split}s) <= bound ({self.bound}s) <= dead-after "
                f"({self.dead_after}s): a longer bound could hide a real failover's silence"
            )


@dataclass(frozen=True)
class Served:
    """The soak's Services, their namespace and configuration, and each VIP's owner."""

    namespace: str
    services: tuple[str, ...]
    pool: str
    advertisement: str
    owners: Mapping[str, str]


@dataclass
class Report:
    """The soak's verdict, the storm's work, and the lines printed about them."""

    verdict: Verdict
    storm: StormWork
    storm_problems: list[str]
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No false failover, and a storm (when there was one) that did its work."""
        return self.verdict.false_failovers == 0 and not self.storm_problems


# -- set-up (shared with tests/lab/test_l2_soak.py) -------------------------------------------------


def serve_vips(
    lab: LabState,
    cluster: Cluster,
    l2: L2Config,
    start_controller: Callable[[], object],
    speakers: Speakers,
    *,
    namespace: str,
    count: int,
    speaker_args: tuple[str, ...] = (),
) -> Served:
    """A pool, an L2Advertisement, the controller, a speaker on every node and ``count``
    Services (one pod behind all of them), each VIP answered by its predicted owner alone."""
    pool = cluster.create_pool(unique("soak"), [POOL4])
    advertisement = unique("soak")
    l2.advertise(advertisement, ipAddressPools=[pool])
    start_controller()
    speakers.start(args=speaker_args)
    l2.deploy(namespace, "web")
    names = tuple(f"soak-{index:02d}" for index in range(count))
    for name in names:
        cluster.create_service(namespace, service_manifest(name, selector={"app": "web"}))
    owners = {}
    for name in names:
        vip = cluster.wait_ips(namespace, name)[0]
        owners[vip] = predicted_owner([vip], set(lab.nodes))
    wait_sole_owners(lab, owners)
    return Served(namespace, names, pool, advertisement, owners)


def wait_sole_owners(lab: LabState, owners: Mapping[str, str], timeout: float = SETTLE_SECONDS) -> None:
    """Wait until, in one second of probing, every VIP was answered and only by its owner."""
    names = mac_to_node(lab)
    last: dict[str, set[str]] = {}

    def sole() -> bool:
        prober = Prober(lab, list(owners), 1.0, interval=0.05, split=0.1, names=names)
        prober.wait(10)
        last.clear()
        for run in prober.runs:
            last.setdefault(run.vip, set()).add(run.who)
        return all(last.get(vip) == {owner} for vip, owner in owners.items())

    try:
        wait_for(f"{len(owners)} VIPs answered by their owners alone", sole, timeout=timeout, interval=0.5)
    except AssertionError as late:
        wrong = {vip: sorted(last.get(vip, ())) for vip, owner in owners.items() if last.get(vip) != {owner}}
        raise AssertionError(f"{late}; not so: {wrong}") from None


def storm_targets(lab: LabState, speakers: Speakers, served: Served) -> StormTargets:
    """What :class:`ResyncStorm` touches in this soak; the API server as the speakers reach it."""
    server = yaml.safe_load(speakers.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    url = urlsplit(server)
    assert url.hostname and url.port, f"no host and port in {server}"
    return StormTargets(
        namespace=served.namespace,
        services=served.services,
        nodes=tuple(lab.nodes),
        pools=(served.pool,),
        advertisements=(served.advertisement,),
        speakers={node: (s.netns, s.pid) for node, s in speakers.by_node.items()},
        api=(url.hostname, url.port),
    )


# -- observations --------------------------------------------------------------------------------


def _cpu_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _steal_sampler(stop: threading.Event, steal: list[Sample]) -> None:
    steal.append((time.monotonic(), steal_ms()))
    while not stop.wait(STEAL_EVERY):
        steal.append((time.monotonic(), steal_ms()))


def _sampler(speakers: Speakers, stop: threading.Event, samples: dict[str, list[float]]) -> None:
    while not stop.wait(SAMPLE_EVERY):
        for node, speaker in speakers.by_node.items():
            page = speaker.metrics()
            value = metric(page, "baremetal_lb_speaker_live_members") if page else math.nan
            samples.setdefault(node, []).append(value)


def _log_messages(speakers: Speakers, offsets: Mapping[str, int]) -> dict[str, list[str]]:
    """The messages each speaker logged since ``offsets``."""
    found: dict[str, list[str]] = {}
    for node, speaker in speakers.by_node.items():
        with speaker.log.open("rb") as log:
            log.seek(offsets[node])
            messages = []
            for raw in log:
                with contextlib.suppress(ValueError):
                    messages.append(str(json.loads(raw).get("msg", "")))
        found[node] = messages
    return found


def _counted(messages: Mapping[str, list[str]], pattern: str) -> dict[str, int]:
    return {node: sum(1 for m in found if re.match(pattern, m)) for node, found in messages.items()}


@contextlib.contextmanager
def _burning(count: int, seconds: float) -> Iterator[None]:
    """``count`` busy loops for at most ``seconds`` (then they end by themselves); killed by PID."""
    burners = [subprocess.Popen([sys.executable, "-c", BURN, str(seconds)]) for _unused in range(count)]
    try:
        time.sleep(1.0)  # the burners run at full speed before anything is measured
        yield
    finally:
        for process in burners:
            if process.poll() is None:
                process.kill()
            process.wait(10)


# -- the soak ------------------------------------------------------------------------------------


@dataclass
class _Seen:
    """The raw observations of one soak, before judging."""

    prober: Prober
    storm: ResyncStorm | None
    samples: dict[str, list[float]]
    before: dict[str, str]
    after: dict[str, str]
    messages: dict[str, list[str]]
    cpu_busy: float
    steal: list[Sample]  # each CPU's steal so far, every STEAL_EVERY


def _watch(lab: LabState, speakers: Speakers, served: Served, api: KubeApi, settings: Settings) -> _Seen:
    """Burn, storm, probe and sample for ``settings.seconds``; stop everything in any case."""
    offsets = {node: s.log.stat().st_size for node, s in speakers.by_node.items()}
    before = {node: s.metrics() for node, s in speakers.by_node.items()}
    stop = threading.Event()
    samples: dict[str, list[float]] = {}
    steal: list[Sample] = []
    sampler = threading.Thread(target=_sampler, args=(speakers, stop, samples), daemon=True)
    steal_sampler = threading.Thread(target=_steal_sampler, args=(stop, steal), daemon=True)
    storm = (
        ResyncStorm(api, storm_targets(lab, speakers, served), seconds=settings.seconds)
        if settings.storm
        else None
    )
    prober: Prober | None = None
    with _burning(settings.burners, settings.seconds + 30):
        cpu0 = _cpu_busy()
        try:
            prober = Prober(
                lab,
                list(served.owners),
                settings.seconds,
                interval=settings.interval,
                split=settings.split,
                names=mac_to_node(lab),
            )
            sampler.start()
            steal_sampler.start()
            if storm is not None:
                storm.start()
            prober.wait(settings.seconds + 30)
        finally:
            if storm is not None:
                storm.stop()
            stop.set()
            if prober is not None:
                prober.kill()
            for thread in (sampler, steal_sampler):
                if thread.is_alive():
                    thread.join(30)
        cpu1 = _cpu_busy()
    after = {node: s.metrics() for node, s in speakers.by_node.items()}
    busy = (cpu1[0] - cpu0[0]) / max(1, cpu1[1] - cpu0[1])
    return _Seen(prober, storm, samples, before, after, _log_messages(speakers, offsets), busy, steal)


def _grew(seen: _Seen, node: str, name: str, labels: str = "") -> float:
    return metric(seen.after[node], name, labels) - metric(seen.before[node], name, labels)


def soak(lab: LabState, speakers: Speakers, served: Served, api: KubeApi, settings: Settings) -> Report:
    """Burn, storm and probe for ``settings.seconds``; judge what was seen."""
    settings.check()
    seen = _watch(lab, speakers, served, api, settings)
    logged = _counted(seen.messages, r"(announcing|stopped announcing) ")
    observed = Observed(
        start=seen.prober.start,
        end=seen.prober.watched_until,
        owners=served.owners,
        speakers=len(speakers.by_node),
        runs=seen.prober.runs,
        late_sends=seen.prober.late,
        live_members=seen.samples,
        ownership_logged=logged,
        declared_dead={node: round(_grew(seen, node, _DECLARED_DEAD)) for node in speakers.by_node},
    )
    verdict = judge(observed, bound=settings.bound, split=settings.split)
    replans = {node: _grew(seen, node, _REPLANS, 'reason="change"') for node in speakers.by_node}
    resumes = _counted(seen.messages, r"watch of \S+ ")
    storm = seen.storm
    work = StormWork(dict(storm.actions) if storm else {}, replans, resumes if storm else {})
    report = Report(verdict, work, storm_problems(work, STORM_KINDS) if storm else [])
    policy = "SCHED_FIFO" if seen.prober.realtime else "normal priority"
    report.lines += [
        f"  CPU busy during the soak: {seen.cpu_busy * 100:.0f}% of {os.cpu_count()} CPUs",
        f"  {steal_summary(seen.steal, seen.prober.start)}",
        f"  prober: {policy}, {verdict.vips} VIPs every {settings.interval * 1000:.0f} ms, "
        f"{verdict.replies} answers, {verdict.late_sends} late rounds of its own",
    ]
    if storm is not None:
        kinds = ", ".join(f"{kind} {storm.actions[kind]}" for kind in STORM_KINDS)
        failed = sum(storm.errors.values())
        report.lines.append(
            f"  storm: {storm.rounds} rounds, {sum(storm.actions.values())} actions ({kinds}); "
            f"{failed} failed{f' {dict(storm.errors)}' if failed else ''}; "
            f"{storm.connections_cut} API connections cut"
        )
    relists = _counted(seen.messages, r"watch of \S+ expired")
    stalled = _counted(seen.messages, re.escape(OWN_STALL_LOG))
    for node in sorted(speakers.by_node):
        low = [v for v in seen.samples.get(node, []) if v < len(speakers.by_node)]
        owns = sum(1 for owner in served.owners.values() if owner == node)
        answered = _grew(seen, node, "metallb_layer2_responses_sent")
        periodic = _grew(seen, node, _REPLANS, 'reason="periodic"')
        report.lines.append(
            f"  {node} (owns {owns}): answered {answered:.0f}; re-plans on change {replans[node]:.0f}, "
            f"periodic {periodic:.0f}; watches broken and resumed {resumes[node]} (relisted "
            f"{relists[node]}); announce/withdraw logged {logged[node]}; peers declared dead "
            f"{_grew(seen, node, _DECLARED_DEAD):.0f}; its own heartbeats stopped longer than dead-after "
            f"{stalled[node]}; live-members samples "
            f"{len(seen.samples.get(node, []))}, below {len(speakers.by_node)}: {len(low)}"
        )
    report.lines += [
        f"  {verdict.summary()}",
        f"  excused: late answers of the owners (silences {settings.split * 1000:.0f}-"
        f"{settings.bound * 1000:.0f} ms) {verdict.late_answers}, of which over {NOTABLE_MS:.0f} ms "
        f"{sum(1 for ms in verdict.late_ms if ms > NOTABLE_MS)}, longest {verdict.late_ms_max:.0f} ms; "
        f"short silences while the prober was late {verdict.silences_prober_late}; "
        f"unread live-members samples {verdict.member_samples_missing} of {verdict.member_samples}",
    ]
    if verdict.outage_list:
        stalled_vm = sum(
            1
            for outage in verdict.outage_list
            if max(_stolen_over(seen, outage), default=0) > NOTABLE_STEAL_MS
        )
        report.lines.append(
            f"  outages during a stall of the VM (a CPU lost over {NOTABLE_STEAL_MS:.0f} ms to the hypervisor"
            f" in the samples over them): {stalled_vm} of {len(verdict.outage_list)}"
        )
    report.lines += _listed("outage", verdict.outage_list, seen)
    report.lines.append(
        f"  unobserved (not counted): {verdict.unobserved} silences over {settings.bound * 1000:.0f} ms "
        f"that were within it but for the time the prober could not ask"
    )
    report.lines += _listed("unobserved", verdict.unobserved_list, seen)
    report.lines += [f"  the storm proves nothing: {problem}" for problem in report.storm_problems]
    return report


def _listed(kind: str, silences: tuple[Outage, ...], seen: _Seen) -> list[str]:
    """One line for each of the first silences with the steal over it, and how many more there were.

    The steal tells a stall of the VM (the hypervisor ran something else on a CPU the speakers or
    the lab's network were on) from one of the guest's own making.
    """
    lines = [
        f"    {kind}: {silence.describe()}; steal over it: {stolen_text(_stolen_over(seen, silence))}"
        for silence in silences[:OUTAGES_LISTED]
    ]
    if len(silences) > OUTAGES_LISTED:
        lines.append(f"    and {len(silences) - OUTAGES_LISTED} more of them")
    return lines


def _stolen_over(seen: _Seen, silence: Outage) -> tuple[float, ...]:
    """Each CPU's steal (ms) over the 0.1-s samples that ``silence`` falls in."""
    began = seen.prober.start + silence.at
    return stolen_between(seen.steal, began, began + silence.ms / 1000)


# -- the bench's own set-up ----------------------------------------------------------------------


@contextlib.contextmanager
def bench_setup(
    lab: LabState, workdir: Path, services: int, speaker_args: tuple[str, ...]
) -> Iterator[tuple[Served, Speakers, KubeApi]]:
    """What the lab fixtures give the test, for the bench: set up, yielded, removed in any case."""
    kubectl = controller_harness.kubectl_runner(str(build.ensure_all(log=False)["kubectl"]), lab)
    controller_harness.install(kubectl)
    speaker_harness.install(kubectl)
    api = KubeApi.connect(str(lab.kubeconfig))
    cluster = Cluster(api)
    l2 = L2Config(api)
    namespace = f"soak-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", namespace)
    controllers: list[controller_harness.Controller] = []

    def start_controller() -> None:
        kubeconfig = controller_harness.controller_kubeconfig(lab, workdir / "controller.kubeconfig")
        controllers.append(controller_harness.Controller(kubeconfig, workdir).start())

    speakers = Speakers(lab, speaker_harness.speaker_kubeconfig(lab, workdir / "speaker.kubeconfig"), workdir)
    try:
        served = serve_vips(
            lab, cluster, l2, start_controller, speakers, namespace=namespace,
            count=services, speaker_args=speaker_args,
        )  # fmt: skip
        yield served, speakers, api
    finally:
        speakers.stop_all()
        for controller in controllers:
            controller.stop()
        with contextlib.suppress(Exception):
            cluster.cleanup()
        l2.cleanup()
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def main() -> None:
    """Run the soak and print its figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--state-dir", default=os.environ.get("BMLB_LAB_STATE"), help="reuse this running lab"
    )
    parser.add_argument("--seconds", type=float, default=600, help="length of the soak (10..1800)")
    parser.add_argument("--services", type=int, default=20, help="Services, one VIP each (1..40)")
    parser.add_argument("--burners", type=int, default=2, help="busy-loop processes (0..8)")
    parser.add_argument(
        "--profile", choices=sorted(PROFILES), default=DEFAULT_PROFILE, help="the speakers' --ml-profile"
    )
    parser.add_argument(
        "--dead-after", type=float, help="the speakers' --ml-dead-after (s; default: the profile's)"
    )
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between rounds of ARP requests")
    parser.add_argument(
        "--bound", type=float, help="a longer silence is an outage (s; default and maximum: --dead-after)"
    )
    parser.add_argument("--no-storm", action="store_true", help="burn and probe only")
    parser.add_argument(
        "--logs", type=Path, help="keep the daemons' logs here (default: kept only when the soak fails)"
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespaces)")
    profile = PROFILES[args.profile]
    dead_after = profile.dead_after if args.dead_after is None else max(0.05, min(args.dead_after, 5.0))
    speaker_args = (f"--ml-profile={args.profile}", f"--ml-dead-after={dead_after}")
    settings = Settings(
        seconds=max(10.0, min(args.seconds, 1800.0)),
        burners=max(0, min(args.burners, 8)),
        interval=max(0.005, min(args.interval, 1.0)),
        bound=dead_after if args.bound is None else args.bound,
        dead_after=dead_after,
        storm=not args.no_storm,
    )
    try:
        settings.check()
    except ValueError as error:
        raise SystemExit(str(error)) from None
    services = max(1, min(args.services, 40))
    with (
        lab_context(args.state_dir) as lab,
        tempfile.TemporaryDirectory(prefix="bmlb-l2soak-") as tmp,
        bench_setup(lab, Path(tmp), services, speaker_args) as (served, speakers, api),
    ):
        print(
            f"soak: {settings.seconds:.0f} s, {settings.burners} busy loops on {os.cpu_count()} CPUs, "
            f"{'a resync storm, ' if settings.storm else ''}{len(served.owners)} VIPs "
            f"({dict(Counter(served.owners.values()))}), profile {args.profile}, heartbeat every "
            f"{profile.interval * 1000:.0f} ms, dead after {settings.dead_after * 1000:.0f} ms, "
            f"bound {settings.bound * 1000:.0f} ms",
            flush=True,
        )
        report = soak(lab, speakers, served, api, settings)
        kept = keep_logs(Path(tmp), args.logs, report.ok)
    print("\n".join(report.lines))
    if kept:
        print(f"the speakers' and the controller's logs: {kept}")
    raise SystemExit(0 if report.ok else 1)


def keep_logs(workdir: Path, wanted: Path | None, ok: bool) -> Path | None:
    """Copy the daemons' logs out of the bench's working directory before it is removed: to
    ``wanted`` when given, else to a new directory under /tmp when the soak failed (what to read
    when a false failover needs explaining); the directory, or None when nothing was kept."""
    if wanted is None and ok:
        return None
    target = wanted or Path(tempfile.mkdtemp(prefix="bmlb-l2soak-failed-"))
    target.mkdir(parents=True, exist_ok=True)
    for log in sorted(workdir.glob("*.log")):
        shutil.copy2(log, target / log.name)
    return target


if __name__ == "__main__":
    main()
