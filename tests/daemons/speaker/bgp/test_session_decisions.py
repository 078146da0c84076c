"""The session's pure decisions: what a failed connection attempt logs."""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.bgp.session import connect_failure

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
