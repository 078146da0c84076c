"""Layer-2 failover and failback as the client sees it: our speaker against keepalived (VRRP).

    PYTHONPATH=. .venv/bin/python bench/l2_failover_bench.py [--state-dir DIR] [--trials 5]
        [--vrrp-trials 5] [--profile default|fast] [--dead-after S] [--interval S] [--handover-overlap S]
        [--failback revertive|non-revertive|both] [--scenario NAME ...]   (root)

Uses the lab (three node namespaces, a client namespace, one LAN): a running one given by
``--state-dir`` or ``BMLB_LAB_STATE``, else a fresh one that is removed afterwards. Three systems
run side by side in that lab for the whole run, each announcing its own VIP:

* baremetal.lb: the controller, three speakers and a Service from an on-link pool; the speakers
  run with the timing of the membership profile ``--profile`` (default: the shipped default)
  unless ``--dead-after``/``--interval`` say otherwise (read from the speaker's own profiles);
* keepalived with VRRP defaults (VRRPv2, advert 1 s) and keepalived with VRRPv3 and 100 ms
  adverts, one instance per node, the highest priority on the first node; with a non-revertive
  ``--failback`` also keepalived VRRPv3 with ``nopreempt`` (the returning master stays a backup,
  VRRP's non-revertive failback; before its next trial the holder is restarted gracefully, as
  for ours).

Scenarios, run on the VIP's owner:

* link cut: ``ip link set eth0 down``; failback: the link comes up again;
* SIGKILL: the owner's daemon is killed (our speaker: both its processes, as a crash would;
  keepalived: its parent is stopped first so it cannot respawn the VRRP child, then both die);
  failback: it starts again;
* graceful stop: SIGTERM (our speaker sends LEAVE; keepalived sends a priority-0 advert);
  failback: it starts again;
* cordon (our speaker only; keepalived knows no Kubernetes): the owner's Node gets
  ``spec.unschedulable`` through the API, as ``kubectl cordon`` and ``kubectl drain`` do; failback:
  uncordon. Planned moves are make before break unless ``--handover-overlap 0``.

``--failback non-revertive`` gives our L2Advertisement the annotation
``baremetal.lb/failback: non-revertive``: after every restore the client is watched for
``STAY_WATCH`` seconds, the VIP must stay with the node that took it over (the owner answering
again fails the trial), and the failback figure is the longest silence the client saw in that
time. Before the next trial the node that kept the VIP is restarted gracefully (SIGTERM), which
hands it back to the owner; that hand-back is not measured. The systems share the nodes' links,
so one system's link cut moves every VIP of that node: a non-revertive system's VIP found with
another node before its trial is handed back the same way (the run says so). ``--failback both``
runs our speakers as two systems, one per policy, taking turns like every other system: before
each turn the annotation is set (or removed, for revertive) and the bench waits until every
speaker re-planned.

``--scenario`` (repeatable) runs only the scenarios named.

The systems take turns in alternating order, one trial of every scenario per turn
(A B C, C B A, A B C, ...), so load on the machine falls on all of them alike. Before every trial
the bench waits until the owner alone answers for the VIP.

Measuring: a prober in the client namespace sends an ARP request for the VIP every 10 ms (the
resolution of every figure) and stamps each reply with the kernel's receive time in
CLOCK_MONOTONIC, the clock the bench takes its own times from (only how long a reply waited in
the prober's socket is read from the wall clock, so a busy machine that runs the prober late does
not move its replies).
The failover outage is the longest silence between the owner's last answer before the event and
the first answer of another node. The failback outage is the longest silence the client saw from
the restore (link up, daemon started; a restart counts from the moment it is begun) to the end of
the watch, at least ``STAY_WATCH`` seconds after the restore returned and, when the owner answers
again, at least 0.25 s after that (the same watch whatever the failback policy); "moved back" counts trials in
which the owner answered again within 10 s of the restore returning and then alone, as MetalLB's
rule (no stickiness) and VRRP's preemption both promise. The failover bound is 3 s for our
speaker and VRRPv3, 5 s for VRRP defaults.

Failed trials are never dropped. A trial fails when no other node answered within the bound,
the prober failed, an action or restore failed, or the lab did not settle afterwards (the owner is
then restarted). Each failure is printed with its reason and counted per scenario; a trial
without a failover figure enters the figures as its bound, and a figure that such a trial decides
is printed as ">bound" (a median so marked is a lower bound). p95 (nearest rank) is printed
only with at least 20 trials.

The result is one Markdown table (and the ratio of our medians to keepalived's). Every loop is
bounded; the speakers, controller, keepalived instances, probers and test objects are removed at
the end, also on failure, SIGINT or SIGTERM. keepalived comes from the Debian package
``keepalived`` (``make deps``); every start of it gets fresh config/pidfile paths, and its
processes are tracked and ended by PID. Exit status 1 when a trial failed or the run stopped early.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
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
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ansible_collections.baremetal.lb.daemons.kube.kubeapi import KubeApi  # noqa: E402
from ansible_collections.baremetal.lb.daemons.speaker.membership.service import (  # noqa: E402
    DEFAULT_PROFILE,
    PROFILES,
)
from ansible_collections.baremetal.lb.daemons.speaker.options import Options as SpeakerOptions  # noqa: E402
from ansible_collections.baremetal.lb.plugins.module_utils.failback import (  # noqa: E402
    FAILBACK_ANNOTATION,
    NON_REVERTIVE,
    POLICIES,
    REVERTIVE,
)
from lab import build, lifecycle  # noqa: E402
from lab.state import LabState  # noqa: E402
from tests.lab import controller_harness, speaker_harness  # noqa: E402
from tests.lab.controller_harness import wait_for  # noqa: E402
from tests.lab.speaker_harness import Probe, handover, mac_to_node, predicted_owner  # noqa: E402

LEAD = 0.6  # seconds the owner must have answered before each event
LEAD_TIMEOUT = 5.0  # seconds to see that, else the trial fails
AFTER = 0.25  # seconds the new (or returning) owner is watched answering before a phase ends
FAILBACK_WINDOW = 10.0  # seconds the owner has, after the restore returned, to answer again
STAY_WATCH = 3.0  # seconds the client watches the VIP after the restore returned, at least
RESTORE_LIMIT = 90.0  # longest a restore may block (a speaker waits up to 60 s for its sync)
SETTLE_TIMEOUT = 20.0  # seconds for the owner to be the only one answering again
POLL = 0.02  # seconds between looks at the replies while a phase runs
P95_MIN_TRIALS = 20
SCENARIOS = ("link cut", "SIGKILL", "graceful stop (SIGTERM)")  # every system's
CORDON = "cordon (drain)"  # ours only
BOTH = "both"  # --failback: each policy as a system of its own
OURS = "baremetal.lb"
Action = Callable[[], object]
Reply = tuple[float, str]  # (monotonic time, node name or MAC)


@dataclass
class Scenario:
    """One fault on the owner, how to undo it, and the harder undo when the owner stays away."""

    name: str
    act: Action
    restore: Action
    window: float  # longest the bench waits for another node to answer after the event
    recover: Action


def _scenarios(
    lab: LabState, owner: str, *, crash: Action, stop: Action, start: Action, window: float, recover: Action
) -> list[Scenario]:
    """The three faults every system goes through: the owner's link cut, SIGKILL and SIGTERM."""
    return [
        Scenario(
            SCENARIOS[0], lambda: _link(lab, owner, False), lambda: _link(lab, owner, True), window, recover
        ),
        Scenario(SCENARIOS[1], crash, start, window, recover),
        Scenario(SCENARIOS[2], stop, start, window, recover),
    ]


@dataclass
class System:
    """A running implementation with its VIP, that VIP's owner and its scenarios."""

    label: str
    vip: str
    owner: str
    scenarios: list[Scenario]
    # non-revertive failback: hands the VIP back from the node that kept it (None: revertive)
    give_back: Callable[[str], object] | None = None
    prepare: Action | None = None  # puts the lab in this system's configuration before a trial


@dataclass
class Outcome:
    """What one trial measured; ``errors`` is empty for a successful trial."""

    bound: float
    failover: float | None = None  # seconds, None when no other node answered
    new_owner: str | None = None
    failback: float | None = None  # seconds, None when the failback was not observed
    moved_back: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True when anything went wrong in this trial."""
        return bool(self.errors)


class Watch:
    """A 10 ms prober in the client namespace (ARP, or neighbour discovery for an IPv6 VIP) whose
    replies are read while it runs."""

    def __init__(self, lab: LabState, vip: str, seconds: float, interval: float = 0.01) -> None:
        self._owners = mac_to_node(lab)
        self._probe = Probe(lab, vip, seconds, interval)
        self._replies: list[Reply] = []
        self._sent: list[float] = []
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
                    if "s" in item:
                        self._sent.append(item["s"])
                    else:
                        self._replies.append((item["m"], self._owners.get(item["mac"], item["mac"])))

    def replies(self) -> list[Reply]:
        """The replies so far."""
        with self._lock:
            return list(self._replies)

    def sent(self) -> list[float]:
        """When each request so far was sent (monotonic)."""
        with self._lock:
            return list(self._sent)

    def until(self, done: Callable[[list[Reply]], bool], deadline: float) -> bool:
        """Poll until ``done(replies)`` (True), the monotonic ``deadline`` or the prober's end (False)."""
        while time.monotonic() < deadline and self.running():
            if done(self.replies()):
                return True
            time.sleep(POLL)
        return done(self.replies())

    def running(self) -> bool:
        """True while the prober runs."""
        return self._probe.process.poll() is None

    def close(self) -> str | None:
        """Stop the prober; say how it failed when it ended by itself with an error."""
        status = self._probe.process.poll()
        self._probe.kill()
        self._thread.join(10)
        return f"the prober exited with status {status}" if status else None


def _answering(replies: list[Reply], since: float, seconds: float, match: Callable[[str], bool]) -> bool:
    """True once a node that ``match``es answered after ``since``, its first answer ``seconds`` ago."""
    first = next((t for t, who in replies if t > since and match(who)), None)
    return first is not None and time.monotonic() - first >= seconds


def failback_outage(replies: list[Reply], at: float, owner: str, end: float) -> tuple[float, bool]:
    """The longest silence the client saw from ``at`` (the restore began) to ``end``, and whether
    ``owner`` answered again.

    The silence is counted from the last answer before ``at`` (or ``at``) through every answer
    after it; when ``owner`` never answered again, the silence still running at ``end`` counts too.
    """
    before = [t for t, _unused in replies if t <= at]
    after = [(t, who) for t, who in replies if at < t <= end]
    back = any(who == owner for _unused, who in after)
    times = [before[-1] if before else at, *(t for t, _unused in after)]
    if not back:
        times.append(end)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return (max(gaps) if gaps else 0.0), back


def answerers(lab: LabState, vip: str, seconds: float = 0.3) -> set[str]:
    """Who answered ARP for ``vip`` during ``seconds`` of 10 ms probing."""
    return {who for _unused, who in Probe(lab, vip, seconds).replies()}


def _replans(speaker: speaker_harness.Speaker) -> float:
    """The speaker's re-plans after a change so far (its replans_total{reason="change"})."""
    return speaker_harness.metric(speaker.metrics(), "baremetal_lb_speaker_replans_total", 'reason="change"')


def _sole(lab: LabState, vip: str, owner: str, timeout: float) -> None:
    wait_for(f"{owner} alone to answer for {vip}", lambda: answerers(lab, vip) == {owner}, timeout=timeout)


def _why(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"


class LabBroken(RuntimeError):
    """The owner did not answer alone even after a restart: the run cannot go on."""

    def __init__(self, message: str, outcome: Outcome | None = None) -> None:
        super().__init__(message)
        self.outcome = outcome


def _settle(lab: LabState, system: System, scenario: Scenario) -> str | None:
    """Wait until the owner alone answers; restart it once if not. Say what failed, if anything."""
    try:
        _sole(lab, system.vip, system.owner, SETTLE_TIMEOUT)
        return None
    except AssertionError as error:
        reason = f"{system.owner} did not answer alone within {SETTLE_TIMEOUT:.0f} s ({_why(error)})"
    try:
        scenario.recover()
        _sole(lab, system.vip, system.owner, 30)
    except Exception as error:
        raise LabBroken(f"{system.label}: the lab did not recover: {_why(error)}") from error
    return reason + "; restarted it"


def _watch_trial(lab: LabState, system: System, scenario: Scenario, outcome: Outcome) -> None:
    owner = system.owner
    probe_seconds = LEAD_TIMEOUT + scenario.window + RESTORE_LIMIT + FAILBACK_WINDOW + 5
    watch = Watch(lab, system.vip, probe_seconds)
    acted = restored = False

    def is_owner(who: str) -> bool:
        return who == owner

    try:
        if not watch.until(lambda r: _answering(r, 0.0, LEAD, is_owner), time.monotonic() + LEAD_TIMEOUT):
            outcome.errors.append(f"{owner} did not answer for {LEAD} s before the event")
            return
        at = time.monotonic()
        acted = True
        scenario.act()
        watch.until(lambda r: _answering(r, at, AFTER, lambda who: not is_owner(who)), at + scenario.window)
        outage, new = handover(watch.replies(), at, owner)
        if new in (None, owner):
            outcome.errors.append(f"no other node answered within {scenario.window:.1f} s")
        else:
            outcome.failover, outcome.new_owner = outage, new
        back_at = time.monotonic()
        restored = True
        scenario.restore()
        returned_at = time.monotonic()
        if system.give_back is None:  # revertive: the owner takes the VIP back
            watch.until(lambda r: _answering(r, back_at, AFTER, is_owner), returned_at + FAILBACK_WINDOW)
        else:  # non-revertive: it must not; the client watches the VIP stay
            watch.until(lambda r: _answering(r, back_at, 0.0, is_owner), returned_at + STAY_WATCH)
        watch.until(lambda _replies: False, returned_at + STAY_WATCH)  # the same watch for both policies
        end = time.monotonic()
        outcome.failback, outcome.moved_back = failback_outage(watch.replies(), back_at, owner, end)
        if system.give_back is None and not outcome.moved_back:
            outcome.errors.append(f"{owner} did not answer within {FAILBACK_WINDOW:.0f} s of the restore")
        elif system.give_back is not None and outcome.moved_back:
            outcome.errors.append(f"{owner} answered again though the failback is non-revertive")
    except Exception:
        if acted and not restored:  # on an interrupt the teardown puts things back instead
            with contextlib.suppress(Exception):
                scenario.restore()
        raise
    finally:
        if (problem := watch.close()) is not None:
            outcome.errors.append(problem)


def _hand_back(lab: LabState, system: System, outcome: Outcome, when: str) -> list[str]:
    """Hand a non-revertive system's VIP back to its owner from every other node answering for it.

    After a trial that is the node that took it over. Before one it is wherever another system's
    link cut moved it: the systems share the nodes' links, and a non-revertive owner does not take
    it back by itself. Neither move is measured. Returns the nodes it was taken from (a failure
    is recorded on ``outcome`` and ends the hand-back).
    """
    if system.give_back is None:
        return []
    holders, given = sorted(answerers(lab, system.vip) - {system.owner}), []
    try:
        for holder in holders:
            system.give_back(holder)
            given.append(holder)
    except Exception as error:
        outcome.errors.append(f"{when}: giving the VIP back: {_why(error)}")
    return given


def trial(lab: LabState, system: System, scenario: Scenario) -> Outcome:
    """Settle, inject the fault, watch the failover, restore, watch the failback, settle again."""
    outcome = Outcome(bound=scenario.window)
    try:
        if system.prepare is not None:
            system.prepare()
        if holders := _hand_back(lab, system, outcome, "before the trial"):
            print(
                f"    ({system.label}: {', '.join(holders)} held {system.vip} before the trial; handed back)",
                flush=True,
            )
        if (problem := _settle(lab, system, scenario)) is not None:
            outcome.errors.append(f"before the trial: {problem}")
        try:
            _watch_trial(lab, system, scenario, outcome)
        except Exception as error:
            outcome.errors.append(_why(error))
        _hand_back(lab, system, outcome, "after the trial")
        if (problem := _settle(lab, system, scenario)) is not None:
            outcome.errors.append(f"after the trial: {problem}")
            outcome.moved_back = False
    except LabBroken as error:
        outcome.errors.append(str(error))
        outcome.moved_back = False
        raise LabBroken(str(error), outcome) from error
    return outcome


def _links_up(lab: LabState) -> None:
    """Every node's LAN link up again (a teardown after an interrupted link cut)."""
    for node in lab.nodes:
        with contextlib.suppress(Exception):
            _link(lab, node, True)


def _link(lab: LabState, node: str, up: bool) -> None:
    lab.set_cable(node, plugged=up)


# -- our speaker ---------------------------------------------------------------------------------


@contextlib.contextmanager
def our_setup(
    lab: LabState,
    workdir: Path,
    dead_after: float,
    interval: float = SpeakerOptions.ml_interval,
    speaker_args: tuple[str, ...] = (),
    *,
    failback: str = REVERTIVE,
) -> Iterator[tuple[str, str, speaker_harness.Speakers, Callable[[str], None]]]:
    """Controller, three speakers (given ``speaker_args`` too) and one Service whose L2Advertisement
    has the ``failback`` policy; yields (VIP, owner, speakers, a function that sets the policy and
    waits until every speaker re-planned); removes it all."""
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
        advertisement = f"bench-{uuid.uuid4().hex[:6]}"
        annotations = {FAILBACK_ANNOTATION: failback} if failback != REVERTIVE else None  # as shipped
        l2.advertise(advertisement, annotations, ipAddressPools=[pool])
        controller.start()
        speakers.start(args=(f"--ml-dead-after={dead_after}", f"--ml-interval={interval}", *speaker_args))
        l2.deploy(namespace, "web")
        cluster.create_service(namespace, controller_harness.service_manifest("web"))
        ips = cluster.wait_ips(namespace, "web")
        owner = predicted_owner(ips, set(lab.nodes))
        _sole(lab, ips[0], owner, 30)

        def set_failback(policy: str) -> None:
            before = {node: _replans(speakers[node]) for node in lab.nodes}
            value = policy if policy != REVERTIVE else None  # revertive: as shipped, no annotation
            api.request(
                "PATCH",
                f"{speaker_harness.L2ADS}/{advertisement}",
                body={"metadata": {"annotations": {FAILBACK_ANNOTATION: value}}},
                content_type="application/merge-patch+json",
            )
            wait_for(
                f"every speaker re-planning with failback {policy}",
                lambda: all(_replans(speakers[node]) > count for node, count in before.items()),
                timeout=30,
            )

        yield ips[0], owner, speakers, set_failback
    finally:
        speakers.stop_all()
        controller.stop()
        _links_up(lab)
        with contextlib.suppress(Exception):
            cluster.cleanup()
        l2.cleanup()
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@contextlib.contextmanager
def our_systems(
    lab: LabState,
    workdir: Path,
    dead_after: float,
    interval: float,
    handover_overlap: float,
    *,
    failbacks: tuple[str, ...] = (REVERTIVE,),
    profile: str = DEFAULT_PROFILE,
) -> Iterator[list[System]]:
    """:func:`our_setup` with its four scenarios, as one system per failback policy (sharing the
    speakers and the VIP), running until the context ends."""
    run = workdir / "ours"
    run.mkdir()
    api = KubeApi.connect(str(lab.kubeconfig))
    flags = (f"--handover-overlap={handover_overlap}", f"--ml-profile={profile}")
    with our_setup(lab, run, dead_after, interval, flags, failback=failbacks[0]) as (
        vip,
        owner,
        speakers,
        set_failback,
    ):
        speaker = speakers[owner]

        def recover() -> None:
            speaker_harness.cordon(api, owner, unschedulable=False)
            speaker.stop()
            _link(lab, owner, True)
            speaker.start()

        def cordon(unschedulable: bool) -> Action:
            return lambda: speaker_harness.cordon(api, owner, unschedulable)

        def give_back(node: str) -> None:
            speakers[node].stop()  # SIGTERM: LEAVE, so the owner takes the VIP again
            speakers[node].start()

        applied = [failbacks[0]]

        def prepare(policy: str) -> Action | None:
            def apply() -> None:
                if applied[0] != policy:
                    set_failback(policy)
                    applied[0] = policy

            return apply if len(failbacks) > 1 else None

        def label(failback: str) -> str:
            return (
                f"{OURS} ({profile} profile: dead after {dead_after * 1000:.0f} ms,"
                f" heartbeat {interval * 1000:.0f} ms,"
                f" hand-over overlap {handover_overlap * 1000:.0f} ms, failback {failback})"
            )

        scenarios = _scenarios(
            lab,
            owner,
            crash=speaker.crash,
            stop=speaker.stop,
            start=speaker.start,
            window=3.0,
            recover=recover,
        )
        try:
            yield [
                System(
                    label(failback),
                    vip,
                    owner,
                    [*scenarios, Scenario(CORDON, cordon(True), cordon(False), 3.0, recover)],
                    give_back if failback == NON_REVERTIVE else None,
                    prepare(failback),
                )
                for failback in failbacks
            ]
        finally:
            speaker_harness.cordon(api, owner, unschedulable=False)


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


@dataclass(frozen=True)
class VrrpFlavour:
    """How one keepalived group is configured; each group has its own router id and VIP."""

    label: str
    name: str
    version: str
    advert: str
    router_id: int
    vip: str
    window: float  # seconds to wait for the backup after a fault
    preempt: bool = True  # False: keepalived's nopreempt, VRRP's non-revertive failback


VRRP_DEFAULTS = VrrpFlavour(
    "keepalived VRRPv2 defaults (advert 1 s)", "vrrp-defaults", "2", "1", 51, "192.0.2.126", 5.0
)
VRRP_FAST = VrrpFlavour("keepalived VRRPv3 (advert 100 ms)", "vrrp-fast", "3", "0.1", 52, "192.0.2.125", 3.0)
# The baseline of our non-revertive policy: the master that returns stays a backup.
VRRP_FAST_NOPREEMPT = VrrpFlavour(
    "keepalived VRRPv3 (advert 100 ms, nopreempt)", "vrrp-nopreempt", "3", "0.1", 53, "192.0.2.124", 3.0,
    preempt=False,
)  # fmt: skip
# Both VIPs sit in the lab's suggested layer-2 pool above the bench's own pool (192.0.2.64/27).


class _Keepalived:
    """keepalived in every node namespace, one VRRP instance holding the flavour's VIP."""

    def __init__(self, lab: LabState, workdir: Path, flavour: VrrpFlavour) -> None:
        self.lab = lab
        self.flavour = flavour
        self.workdir = workdir / flavour.name
        self.workdir.mkdir()
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
        flavour = self.flavour
        interface = self.lab.hosts[node]["interface"]
        nopreempt = "" if flavour.preempt else "  nopreempt\n"
        config.write_text(
            f"global_defs {{\n  vrrp_version {flavour.version}\n  script_user root\n}}\n"
            f"vrrp_instance {flavour.name.replace('-', '_')} {{\n  state BACKUP\n  interface {interface}\n"
            f"  virtual_router_id {flavour.router_id}\n  priority {self.priorities[node]}\n"
            f"  advert_int {flavour.advert}\n{nopreempt}"
            f"  virtual_ipaddress {{\n    {flavour.vip}/24\n  }}\n}}\n"
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

    def _drop_vip(self, node: str) -> None:
        interface = self.lab.hosts[node]["interface"]
        self.lab.exec(node, ["ip", "addr", "del", f"{self.flavour.vip}/24", "dev", interface], check=False)

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
            self._drop_vip(node)

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
        _link(self.lab, node, True)
        self._drop_vip(node)
        self.start(node)

    def stop_all(self) -> None:
        """Stop every instance (SIGTERM, then SIGKILL), then anything left by PID; clear the VIP."""
        for node in list(self.processes):
            if self.processes[node].poll() is None:
                with contextlib.suppress(Exception):
                    self.signal(node, signal.SIGTERM)
            self._reap(node)
        for node in self.lab.nodes:
            self._drop_vip(node)


@contextlib.contextmanager
def vrrp_system(lab: LabState, workdir: Path, flavour: VrrpFlavour) -> Iterator[System]:
    """keepalived on every node for ``flavour``, running until the context ends; stopped afterwards."""
    group = _Keepalived(lab, workdir, flavour)
    try:
        for node in lab.nodes:
            group.start(node)
        owner = group.master

        def recover() -> None:
            group.restart(owner)

        def give_back(holder: str) -> None:
            """Without preemption the holder keeps the VIP until it stops: stop it (a VRRP
            priority-0 advert makes the highest-priority backup, the owner, master), start it."""
            group.signal(holder, signal.SIGTERM)
            group.start(holder)

        yield System(
            flavour.label,
            flavour.vip,
            owner,
            _scenarios(
                lab,
                owner,
                crash=lambda: group.signal(owner, signal.SIGKILL),
                stop=lambda: group.signal(owner, signal.SIGTERM),
                start=lambda: group.start(owner),
                window=flavour.window,
                recover=recover,
            ),
            give_back=None if flavour.preempt else give_back,
        )
    finally:
        _links_up(lab)
        group.stop_all()


# -- figures -------------------------------------------------------------------------------------

Figure = tuple[float, bool]  # (seconds, True when it is a failed trial's bound)


def _pick(figures: list[Figure], ranks: list[int]) -> Figure:
    """The mean of the figures at 0-based ``ranks`` of the sorted list; a bound if any of them is."""
    chosen = [sorted(figures)[rank] for rank in ranks]
    return statistics.fmean(value for value, _unused in chosen), any(bound for _unused, bound in chosen)


def spread(figures: list[Figure]) -> dict[str, Figure | None]:
    """min, median, p95 (nearest rank; only with P95_MIN_TRIALS figures or more) and max."""
    if not figures:
        return {"min": None, "median": None, "p95": None, "max": None}
    n = len(figures)
    middle = [(n - 1) // 2, n // 2]
    p95 = _pick(figures, [max(0, -(-95 * n // 100) - 1)]) if n >= P95_MIN_TRIALS else None
    return {
        "min": _pick(figures, [0]),
        "median": _pick(figures, middle),
        "p95": p95,
        "max": _pick(figures, [n - 1]),
    }


def _ms(figure: Figure | None) -> str:
    if figure is None:
        return "-"
    value, bound = figure
    return f"{'>' if bound else ''}{value * 1000:.0f}"


def failover_figures(outcomes: list[Outcome]) -> list[Figure]:
    """One figure per trial: the outage, or the bound when no other node answered."""
    return [(o.failover, False) if o.failover is not None else (o.bound, True) for o in outcomes]


def failback_figures(outcomes: list[Outcome]) -> list[Figure]:
    """One figure per trial: the failback outage, or its bound when it was not observed."""
    return [(o.failback, False) if o.failback is not None else (FAILBACK_WINDOW, True) for o in outcomes]


Results = dict[str, dict[str, list[Outcome]]]  # system label -> scenario -> outcomes in order


def print_table(results: Results) -> None:
    """The Markdown table of every system and scenario."""
    print(
        "| system | scenario | trials | failed | min ms | median ms | p95 ms | max ms"
        " | failback median ms | failback max ms | moved back |"
    )
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for label, scenarios in results.items():
        for name, outcomes in scenarios.items():
            over, back = spread(failover_figures(outcomes)), spread(failback_figures(outcomes))
            failed = sum(o.failed for o in outcomes)
            moved = sum(o.moved_back for o in outcomes)
            figures = [over["min"], over["median"], over["p95"], over["max"], back["median"], back["max"]]
            cells = [
                label,
                name,
                str(len(outcomes)),
                str(failed),
                *map(_ms, figures),
                f"{moved}/{len(outcomes)}",
            ]
            print("| " + " | ".join(cells) + " |")


def print_ratios(results: Results) -> None:
    """Our median failover outage over keepalived's, per scenario (lower is better for us)."""
    ours = [label for label in results if label.startswith(OURS)]
    theirs = [label for label in results if not label.startswith(OURS)]
    if not ours or not theirs:
        return
    print("\nour median failover outage as a ratio to keepalived's (lower is better for us):\n")
    print("| scenario | " + " | ".join(theirs) + " |")
    print("|---|" + "--:|" * len(theirs))
    for name in SCENARIOS:
        cells = []
        for label in theirs:
            mine = spread(failover_figures(results[ours[0]].get(name, [])))["median"]
            other = spread(failover_figures(results[label].get(name, [])))["median"]
            if mine is None or other is None or mine[1] or other[1] or other[0] == 0:
                cells.append("- (failed trials decide a median)" if mine and other else "-")
            else:
                cells.append(f"{mine[0] / other[0]:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def print_failures(results: Results) -> None:
    """Every failed trial with its reasons."""
    lines = [
        f"  {label} / {name} trial {index}: " + "; ".join(outcome.errors)
        for label, scenarios in results.items()
        for name, outcomes in scenarios.items()
        for index, outcome in enumerate(outcomes, 1)
        if outcome.failed
    ]
    if lines:
        print("\nfailed trials:")
        print("\n".join(lines))


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


def _terminate(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM ends the run like Ctrl-C does: every ``finally`` cleans up."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # cleanup is bounded; let it finish
    raise KeyboardInterrupt(f"signal {signum}")


def _describe(outcome: Outcome) -> str:
    over = (
        f"failover {outcome.failover * 1000:.0f} ms to {outcome.new_owner}"
        if outcome.failover is not None
        else "no failover"
    )
    back = (
        f"failback {outcome.failback * 1000:.0f} ms" if outcome.failback is not None else "failback not seen"
    )
    moved = "moved back" if outcome.moved_back else "NOT moved back"
    return f"{over}; {back}, {moved}" + (f"  FAILED: {'; '.join(outcome.errors)}" if outcome.failed else "")


def run(lab: LabState, systems: list[tuple[System, int]], results: Results) -> None:
    """Alternate the systems (A B C, C B A, ...), one trial of every scenario per turn."""
    for repetition in range(max(count for _unused, count in systems)):
        order = systems if repetition % 2 == 0 else systems[::-1]
        for system, count in order:
            if repetition >= count:
                continue
            for scenario in system.scenarios:
                try:
                    outcome = trial(lab, system, scenario)
                except LabBroken as error:
                    assert error.outcome is not None
                    results[system.label].setdefault(scenario.name, []).append(error.outcome)
                    raise
                results[system.label].setdefault(scenario.name, []).append(outcome)
                print(
                    f"  [{repetition + 1}] {system.label} / {scenario.name}: {_describe(outcome)}", flush=True
                )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--state-dir",
        default=os.environ.get("BMLB_LAB_STATE"),
        help="reuse this running lab (default: BMLB_LAB_STATE, else a fresh lab)",
    )
    parser.add_argument(
        "--trials",
        type=int,
        default=5,
        help="trials per scenario for our speaker, 1-200 (default: %(default)s)",
    )
    parser.add_argument(
        "--vrrp-trials",
        type=int,
        default=5,
        help="trials per scenario for each keepalived flavour, 0-200; 0 skips keepalived"
        " (default: %(default)s)",
    )
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=DEFAULT_PROFILE,
        help="the speakers' --ml-profile, whose timing is used (default: %(default)s, the speaker's)",
    )
    parser.add_argument(
        "--dead-after",
        type=float,
        help="the speakers' --ml-dead-after in seconds, 0.05-5 (default: the profile's)",
    )
    parser.add_argument(
        "--handover-overlap",
        type=float,
        default=SpeakerOptions.handover_overlap,
        help="the speakers' --handover-overlap in seconds, 0-5; 0: break before make"
        " (default: the speaker's, %(default)s)",
    )
    parser.add_argument(
        "--failback",
        choices=[*POLICIES, BOTH],
        default=REVERTIVE,
        help="our L2Advertisement's failback policy (default: %(default)s, MetalLB's rule);"
        " both: one system per policy, taking turns",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        choices=[*SCENARIOS, CORDON],
        help="run only this scenario (repeatable; default: all)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        help="the speakers' --ml-interval in seconds, 0.01-1, below --dead-after (default: the profile's)",
    )
    return parser


def _arguments() -> argparse.Namespace:
    """The command line, checked (argparse exits on a bad one)."""
    parser = _parser()
    args = parser.parse_args()
    if not 1 <= args.trials <= 200:
        parser.error("--trials must be between 1 and 200")
    if not 0 <= args.vrrp_trials <= 200:
        parser.error("--vrrp-trials must be between 0 and 200")
    profile = PROFILES[args.profile]
    args.dead_after = profile.dead_after if args.dead_after is None else args.dead_after
    args.interval = profile.interval if args.interval is None else args.interval
    if not 0.05 <= args.dead_after <= 5 or not 0.01 <= args.interval <= 1 or args.interval >= args.dead_after:
        parser.error("--dead-after must be 0.05-5 s and --interval 0.01-1 s, below --dead-after")
    if not 0 <= args.handover_overlap <= 5:
        parser.error("--handover-overlap must be 0-5 s")
    if os.geteuid() != 0:
        parser.error("needs root (network namespaces)")
    return args


def main() -> int:
    """Run the benchmark and print the figures; 1 when a trial failed or the run was cut short."""
    args = _arguments()
    signal.signal(signal.SIGTERM, _terminate)
    nopreempt = [VRRP_FAST_NOPREEMPT] if args.failback != REVERTIVE else []
    flavours = [VRRP_DEFAULTS, VRRP_FAST, *nopreempt] if args.vrrp_trials else []
    if flavours and not shutil.which("keepalived"):
        print("keepalived not installed (make deps, or apt-get install keepalived): comparison skipped")
        flavours = []
    results: Results = {}
    stopped = ""
    load = os.getloadavg()
    try:
        with (
            lab_context(args.state_dir) as lab,
            tempfile.TemporaryDirectory(prefix="bmlb-l2bench-") as tmp,
            contextlib.ExitStack() as stack,
        ):
            workdir = Path(tmp)
            ours = our_systems(
                lab,
                workdir,
                args.dead_after,
                args.interval,
                args.handover_overlap,
                failbacks=POLICIES if args.failback == BOTH else (args.failback,),
                profile=args.profile,
            )
            systems = [(system, args.trials) for system in stack.enter_context(ours)]
            systems += [
                (stack.enter_context(vrrp_system(lab, workdir, f)), args.vrrp_trials) for f in flavours
            ]
            if args.scenario:
                for system, _count in systems:
                    system.scenarios = [s for s in system.scenarios if s.name in args.scenario]
            for system, _count in systems:
                results[system.label] = {}
                print(f"{system.label}: VIP {system.vip}, owner {system.owner}", flush=True)
            run(lab, systems, results)
    except KeyboardInterrupt:
        stopped = "interrupted"
    except LabBroken as error:
        stopped = str(error)
    except Exception as error:  # a system did not start: say so under whatever was measured
        traceback.print_exc()
        stopped = f"setup failed: {_why(error)}"
    cpus = os.cpu_count()
    print(
        f"\nlayer-2 failover and failback, {time.strftime('%Y-%m-%d %H:%M %Z')}, {cpus} CPUs,"
        f" load average {load[0]:.1f} at the start and {os.getloadavg()[0]:.1f} at the end;"
        f" outages in ms as the client saw them (ARP every 10 ms); a failed trial counts as its bound (>)\n"
    )
    print_table(results)
    print_ratios(results)
    print_failures(results)
    if stopped:
        print(f"\nrun stopped early: {stopped}")
    failed = any(
        o.failed for scenarios in results.values() for outcomes in scenarios.values() for o in outcomes
    )
    return 1 if stopped or failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
