"""The watch ring: members ordered by name, each watched by its nearest neighbours. Pure."""

from __future__ import annotations

from collections.abc import Iterable


def ring_of(names: Iterable[str]) -> tuple[str, ...]:
    """The ring: the distinct names in order."""
    return tuple(sorted(set(names)))


def neighbours(ring: tuple[str, ...], name: str, per_side: int) -> tuple[str, ...]:
    """The up to ``2 * per_side`` members nearest ``name`` on ``ring`` (each once, never ``name``).

    The relation is symmetric: ``a`` is among ``b``'s neighbours exactly when ``b`` is among
    ``a``'s, so the nodes a node heart-beats to are the nodes that heart-beat to it.
    """
    at = ring.index(name)
    size = len(ring)
    found: list[str] = []
    for distance in range(1, per_side + 1):
        for step in (distance, -distance):
            other = ring[(at + step) % size]
            if other != name and other not in found:
                found.append(other)
    return tuple(found)
