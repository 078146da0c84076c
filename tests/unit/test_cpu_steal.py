"""Steal time as the soak prints it: totals per CPU, and only the samples with a stall worth naming."""

from __future__ import annotations

import os

import pytest

from bench.cpu_steal import LISTED, steal_ms, steal_summary

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
