"""A set of integers stored as sorted, maximal runs, for "lowest absent number" queries.

The allocator keeps the addresses in use per pool here. A run of consecutive numbers costs
one entry whatever its length, and finding the lowest number that is not in the set within a
window costs one binary search, so a pool with 100,000 addresses in use answers as fast as an
empty one and a /64 costs the same as a /28.
"""

from __future__ import annotations

from bisect import bisect_right


class IntervalSet:
    """A set of non-negative integers kept as sorted, disjoint, non-adjacent closed runs."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        index = self._run_at_or_before(value)
        return index >= 0 and value <= self._ends[index]

    def add(self, value: int) -> bool:
        """Add ``value``; return False when it was already present."""
        index = self._run_at_or_before(value)
        if index >= 0 and value <= self._ends[index]:
            return False
        joins_left = index >= 0 and self._ends[index] == value - 1
        joins_right = index + 1 < len(self._starts) and self._starts[index + 1] == value + 1
        if joins_left and joins_right:
            self._ends[index] = self._ends[index + 1]
            del self._starts[index + 1], self._ends[index + 1]
        elif joins_left:
            self._ends[index] = value
        elif joins_right:
            self._starts[index + 1] = value
        else:
            self._starts.insert(index + 1, value)
            self._ends.insert(index + 1, value)
        self._count += 1
        return True

    def discard(self, value: int) -> bool:
        """Remove ``value``; return False when it was not present."""
        index = self._run_at_or_before(value)
        if index < 0 or value > self._ends[index]:
            return False
        start, end = self._starts[index], self._ends[index]
        if start == end:
            del self._starts[index], self._ends[index]
        elif value == start:
            self._starts[index] = value + 1
        elif value == end:
            self._ends[index] = value - 1
        else:
            self._ends[index] = value - 1
            self._starts.insert(index + 1, value + 1)
            self._ends.insert(index + 1, end)
        self._count -= 1
        return True

    def lowest_absent(self, low: int, high: int) -> int | None:
        """Return the lowest number in ``low..high`` that is not in the set, or None."""
        index = self._run_at_or_before(low)
        candidate = low
        if index >= 0 and low <= self._ends[index]:
            # Runs are maximal, so the number after a run is never in the set.
            candidate = self._ends[index] + 1
        return candidate if candidate <= high else None

    def _run_at_or_before(self, value: int) -> int:
        return bisect_right(self._starts, value) - 1
