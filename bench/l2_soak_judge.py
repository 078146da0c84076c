"""The verdict of a layer-2 soak: which observations are false failovers and which are excused.

Pure (no sockets, no processes): :mod:`bench.l2_soak_bench` and tests/lab/test_l2_soak.py hand
it what they saw, reduced to plain values, and print or assert what it returns.

No fault is injected during a soak, so the VIPs must not move and must not go quiet. What the
client saw arrives as :class:`Run` s: uninterrupted answers for one VIP from one node, the
prober starting a new run whenever the node changes or two answers are more than ``split``
seconds apart.

**Counted** as false failovers, each occurrence once, never excused:

* an *outage*: a silence of a VIP longer than ``bound`` as the client saw it: between two
  answers, from the prober's start to the VIP's first answer, and from its last answer to the
  prober's end (a VIP that stopped answering for good is an outage too), less only the time the
  prober could not ask (below). An outage during which the prober sent late is flagged
  (``outages_prober_late``) so a reader knows where to look;
* a *foreign run*: answers for a VIP from any node but its owner, or from an unknown MAC (each
  run once; ``foreign_answers`` counts the replies);
* a *member dip*: a sample of any speaker's live-members gauge below the number of speakers
  (a sample that could not be read is no dip, but is counted in ``member_samples_missing``);
* a *peer declared dead*: any count a speaker's ``baremetal_lb_speaker_peers_declared_dead``
  grew by during the soak (the gauge is only sampled; this counter misses no dip);
* a *logged ownership change*: an announce or withdraw line any speaker logged during the soak.
  The client may never see an owner withdraw and re-announce within one probe interval, but the
  speaker did give the IP up, so it counts all the same.

**Excused** (printed, not counted): silences longer than ``split`` and at most ``bound``. Of
those, one during which the prober itself sent late (a send more than two intervals after the
one before) is put down to the prober (``silences_prober_late``); the others are *late answers*
of the unchanged owner (scheduling delay under load).

**Unobserved** (printed, not counted): a silence longer than ``bound`` that is at most ``bound``
once the time the prober could not ask is taken out. The prober could not ask from ``split``
after a send until its next, late send: it was not running (it runs at a real-time priority
above every speaker thread, so only the kernel or the hypervisor stops it), so no answer could
come, whatever the speakers did. Only that time is taken out: a VIP still silent for longer than
``bound`` while the prober did ask is an outage, late sends or not.

``split`` must not exceed ``bound``, or a silence above the bound could hide inside a run;
:func:`judge` refuses such input. The bound itself must not exceed the speakers' dead-after
time, the failover bound: a real failover leaves the client at least that long without an answer
(the peers wait that long before they take over), so a longer silence is one. The bench checks
that, since only it knows the speakers' options.

The storm that runs alongside is judged by :func:`storm_problems`: a soak whose storm did no
work proves nothing about re-planning.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Run:
    """Uninterrupted answers for ``vip`` from ``who`` (a node name, or a MAC no node has)."""

    vip: str
    who: str
    first: float
    last: float
    count: int


@dataclass(frozen=True)
class Observed:
    """Everything a soak saw, by the client and from the speakers."""

    start: float
    """When the prober began sending (monotonic seconds, as every time in ``runs``)."""
    end: float
    """When it stopped (or was to stop, if it died early)."""
    owners: Mapping[str, str]
    """The owner of each probed VIP, as it answered alone before the soak."""
    speakers: int
    """How many speakers run: each one's live-members gauge must show this many."""
    runs: Sequence[Run]
    late_sends: Sequence[tuple[float, float]] = ()
    """(previous send, late send) for every send more than two intervals after the one before."""
    live_members: Mapping[str, Sequence[float]] = field(default_factory=dict)
    """Samples of each speaker's live-members gauge, by node; NaN for a sample that failed."""
    ownership_logged: Mapping[str, int] = field(default_factory=dict)
    """Announce and withdraw lines each speaker logged during the soak, by node."""
    declared_dead: Mapping[str, int] = field(default_factory=dict)
    """Peers each speaker declared dead during the soak, by node."""


@dataclass(frozen=True)
class Outage:
    """One outage, and what else the client heard nothing from at its middle.

    A stall of the owner's engine silences its other VIPs too; one of the whole lab (the
    prober, the bridge) silences the other nodes' VIPs as well; one VIP alone points at that
    VIP's answers.
    """

    vip: str
    owner: str
    at: float
    """When it began, in seconds after the prober's start."""
    ms: float
    prober_late: bool
    """Whether the prober sent late during it."""
    blind_ms: float
    """How much of it the prober could not ask (see the module docstring)."""
    owner_vips_silent: int
    """Other VIPs of the same owner silent at its middle (between runs: for more than ``split``)."""
    owner_vips: int
    others_silent: int
    """VIPs of other owners silent at its middle."""
    others: int

    def describe(self) -> str:
        """One line: which VIP, whose, when, how long, and what was silent alongside."""
        late = " while the prober sent late" if self.prober_late else ""
        blind = f" (it could not ask for {self.blind_ms:.0f} ms of it)" if self.blind_ms else ""
        return (
            f"{self.vip} (owner {self.owner}) silent {self.ms:.0f} ms from {self.at:.3f} s{late}{blind}; "
            f"silent at its middle too: {self.owner_vips_silent} of {self.owner}'s {self.owner_vips} "
            f"other VIPs, {self.others_silent} of the other nodes' {self.others}"
        )


@dataclass(frozen=True)
class Verdict:
    """The soak's figures; :attr:`false_failovers` is what must be zero."""

    vips: int
    replies: int
    foreign_runs: int
    foreign_answers: int
    outage_list: tuple[Outage, ...]
    """Every outage, in the order they began."""
    unobserved_list: tuple[Outage, ...]
    """Silences above the bound only while the prober could not ask, in the order they began."""
    member_dips: int
    member_samples: int
    member_samples_missing: int
    declared_dead: int
    ownership_logged: int
    late_ms: tuple[float, ...]
    """The excused silences that were late answers of the owners, longest first (ms)."""
    silences_prober_late: int
    late_sends: int

    @property
    def outages(self) -> int:
        """How many outages there were."""
        return len(self.outage_list)

    @property
    def unobserved(self) -> int:
        """How many silences above the bound the prober could not observe (not counted)."""
        return len(self.unobserved_list)

    @property
    def outage_ms_max(self) -> float:
        """The longest outage (ms), 0 when there was none."""
        return max((outage.ms for outage in self.outage_list), default=0.0)

    @property
    def outages_prober_late(self) -> int:
        """How many outages the prober sent late during (flagged, still counted)."""
        return sum(1 for outage in self.outage_list if outage.prober_late)

    @property
    def late_answers(self) -> int:
        """How many silences were excused as late answers of the owners."""
        return len(self.late_ms)

    @property
    def late_ms_max(self) -> float:
        """The longest late answer (ms), 0 when there was none."""
        return self.late_ms[0] if self.late_ms else 0.0

    @property
    def false_failovers(self) -> int:
        """Outages, foreign runs, live-member dips, peers declared dead and logged ownership
        changes, all counted."""
        return (
            self.outages + self.foreign_runs + self.member_dips + self.declared_dead + self.ownership_logged
        )

    def summary(self) -> str:
        """One line naming every count that makes up :attr:`false_failovers`."""
        return (
            f"false failovers: {self.false_failovers} (outages {self.outages}, longest "
            f"{self.outage_ms_max:.0f} ms, {self.outages_prober_late} of them while the prober was "
            f"late; foreign runs {self.foreign_runs} with {self.foreign_answers} answers; live-member "
            f"dips {self.member_dips}; peers declared dead {self.declared_dead}; ownership changes "
            f"logged {self.ownership_logged})"
        )


def silences(runs: Iterable[Run], start: float, end: float) -> list[tuple[float, float]]:
    """Every stretch of ``[start, end]`` without an answer that lies between runs, as (from, to).

    The runs may be of several nodes and may overlap; silences inside a run (at most ``split``)
    are not among these. A VIP that never answered is silent from ``start`` to ``end``.
    """
    found = []
    heard = start
    for run in sorted(runs, key=lambda r: r.first):
        if run.first > heard:
            found.append((heard, run.first))
        heard = max(heard, run.last)
    if end > heard:
        found.append((heard, end))
    return found


def judge(observed: Observed, *, bound: float, split: float) -> Verdict:
    """Apply the rule of the module docstring to ``observed``."""
    if split > bound:
        raise ValueError(f"runs split at {split}s could hide a silence above the bound of {bound}s")

    def prober_late(gap: tuple[float, float]) -> bool:
        return any(previous < gap[1] and sent > gap[0] for previous, sent in observed.late_sends)

    blind = [(previous + split, sent) for previous, sent in observed.late_sends if sent > previous + split]

    def blind_within(gap: tuple[float, float]) -> float:
        return sum(max(0.0, min(gap[1], until) - max(gap[0], since)) for since, until in blind)

    runs_of = {vip: [r for r in observed.runs if r.vip == vip] for vip in observed.owners}
    gaps_of = {vip: silences(runs, observed.start, observed.end) for vip, runs in runs_of.items()}
    outages: list[tuple[str, tuple[float, float]]] = []
    unobserved: list[tuple[str, tuple[float, float]]] = []
    short: list[tuple[float, float]] = []
    foreign = []
    for vip, owner in observed.owners.items():
        for gap in gaps_of[vip]:
            length = gap[1] - gap[0]
            if length - blind_within(gap) > bound:
                outages.append((vip, gap))
            elif length > bound:
                unobserved.append((vip, gap))
            elif length > split:
                short.append(gap)
        foreign += [r for r in runs_of[vip] if r.who != owner]

    def outage(vip: str, gap: tuple[float, float]) -> Outage:
        middle = (gap[0] + gap[1]) / 2
        owner = observed.owners[vip]
        silent = {other for other, gaps in gaps_of.items() if any(a <= middle <= b for a, b in gaps)}
        mates = {other for other, node in observed.owners.items() if node == owner} - {vip}
        return Outage(
            vip=vip,
            owner=owner,
            at=round(gap[0] - observed.start, 3),
            ms=round((gap[1] - gap[0]) * 1000, 1),
            prober_late=prober_late(gap),
            blind_ms=round(blind_within(gap) * 1000, 1),
            owner_vips_silent=len(silent & mates),
            owner_vips=len(mates),
            others_silent=len(silent - mates - {vip}),
            others=len(observed.owners) - len(mates) - 1,
        )

    late = [gap for gap in short if not prober_late(gap)]
    samples = list(itertools.chain.from_iterable(observed.live_members.values()))
    return Verdict(
        vips=len(observed.owners),
        replies=sum(r.count for r in observed.runs if r.vip in observed.owners),
        foreign_runs=len(foreign),
        foreign_answers=sum(r.count for r in foreign),
        outage_list=tuple(outage(vip, gap) for vip, gap in sorted(outages, key=lambda found: found[1])),
        unobserved_list=tuple(
            outage(vip, gap) for vip, gap in sorted(unobserved, key=lambda found: found[1])
        ),
        member_dips=sum(1 for value in samples if value < observed.speakers),
        member_samples=len(samples),
        member_samples_missing=sum(1 for value in samples if math.isnan(value)),
        declared_dead=sum(observed.declared_dead.values()),
        ownership_logged=sum(observed.ownership_logged.values()),
        late_ms=tuple(sorted((round((b - a) * 1000, 1) for a, b in late), reverse=True)),
        silences_prober_late=len(short) - len(late),
        late_sends=len(observed.late_sends),
    )


@dataclass(frozen=True)
class StormWork:
    """What the resync storm did and what the speakers made of it."""

    actions: Mapping[str, int]
    """Storm actions done, by kind (e.g. ``service``, ``watch-cut``)."""
    replans_on_change: Mapping[str, float]
    """Re-plans each speaker counted for a change (not the periodic safety net) during the soak."""
    watch_resumes: Mapping[str, int]
    """Watches each speaker logged as broken and resumed during the soak."""


def storm_problems(work: StormWork, kinds: Iterable[str]) -> list[str]:
    """Why the storm proves nothing, if it does not: a kind of action in ``kinds`` never done,
    or a speaker that never re-planned on a change or never had a watch cut and resumed."""
    problems = [f"no {kind} action was done" for kind in kinds if not work.actions.get(kind)]
    problems += [
        f"{node} never re-planned on a change" for node, n in work.replans_on_change.items() if not n
    ]
    problems += [f"{node} never resumed a cut watch" for node, n in work.watch_resumes.items() if not n]
    return problems
