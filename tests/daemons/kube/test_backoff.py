"""The retry waits: doubling from 0.5 s, never above the cap, jittered down by at most 20 %."""

import pytest

from ansible_collections.baremetal.lb.daemons.kube.backoff import CAP_SECONDS, Backoff

# attempt (1-based) -> the un-jittered wait
WAITS = {1: 0.5, 2: 1.0, 3: 2.0, 4: 4.0, 5: 8.0, 6: 16.0, 7: 16.0, 40: 16.0, 2000: 16.0}


@pytest.mark.parametrize(("attempt", "wait"), WAITS.items())
def test_waits_double_up_to_the_cap(attempt, wait):
    backoff = Backoff()
    delays = [backoff.next_delay() for _unused in range(attempt)]
    assert 0.8 * wait <= delays[-1] <= wait
    assert backoff.attempts == attempt


def test_no_wait_is_ever_above_the_cap():
    backoff = Backoff()
    assert max(backoff.next_delay() for _unused in range(100)) <= CAP_SECONDS


def test_a_success_starts_over():
    backoff = Backoff()
    for _unused in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.attempts == 0
    assert backoff.next_delay() <= 0.5
