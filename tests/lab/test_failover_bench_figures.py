"""How bench/l2_failover_bench.py turns probe replies and trials into figures (pure, no lab needed)."""

from __future__ import annotations

import pytest

from bench.l2_failover_bench import Figure, Outcome, failback_outage, failover_figures, spread
from tests.lab.speaker_harness import switch

MS = 0.001


def _in_ms(figure: Figure | None) -> tuple[int, bool] | None:
    """A figure as (whole milliseconds, is a bound), for exact comparisons."""
    return None if figure is None else (round(figure[0] / MS), figure[1])


@pytest.mark.parametrize(
    ("replies", "at", "end", "expected"),
    [
        pytest.param(
            [(0.00, "n2"), (0.01, "n2"), (0.02, "n1"), (0.03, "n1")], 0.005, 1.0, (0.01, True), id="seamless"
        ),
        pytest.param(
            [(0.00, "n2"), (0.01, "n2"), (0.40, "n1"), (0.41, "n1")], 0.005, 1.0, (0.39, True), id="gap"
        ),
        pytest.param(
            [(0.00, "n2"), (0.01, "n2"), (0.02, "n2")], 0.005, 0.025, (0.01, False), id="never moves back"
        ),
        pytest.param([(0.00, "n2")], 0.005, 1.0, (1.0, False), id="silent to the end counts"),
        pytest.param([], 0.0, 1.0, (1.0, False), id="no answer at all"),
    ],
)
def test_failback_outage_is_the_longest_silence_and_says_whether_the_owner_returned(
    replies: list[tuple[float, str]], at: float, end: float, expected: tuple[float, bool]
) -> None:
    assert _in_ms(failback_outage(replies, at, "n1", end)) == _in_ms(expected)


def test_a_failed_trial_counts_as_its_bound_and_marks_the_figures_it_decides() -> None:
    trials = [Outcome(bound=3.0, failover=(300 + i) * MS) for i in range(4)]
    trials.append(Outcome(bound=3.0, errors=["no other node answered within 3.0 s"]))
    figures = spread(failover_figures(trials))
    assert _in_ms(figures["min"]) == (300, False)
    assert _in_ms(figures["median"]) == (302, False)
    assert _in_ms(figures["max"]) == (3000, True)
    assert figures["p95"] is None  # fewer than 20 trials


def test_a_median_decided_by_failed_trials_is_marked() -> None:
    trials = [Outcome(bound=3.0, failover=0.3), Outcome(bound=3.0, errors=["x"])]
    assert _in_ms(spread(failover_figures(trials))["median"]) == (1650, True)


def test_p95_is_the_nearest_rank_from_20_trials() -> None:
    trials = [Outcome(bound=3.0, failover=i * MS) for i in range(1, 21)]
    assert _in_ms(spread(failover_figures(trials))["p95"]) == (19, False)


def _every(start: float, end: float, step: float) -> list[float]:
    return [start + i * step for i in range(round((end - start) / step) + 1)]


SWITCH_CASES = {
    # requests every 10 ms from 0; each answered 0.5 ms later by whoever answered then
    "make before break: both answer for a moment, nobody waits": (
        _every(0.0, 0.09, 0.01),
        [(s + 0.0005, "old") for s in _every(0.0, 0.04, 0.01)]
        + [(s + 0.0006, "new") for s in _every(0.03, 0.09, 0.01)],
        ("new", 0.5, 10),  # new owner, longest wait in ms (tenths), overlap in ms
    ),
    "break before make: two requests unanswered": (
        _every(0.0, 0.09, 0.01),
        [(s + 0.0005, "old") for s in _every(0.0, 0.02, 0.01)]
        + [(s + 0.0005, "new") for s in _every(0.05, 0.09, 0.01)],
        ("new", 20.5, -30),  # the request of 30 ms waited for the answer to the one of 50 ms
    ),
    "a prober that stalled sent nothing: a silence, but nobody waited": (
        [*_every(0.0, 0.02, 0.01), *_every(0.06, 0.09, 0.01)],
        [(s + 0.0005, "old") for s in _every(0.0, 0.02, 0.01)]
        + [(s + 0.0005, "new") for s in _every(0.06, 0.09, 0.01)],
        ("new", 0.5, -40),
    ),
}


@pytest.mark.parametrize("case", SWITCH_CASES.values(), ids=SWITCH_CASES.keys())
def test_a_switch_is_judged_by_how_long_requests_waited(case):
    sent, replies, (new, wait_ms, overlap_ms) = case
    seen = switch(replies, sent, 0.001, "old")
    assert seen.new == new
    assert round(seen.longest_wait / MS, 1) == wait_ms
    assert round(seen.overlap / MS) == overlap_ms


def test_a_switch_that_never_happened_names_no_new_owner():
    seen = switch([(0.0005, "old"), (0.0105, "old")], [0.0, 0.01], 0.001, "old")
    assert (seen.new, round(seen.longest_wait / MS, 1)) == (None, 0.5)
