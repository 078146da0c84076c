"""The membership bench in short: real members in namespaces, kills detected within the bound.

A run of bench/membership_bench.py at N = 3 and N = 12 (some namespaces hold two members), so
`make test` keeps the bench working; the lead runs the full figures with
`python -m bench.membership_bench`.
"""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.membership.service import DEAD_AFTER
from bench import membership_bench

from .conftest import Lan

BUDGET = 50  # datagrams sent and received per member per second, whatever N (issue 14)


@pytest.mark.parametrize("size", [3, 12])
def test_kills_are_detected_everywhere_within_the_bound_on_a_fixed_budget(lan: Lan, size: int) -> None:
    figures = membership_bench.measure(lan, size, kills=3, steady=4.0, max_seconds=120.0, say=print)
    print(membership_bench.report([figures]))

    assert figures.notes == []
    assert figures.kills_failed == 0
    assert len(figures.detections) == 3
    # A kill lands up to one heartbeat after the last one; the last member knows it a silence later.
    assert max(figures.detections) <= DEAD_AFTER + 0.15
    assert len(figures.steady_rates) == size
    assert max(figures.steady_rates) <= BUDGET
    assert figures.false_deaths == 0
