"""Every bench prints a figure over repetitions the same way: median (min-max), failures counted."""

from __future__ import annotations

import math

import pytest

from bench.figures import median_spread

CASES = {
    "odd count": ([3.0, 1.0, 2.0], "2.0 (1.0-3.0)"),
    "even count: the mean of the middle two": ([4.0, 1.0, 2.0, 3.0], "2.5 (1.0-4.0)"),
    "one failure of three: worse than any, out of the spread": ([1.0, math.inf, 2.0], "2.0 (1.0-2.0)"),
    "failures at half or more decide the median": ([1.0, math.inf], "failed (1.0-1.0)"),
    "every repetition failed": ([math.inf, math.inf], "failed (-)"),
    "none": ([], "-"),
}


@pytest.mark.parametrize("case", CASES)
def test_median_and_spread(case: str) -> None:
    values, printed = CASES[case]
    assert median_spread(values) == printed


def test_each_figure_is_written_as_asked() -> None:
    assert median_spread([1500.0, 2.5], "{:,.0f} µs".format) == "751 µs (2 µs-1,500 µs)"
