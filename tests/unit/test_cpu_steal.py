"""Steal time as the soak prints it: totals per CPU, and only the samples with a stall worth naming."""

from __future__ import annotations

import os

import pytest

from bench.cpu_steal import LISTED, steal_ms, steal_summary, stolen_between, stolen_text

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
STAT = """cpu  3269924 0 713858 2898876 21727 0 44140 1652 0 0
cpu0 1522741 0 344935 1579250 3401 0 20368 802 0 0
cpu1 1747183 0 368922 1319626 18325 0 23772 850 0 0
intr 1 2 3
"""


def test_steal_is_read_per_cpu_from_the_eighth_field() -> None:
    assert steal_ms(STAT) == (802 * TICK_MS, 850 * TICK_MS)


def test_this_machine_reports_steal_for_every_cpu() -> None:
    assert len(steal_ms()) == os.cpu_count()


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([(10.0, (0.0, 0.0))], "steal time: not sampled"),
        (
            [(10.0, (0.0, 0.0)), (10.1, (10.0, 50.0)), (10.2, (20.0, 50.0))],
            "cpu0 20 ms, cpu1 50 ms; samples in which one CPU lost over 50 ms: none",
        ),
        (
            [(10.0, (0.0, 0.0)), (10.1, (10.0, 0.0)), (10.2, (120.0, 0.0)), (10.3, (120.0, 60.0))],
            "cpu0 120 ms, cpu1 60 ms; samples in which one CPU lost over 50 ms: 0.1-0.2 s cpu0 110 ms; "
            "0.2-0.3 s cpu1 60 ms",
        ),
    ],
    ids=["one-sample", "small-steals-only", "two-stalls"],
)
def test_summary_gives_totals_and_names_each_stall(samples, expected) -> None:
    assert steal_summary(samples, start=10.0).endswith(expected)


def test_summary_lists_a_bounded_number_of_stalls() -> None:
    samples = [(float(i), (i * 100.0,)) for i in range(LISTED + 4)]
    assert steal_summary(samples, start=0.0).endswith("; and 3 more")


# each CPU's steal so far every 0.1 s: cpu1 lost 100 ms in 10.2-10.3 s, cpu0 10 ms in 10.0-10.1 s
SAMPLED = [
    (10.0, (0.0, 0.0)),
    (10.1, (10.0, 0.0)),
    (10.2, (10.0, 0.0)),
    (10.3, (10.0, 100.0)),
    (10.4, (10.0, 100.0)),
]


@pytest.mark.parametrize(
    ("begin", "end", "expected"),
    [
        (10.22, 10.26, (0.0, 100.0)),  # a silence inside the stalled sample gets that sample's steal
        (10.15, 10.35, (0.0, 100.0)),  # one spanning samples gets every sample it touches
        (10.1, 10.2, (0.0, 0.0)),  # on sample boundaries: just those samples
        (10.02, 10.05, (10.0, 0.0)),
        (9.0, 9.5, (0.0, 0.0)),  # before the first sample: the first one alone
        (10.5, 11.0, (0.0, 0.0)),  # after the last: the last one alone
    ],
    ids=[
        "inside-a-stall",
        "across-samples",
        "on-boundaries",
        "other-cpu",
        "before-sampling",
        "after-sampling",
    ],
)
def test_steal_over_a_silence_covers_the_samples_around_it(begin, end, expected) -> None:
    assert stolen_between(SAMPLED, begin, end) == expected


def test_steal_over_a_silence_is_said_per_cpu_or_not_sampled() -> None:
    assert stolen_text(stolen_between(SAMPLED, 10.22, 10.26)) == "cpu0 0 ms, cpu1 100 ms"
    assert stolen_text(stolen_between([], 10.22, 10.26)) == "not sampled"
