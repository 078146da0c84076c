"""What the client saw on the wire, judged: silences and addresses answered by two nodes.

The input is a prober's replies for one VIP, ``(monotonic time, node)`` in time order (the prober
asks every 10 ms, so each request is answered once by every node that announces the VIP). Pure
functions: the speaker chaos bench and its short test judge with them, and unit tests pin them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

Reply = tuple[float, str]  # (monotonic time, node name or MAC)

DOUBLE_WINDOW = 0.05
"""Answers of one node less than this many seconds apart belong to one run of answering (five
probe intervals: a lost reply or two does not end a run)."""


def longest_silence(replies: Sequence[Reply], start: float, end: float) -> float:
    """The longest time in ``[start, end]`` without an answer; the edges count (``start`` to the
    first answer, the last answer to ``end``), so a silence still running at ``end`` is seen."""
    times = [start, *(t for t, _unused in replies if start < t < end), end]
    return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


def runs(replies: Sequence[Reply], window: float = DOUBLE_WINDOW) -> dict[str, list[tuple[float, float]]]:
    """Per node, its runs of answering: ``(first, last)`` of answers less than ``window`` apart."""
    found: dict[str, list[tuple[float, float]]] = {}
    for t, who in replies:
        spans = found.setdefault(who, [])
        if spans and t - spans[-1][1] < window:
            spans[-1] = (spans[-1][0], t)
        else:
            spans.append((t, t))
    return found


def doubled_spans(replies: Sequence[Reply], window: float = DOUBLE_WINDOW) -> list[tuple[float, float]]:
    """The spans of time in which two nodes were answering at once: where the runs (:func:`runs`)
    of two different nodes overlap, overlapping spans merged; a single answer inside another
    node's run is a span of length 0."""
    by_node = list(runs(replies, window).values())
    overlaps = sorted(
        (max(a[0], b[0]), min(a[1], b[1]))
        for i, mine in enumerate(by_node)
        for theirs in by_node[i + 1 :]
        for a in mine
        for b in theirs
        if max(a[0], b[0]) <= min(a[1], b[1])
    )
    spans: list[tuple[float, float]] = []
    for first, last in overlaps:
        if spans and first <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(last, spans[-1][1]))
        else:
            spans.append((first, last))
    return spans


def longest_doubled(replies: Sequence[Reply], window: float = DOUBLE_WINDOW) -> float:
    """How long, at most, the VIP was answered by two nodes at once (0 when never)."""
    return max((last - first for first, last in doubled_spans(replies, window)), default=0.0)


def answered_by(replies: Sequence[Reply], start: float, end: float) -> set[str]:
    """Every node that answered in ``(start, end]``."""
    return {who for t, who in replies if start < t <= end}


def alone_for(replies: Sequence[Reply], who: str, since: float) -> float:
    """How long ``who`` has been the only node answering, up to the last answer after ``since``
    (0 when the last answer is someone else's or there is none). Counted in reply order, so an
    other node's answer stamped at the same instant as one of ``who``'s ends the count there."""
    after = [(t, node) for t, node in replies if t > since]
    if not after or after[-1][1] != who:
        return 0.0
    first = after[-1][0]
    for t, node in reversed(after):
        if node != who:
            break
        first = t
    return after[-1][0] - first
