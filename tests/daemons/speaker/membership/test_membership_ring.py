from __future__ import annotations

import itertools

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.membership.ring import neighbours, ring_of


@pytest.mark.parametrize(
    ("names", "me", "per_side", "expected"),
    [
        (["a"], "a", 1, ()),  # alone: nobody to watch
        (["b", "a"], "a", 1, ("b",)),  # two: each watches the other, once
        (["a", "b", "c"], "a", 1, ("b", "c")),  # wraps around
        (["a", "b", "c"], "a", 2, ("b", "c")),  # fewer members than watchers: each once
        (["a", "b", "c", "d", "e"], "c", 1, ("d", "b")),
        (["a", "b", "c", "d", "e"], "c", 2, ("d", "b", "e", "a")),
        (["a", "b", "c", "d", "e", "f", "g"], "a", 2, ("b", "g", "c", "f")),
    ],
)
def test_neighbours(names: list[str], me: str, per_side: int, expected: tuple[str, ...]) -> None:
    assert neighbours(ring_of(names), me, per_side) == expected


@pytest.mark.parametrize(("size", "per_side"), [(2, 1), (3, 1), (7, 1), (7, 2), (30, 3)])
def test_watching_is_mutual_and_bounded(size: int, per_side: int) -> None:
    ring = ring_of(f"node-{i:03}" for i in range(size))
    for a, b in itertools.permutations(ring, 2):
        assert (b in neighbours(ring, a, per_side)) == (a in neighbours(ring, b, per_side))
    assert all(len(neighbours(ring, a, per_side)) <= 2 * per_side for a in ring)
