"""How the benches print a figure over repetitions: its median and spread."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable


def median_spread(values: Iterable[float], shown: Callable[[float], str] = "{:.1f}".format) -> str:
    """``median (min-max)`` of ``values``, each written by ``shown``; ``-`` when there are none.

    A failed repetition is passed as ``math.inf``: it counts as worse than any, so the median
    is ``failed`` when failures are half or more, and the spread is over the ones that passed.
    """
    ordered = sorted(values)
    if not ordered:
        return "-"
    passed = [value for value in ordered if math.isfinite(value)]
    median = statistics.median(ordered)
    middle = shown(median) if math.isfinite(median) else "failed"
    return f"{middle} ({shown(passed[0])}-{shown(passed[-1])})" if passed else f"{middle} (-)"
