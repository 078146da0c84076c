"""Fuzz every decoder of untrusted input: a million mutated inputs each, crashes and hangs counted.

    .venv/bin/python -m bench.fuzz [--inputs 1000000] [--target NAME ...] [--seconds 900]
                                   [--hang-ms 1000] [--seed 1]

The targets and their seeds are in :mod:`bench.fuzz_targets`. For each target this prints the
inputs run, the share the decoder accepted (how deep the mutations reach), inputs per second,
crashes (an exception other than the decoder's documented error, grouped by type and the line
that raised it, with the first input that did it) and hangs, with the slowest input's time.

Clocks: throughput and the ``--seconds`` bound use the monotonic clock. A hang is an input whose
own CPU time (the thread's CPU clock, also monotonic) exceeds ``--hang-ms``, far above the few
milliseconds the slowest input takes; wall time would count an input that merely waited for a
CPU on a shared machine. An input that blocks or spins forever is interrupted by a SIGALRM at
five times the bound of wall time, and counted as a hang too. Each target stops at ``--inputs``
or after ``--seconds``, whichever comes first, so a run takes at most targets x ``--seconds``.
Each target draws from its own generator seeded by ``--seed`` and its name, so
``--target NAME --seed S`` repeats exactly the inputs NAME got in a full run with seed S.
Exit status 1 when any target crashed, hung or did not reach its input count.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from .fuzz_targets import Target, build_targets

_CLOCK_CHECK_EVERY = 128
# A wall-clock alarm interrupts an input that blocks or spins this many times the bound.
_ALARM_FACTOR = 5
_ROW = "{:<10} {:>9} {:>8} {:>8} {:>9} {:>7} {:>5} {:>14}"


class Hang(BaseException):
    """Raised from SIGALRM inside an input that overran the hang bound.

    A BaseException, so a decoder's own ``except Exception`` cannot swallow it.
    """


@dataclass
class Finding:
    """One kind of failure: how often it happened and the first input that showed it."""

    what: str
    where: str
    count: int
    example: Any


@dataclass
class Result:
    """What one target's run measured."""

    target: str
    show: Callable[[Any], Any]
    inputs: int = 0
    accepted: int = 0
    seconds: float = 0.0
    slowest_ms: float = 0.0
    crashes: dict[tuple[str, str], Finding] = field(default_factory=dict)
    hangs: list[Any] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Inputs per second."""
        return self.inputs / self.seconds if self.seconds else 0.0

    @property
    def crash_count(self) -> int:
        """Inputs that raised an unexpected exception."""
        return sum(finding.count for finding in self.crashes.values())


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise Hang


def _where(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    last = frames[-1] if frames else None
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno}" if last else "?"


def fuzz(target: Target, inputs: int, seconds: float, hang_seconds: float) -> Result:
    """Feed ``target`` up to ``inputs`` inputs for at most ``seconds``; count crashes and hangs."""
    result = Result(target.name, target.show)
    expected = target.expected
    hang_cpu_ns = int(hang_seconds * 1e9)
    previous = signal.signal(signal.SIGALRM, _alarm)
    start = time.monotonic_ns()
    deadline = start + int(seconds * 1e9)
    slowest = 0
    try:
        for count in range(inputs):
            if count % _CLOCK_CHECK_EVERY == 0 and time.monotonic_ns() > deadline:
                break
            data = target.make_input()
            began = time.thread_time_ns()
            signal.setitimer(signal.ITIMER_REAL, hang_seconds * _ALARM_FACTOR)
            try:
                target.feed(data)
                result.accepted += 1
            except expected:
                pass
            except Hang:
                result.hangs.append(data)
            except Exception as error:  # the finding this bench is for
                key = (type(error).__name__, _where(error))
                finding = result.crashes.setdefault(key, Finding(f"{key[0]}: {error}", key[1], 0, data))
                finding.count += 1
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            took = time.thread_time_ns() - began
            slowest = max(slowest, took)
            if took > hang_cpu_ns and (not result.hangs or result.hangs[-1] is not data):
                result.hangs.append(data)
            result.inputs = count + 1
    finally:
        signal.signal(signal.SIGALRM, previous)
    result.seconds = (time.monotonic_ns() - start) / 1e9
    result.slowest_ms = slowest / 1e6
    return result


def _show(data: Any) -> str:
    text = data.hex() if isinstance(data, bytes) else repr(data)
    return text if len(text) <= 600 else text[:600] + "..."


def report(results: Sequence[Result], wanted: int) -> str:
    """The per-target table, then every crash and hang with its first input."""
    columns = ("target", "inputs", "accepted", "seconds", "inputs/s", "crashes", "hangs", "slowest cpu ms")
    lines = [_ROW.format(*columns)]
    for r in results:
        short = "" if r.inputs >= wanted else f"   (stopped by --seconds before {wanted})"
        accepted = f"{r.accepted / max(r.inputs, 1):.0%}"
        cells = (
            r.target,
            r.inputs,
            accepted,
            f"{r.seconds:.1f}",
            f"{r.rate:.0f}",
            r.crash_count,
            len(r.hangs),
        )
        lines.append(_ROW.format(*cells, f"{r.slowest_ms:.1f}") + short)
    for r in results:
        for finding in r.crashes.values():
            lines.append(f"CRASH {r.target} x{finding.count} at {finding.where}: {finding.what}")
            lines.append(f"  input: {_show(r.show(finding.example))}")
        for data in r.hangs[:3]:
            lines.append(f"HANG {r.target}: {_show(r.show(data))}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; print the table; exit 1 on any crash, hang or shortfall."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inputs", type=int, default=1_000_000, help="inputs per target (default 1,000,000)")
    parser.add_argument("--seconds", type=float, default=900.0, help="time bound per target (default 900)")
    parser.add_argument("--hang-ms", type=float, default=1000.0, help="an input slower than this is a hang")
    parser.add_argument("--seed", type=int, default=1, help="random seed; the same seed repeats the run")
    parser.add_argument("--target", action="append", help="fuzz only this target (repeatable)")
    args = parser.parse_args(argv)
    known = list(build_targets(random.Random(args.seed)))
    names = args.target or known
    unknown = sorted(set(names) - set(known))
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(known)}")
    results = []
    for name in names:
        target = build_targets(random.Random(f"{args.seed}:{name}"))[name]
        results.append(fuzz(target, args.inputs, args.seconds, args.hang_ms / 1000))
        print(report(results[-1:], args.inputs).splitlines()[1], flush=True)
    print(report(results, args.inputs))
    failed = any(r.crashes or r.hangs or r.inputs < args.inputs for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
