"""How bench/l2_failover_bench.py turns probe replies and trials into figures (pure, no lab needed)."""

from __future__ import annotations

import pytest

from bench.l2_failover_bench import Figure, Outcome, failback_outage, failover_figures, spread

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
