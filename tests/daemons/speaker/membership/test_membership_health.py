from __future__ import annotations

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.membership.health import LocalHealth


@pytest.mark.parametrize(
    ("wakes", "now", "slack"),
    [
        ([], 10.0, 0.0),  # never late
        ([(10.0, 10.002)], 10.002, 0.002),  # an idle machine: a few ms
        ([(10.0, 9.9)], 10.0, 0.0),  # woken early by a datagram: not late
        ([(10.0, 10.2)], 10.2, 0.2),  # starved for 200 ms: wait 200 ms more before accusing
        ([(10.0, 10.2)], 12.2, 0.1),  # half of it two seconds later
        ([(10.0, 10.2), (10.3, 10.31)], 10.31, 0.2 * 0.5 ** (0.11 / 2)),  # one punctual wake erases nothing
        ([(10.0, 12.0)], 12.0, 0.9),  # capped
    ],
)
def test_slack_follows_own_lateness(wakes: list[tuple[float, float]], now: float, slack: float) -> None:
    health = LocalHealth(half_life=2.0, max_slack=0.9)
    for scheduled, woke in wakes:
        health.observe(scheduled, woke)
    assert health.slack(now) == pytest.approx(slack)


@pytest.mark.parametrize(
    ("mistakes", "now", "slack"),
    [
        ([10.0], 10.0, 0.15),  # one wrong accusation: 150 ms more patience
        ([10.0, 10.0, 10.0], 10.0, 0.45),  # a storm of them: more
        ([10.0], 15.0, 0.075),  # half of it one half-life later
        ([10.0] * 10, 10.0, 0.6),  # capped
    ],
)
def test_mistakes_buy_patience_that_fades(mistakes: list[float], now: float, slack: float) -> None:
    health = LocalHealth(half_life=0.5, max_slack=0.6, penalty_half_life=5.0)
    for at in mistakes:
        health.penalize(0.15, at)
    assert health.slack(now) == pytest.approx(slack)
