"""The session's pure decisions: when to try connecting again, what a failed attempt logs."""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.bgp.session import connect_failure, retry_delay

MD5_HINT = "TCP MD5 is on: a wrong or missing key at the peer looks the same"


@pytest.mark.parametrize(
    ("problem", "keyed", "expected"),
    [
        (TimeoutError(), False, "connect to 192.0.2.201: timed out"),
        (TimeoutError(), True, f"connect to 192.0.2.201: timed out ({MD5_HINT})"),
        (
            ConnectionRefusedError(111, "Connection refused"),
            True,  # an answer, so the key is not the problem
            "connect to 192.0.2.201: [Errno 111] Connection refused",
        ),
        (
            OSError(101, "Network is unreachable"),
            False,
            "connect to 192.0.2.201: [Errno 101] Network is unreachable",
        ),
    ],
)
def test_a_failed_attempt_says_why_and_never_logs_an_empty_reason(problem, keyed, expected):
    assert connect_failure("192.0.2.201", problem, keyed) == expected


@pytest.mark.parametrize(
    ("connect_time", "waits"),
    [
        (1.0, [1.0, 1.0, 1.0, 1.0, 1.0]),  # the lab's connectTime: every second, as FRR's timers connect 1
        (5.0, [1.0, 2.0, 4.0, 5.0, 5.0]),  # the default: quick first retries, then every connectTime
        (120.0, [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 120.0, 120.0]),
        (0.5, [0.5, 0.5, 0.5]),  # shorter than the first retry
    ],
)
def test_the_retry_wait_doubles_but_never_exceeds_the_peers_connect_time(connect_time, waits):
    assert [retry_delay(connect_time, failures) for failures in range(1, len(waits) + 1)] == waits


def test_after_an_established_session_ends_the_first_retry_is_quick():
    assert retry_delay(5.0, 0) == 1.0
