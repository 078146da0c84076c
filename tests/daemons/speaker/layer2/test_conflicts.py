"""Address conflict decisions: which claims are probed first, the probe window, when a conflict is news."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.layer2 import conflicts
from ansible_collections.baremetal.lb.daemons.speaker.layer2.conflicts import (
    DETECTED,
    OVER,
    PERSISTS,
    ConflictLog,
    ConflictReport,
    Probe,
    first_claims,
)
from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import IPClaim

VIP = ipaddress.IPv4Address("198.51.100.10")
MAC = "02:00:00:00:00:99"


def _mine(*candidates: str) -> dict:
    return {VIP: [IPClaim(VIP, "shop/web", str(VIP), frozenset(candidates), ("eth0",))]}


@pytest.mark.parametrize(
    ("candidates", "live", "previous_live", "previous_ips", "probed"),
    [
        pytest.param(("n1",), {"n1"}, set(), None, True, id="cold start, sole candidate"),
        pytest.param(
            ("n1", "n2"), {"n1", "n2"}, set(), None, False, id="cold start, a peer held it: failback"
        ),
        pytest.param(("n1", "n2"), {"n1"}, set(), None, True, id="cold start, the other candidate is dead"),
        pytest.param(("n1", "n2"), {"n1"}, {"n1", "n2"}, {VIP}, False, id="failover from a peer that died"),
        pytest.param(("n1", "n2"), {"n1", "n2"}, {"n1", "n2"}, set(), True, id="new to the plan"),
        pytest.param(("n1", "n2"), {"n1"}, {"n1"}, {VIP}, True, id="endpoints moved to us, no peer held it"),
    ],
)
def test_only_a_claim_no_peer_can_have_held_is_probed_so_failover_never_waits(
    candidates, live, previous_live, previous_ips, probed
):
    assert first_claims(_mine(*candidates), "n1", live, previous_live, previous_ips) == (
        {VIP} if probed else set()
    )


def test_a_probe_window_sends_its_probes_spread_and_then_lets_the_claim_through():
    probe, sent_at, step = Probe(10.0), [], 0
    while not probe.over(now := 10.0 + step / 1000):
        if probe.probe_due(now):
            sent_at.append(step)
            probe = probe.after_sending()
        step += 1
    window_ms = round(conflicts.PROBE_WINDOW * 1000)
    assert sent_at == [i * window_ms // conflicts.PROBE_COUNT for i in range(conflicts.PROBE_COUNT)]
    assert step == window_ms


def test_a_conflict_is_reported_once_then_rate_limited_then_over():
    log = ConflictLog(repeat_every=60.0, clear_after=300.0)
    seen = [log.seen("198.51.100.10", MAC, "eth0", "owning", t) for t in (0.0, 1.0, 59.0, 61.0, 62.0)]
    assert [r.state if r else None for r in seen] == [DETECTED, None, None, PERSISTS, None]
    assert seen[3] == ConflictReport("198.51.100.10", MAC, "eth0", PERSISTS, "owning", 4)
    assert log.packets["198.51.100.10"] == 5
    assert log.settle(361.0, {"198.51.100.10"}) == []  # 299 s after the last packet
    assert log.settle(362.0, {"198.51.100.10"}) == [
        ConflictReport("198.51.100.10", MAC, "eth0", OVER, "owning", 5)
    ]
    assert not log.open()


def test_a_conflict_ends_when_the_ip_is_no_longer_ours_and_a_new_one_is_news_again():
    log = ConflictLog()
    assert log.seen("198.51.100.10", MAC, "eth0", "probe", 0.0).state == DETECTED
    assert [r.state for r in log.settle(1.0, set())] == [OVER]
    assert log.seen("198.51.100.10", MAC, "eth0", "owning", 2.0).state == DETECTED


def test_reports_survive_the_json_lines_between_engine_and_handler():
    report = ConflictReport("2001:db8::10", MAC, "eth0", DETECTED, "probe", 3)
    assert ConflictReport.from_json(report.to_json()) == report
