"""Which CPUs each answering lane is pinned to, and the counters summed over the lanes."""

from __future__ import annotations

import os
import socket
from collections import Counter

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.layer2.responder import (
    MAX_LANES,
    Counters,
    Responder,
    lane_cpus,
)
from tests.daemons.speaker.conftest import run_in_thread


@pytest.mark.parametrize(
    ("allowed", "most", "lanes"),
    [
        pytest.param({0}, 8, [{0}], id="one CPU: one lane"),
        pytest.param({0, 1}, 8, [{0}, {1}], id="a lane per CPU"),
        pytest.param({2, 3}, 8, [{2}, {3}], id="lane i gets the CPUs c with c % lanes == i"),
        pytest.param({1, 2, 3}, 8, [{3}, {1}, {2}], id="three CPUs from 1"),
        pytest.param(set(range(6)), 3, [{0, 3}, {1, 4}, {2, 5}], id="more CPUs than lanes share lanes"),
        pytest.param({0, 2}, 2, [{0, 2}, {0, 2}], id="a lane no allowed CPU maps to runs anywhere allowed"),
    ],
)
def test_lane_cpus(allowed: set[int], most: int, lanes: list[set[int]]) -> None:
    assert lane_cpus(allowed, most) == lanes


def test_lanes_never_outnumber_the_cap() -> None:
    assert len(lane_cpus(range(64))) == MAX_LANES


def test_counters_total_sums_every_lane_and_the_control_thread() -> None:
    lane0 = Counters(requests_received=Counter({"192.0.2.1": 2}), responses_sent=Counter({"192.0.2.1": 2}))
    lane0.frames_received, lane0.frames_ignored = 3, 1
    lane1 = Counters(requests_received=Counter({"192.0.2.1": 1, "192.0.2.2": 4}), send_errors=1)
    control = Counters(gratuitous_sent=Counter({"192.0.2.2": 5}), send_errors=2)

    total = Counters.total([control, lane0, lane1])

    assert total == Counters(
        requests_received=Counter({"192.0.2.1": 3, "192.0.2.2": 4}),
        responses_sent=Counter({"192.0.2.1": 2}),
        gratuitous_sent=Counter({"192.0.2.2": 5}),
        frames_received=3,
        frames_ignored=1,
        send_errors=3,
    )
    assert lane0.requests_received == {"192.0.2.1": 2}, "the parts are read, not changed"


def test_a_lane_that_fails_ends_the_responder_with_its_error() -> None:
    """A lane that died unnoticed would leave its CPU's share of requests unanswered for good."""
    responder = Responder(lanes=[frozenset(os.sched_getaffinity(0))])

    def broken_reader() -> None:
        raise ValueError("a bug in the answering code")

    server, ended = run_in_thread(responder.run)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        responder._lanes[0].read(ours, broken_reader)  # white box: a lane reading a socket we control
        theirs.send(b"x")
        server.join(5)
    assert not server.is_alive(), "the responder still runs 5 s after its lane failed"
    assert [str(err) for err in ended] == ["answering lane 0 has ended"]
    assert isinstance(ended[0].__cause__, ValueError)
