"""Steal time: how long the hypervisor ran something else on each of this VM's CPUs. Pure but for /proc.

A virtual CPU whose core the hypervisor hands to another guest stops: whatever runs on it (a
speaker, the prober) stalls, while the other CPU goes on. The guest sees it only as steal time
in /proc/stat (10 ms resolution), which a bench samples to tell such a stall from its own.
"""

from __future__ import annotations

import bisect
import itertools
import os
import re
from collections.abc import Sequence
from pathlib import Path

NOTABLE_MS = 50.0  # a sample in which one CPU lost more than this is listed
LISTED = 10

Sample = tuple[float, tuple[float, ...]]  # (monotonic time, each CPU's steal so far in ms)


def steal_ms(stat: str | None = None) -> tuple[float, ...]:
    """Each CPU's steal time so far in ms, from ``stat`` (the text of /proc/stat; read when None)."""
    text = Path("/proc/stat").read_text() if stat is None else stat
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    return tuple(int(line.split()[8]) * tick_ms for line in text.splitlines() if re.match(r"cpu\d", line))


def steal_summary(samples: Sequence[Sample], start: float) -> str:
    """Each CPU's steal over ``samples``; the samples (from ``start``) in which one lost over 50 ms."""
    if len(samples) < 2:
        return "steal time: not sampled"
    first, last = samples[0][1], samples[-1][1]
    total = ", ".join(
        f"cpu{cpu} {end - begin:.0f} ms" for cpu, (begin, end) in enumerate(zip(first, last, strict=True))
    )
    notable = []
    for (began, before), (ended, after) in itertools.pairwise(samples):
        lost = [(cpu, now - then) for cpu, (then, now) in enumerate(zip(before, after, strict=True))]
        cpus = " ".join(f"cpu{cpu} {ms:.0f} ms" for cpu, ms in lost if ms > NOTABLE_MS)
        if cpus:
            notable.append(f"{began - start:.1f}-{ended - start:.1f} s {cpus}")
    more = len(notable) - LISTED
    listed = "; ".join(notable[:LISTED]) + (f"; and {more} more" if more > 0 else "")
    return (
        f"steal time (the hypervisor ran something else on a CPU): {total}; samples in which one CPU "
        f"lost over {NOTABLE_MS:.0f} ms: {listed or 'none'}"
    )


def stolen_between(samples: Sequence[Sample], begin: float, end: float) -> tuple[float, ...]:
    """Each CPU's steal in ms over the samples that cover ``begin``-``end`` (monotonic seconds).

    From the last sample at or before ``begin`` to the first at or after ``end`` (the nearest
    ones the span runs past, when it does): a span shorter than a sample gets the whole sample's
    steal, so a 100-ms stall is not missed by a 40-ms silence inside it. Empty when not sampled.
    """
    if not samples:
        return ()
    times = [at for at, _stolen in samples]
    first = max(0, bisect.bisect_right(times, begin) - 1)
    last = min(len(samples) - 1, bisect.bisect_left(times, end))
    before, after = samples[first][1], samples[last][1]
    return tuple(now - then for then, now in zip(before, after, strict=True))


def stolen_text(stolen: Sequence[float]) -> str:
    """``stolen`` (ms per CPU) as the soak prints it beside a silence: ``cpu0 0 ms, cpu1 100 ms``."""
    return ", ".join(f"cpu{cpu} {ms:.0f} ms" for cpu, ms in enumerate(stolen)) if stolen else "not sampled"
