"""The speaker chaos bench's wire judge and tally, on hand-made prober replies and trials.

A figure the bench prints is only as good as these rules: a silence still running at the end
counts, two nodes answering the same requests count as a double announcement for as long as
they overlap, and a failed trial is counted, never dropped.
"""

from __future__ import annotations

import pytest

from bench.chaos.tally import Tally, Trial, spread
from bench.chaos.wire_judge import alone_for, answered_by, doubled_spans, longest_doubled, longest_silence


def every_10ms(who, start, end):
    """Replies of one node to a prober asking every 10 ms, from ``start`` to ``end``."""
    count = round((end - start) / 0.01)
    return [(round(start + i * 0.01, 3), who) for i in range(count + 1)]


def merged(*streams):
    return sorted(reply for stream in streams for reply in stream)


@pytest.mark.parametrize(
    ("replies", "start", "end", "silence"),
    [
        (every_10ms("a", 0.0, 1.0), 0.0, 1.0, 0.01),
        (merged(every_10ms("a", 0.0, 0.3), every_10ms("b", 0.55, 1.0)), 0.0, 1.0, 0.25),
        (every_10ms("a", 0.0, 0.4), 0.0, 1.0, 0.6),  # still silent at the end: counted
        (every_10ms("a", 0.5, 1.0), 0.0, 1.0, 0.5),  # silent from the start
        ([], 0.0, 2.0, 2.0),
    ],
    ids=["steady", "handover", "silent-at-end", "silent-at-start", "nobody"],
)
def test_the_longest_silence_counts_both_edges(replies, start, end, silence):
    assert longest_silence(replies, start, end) == pytest.approx(silence)


@pytest.mark.parametrize(
    ("replies", "doubled"),
    [
        (merged(every_10ms("a", 0.0, 0.5), every_10ms("b", 0.6, 1.0)), 0.0),  # a clean handover
        (merged(every_10ms("a", 0.0, 0.5), every_10ms("b", 0.3, 1.0)), 0.2),  # both from 0.3 to 0.5
        (merged(every_10ms("a", 0.0, 1.0), every_10ms("b", 0.0, 1.0)), 1.0),  # both all along
        (merged(every_10ms("a", 0.0, 0.5), [(0.255, "b")]), 0.0),  # one stray answer: a span of 0
        (merged(every_10ms("a", 0.0, 0.5), [(0.51, "b")]), 0.0),  # the next request answered by b
        (every_10ms("a", 0.0, 1.0), 0.0),
    ],
    ids=["handover", "overlap", "always-both", "one-stray", "right-after", "one-node"],
)
def test_a_double_announcement_lasts_as_long_as_two_nodes_answer(replies, doubled):
    assert longest_doubled(replies) == pytest.approx(doubled, abs=0.001)


def test_separate_doubles_are_separate_spans():
    replies = merged(every_10ms("a", 0.0, 2.0), every_10ms("b", 0.2, 0.3), every_10ms("b", 1.5, 1.6))
    spans = doubled_spans(replies)
    assert [(round(first, 2), round(last, 2)) for first, last in spans] == [(0.2, 0.3), (1.5, 1.6)]
    assert len(doubled_spans(merged(every_10ms("a", 0.0, 0.5), [(0.255, "b")]))) == 1


@pytest.mark.parametrize(
    ("replies", "who", "since", "alone"),
    [
        (merged(every_10ms("a", 0.0, 0.5), every_10ms("b", 0.4, 1.0)), "b", 0.0, 0.5),
        (merged(every_10ms("a", 0.0, 0.5), every_10ms("b", 0.4, 1.0)), "a", 0.0, 0.0),
        (every_10ms("b", 0.0, 1.0), "b", 0.7, 0.29),  # counted from ``since`` on
        ([], "b", 0.0, 0.0),
        ([(0.1, "a"), (0.2, "b"), (0.3, "a"), (0.3, "b")], "b", 0.0, 0.0),  # same instant
    ],
    ids=["took-over", "lost-it", "since", "nobody", "tie"],
)
def test_alone_for_is_how_long_only_that_node_answered(replies, who, since, alone):
    assert alone_for(replies, who, since) == pytest.approx(alone, abs=0.011)


def test_answered_by_names_who_answered_in_the_window():
    replies = merged(every_10ms("a", 0.0, 0.5), every_10ms("b", 0.4, 1.0))
    assert answered_by(replies, 0.6, 1.0) == {"b"}
    assert answered_by(replies, 0.0, 1.0) == {"a", "b"}


def test_a_trial_fails_on_a_broken_promise_or_an_error_and_is_counted():
    good = Trial("kill", 1, figures={"outage": 0.2})
    broken = Trial("kill", 2, figures={"outage": 1.5})
    broken.check(broken.figures["outage"] <= 1.0, "outage within 1 s")
    errored = Trial("kill", 3, error="TimeoutError: no answer")
    flap = Trial("flap", 1, detail="link", figures={"outage": 0.3})
    tally = Tally([good, broken, errored, flap])
    assert [t.ok for t in tally.trials] == [True, False, False, True]
    assert tally.failed == 2
    assert tally.lines() == [
        "kill: 3 trials, 2 failed (1 broken promises, 1 errors); outage 850 ms (200 ms-1500 ms)",
        "flap (link): 1 trials, 0 failed (0 broken promises, 0 errors); outage 300 ms (300 ms-300 ms)",
        "total: 4 trials, 2 failed",
    ]
    assert "FAILED" in broken.line() and "outage within 1 s" in broken.line()


def test_spread_is_median_min_max():
    assert spread([3.0, 1.0, 2.0]) == "2000 ms (1000 ms-3000 ms)"
    assert spread([12.0]) == "12.0 s (12.0 s-12.0 s)"
    assert spread([]) == "-"
