from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.layer2.schedule import AnnounceSchedule

VIP = ipaddress.ip_address("198.51.100.10")
VIP6 = ipaddress.ip_address("2001:db8::10")


def rounds(schedule: AnnounceSchedule) -> list[float]:
    times: list[float] = []
    while (at := schedule.next_due()) is not None and len(times) < 100:
        times += [at] * len(schedule.due(at))
    return times


def test_burst_is_at_once_then_every_1_1_s_for_5_s() -> None:
    schedule = AnnounceSchedule()
    schedule.start(VIP, 0.0)
    assert rounds(schedule) == pytest.approx([0.0, 1.1, 2.2, 3.3, 4.4])
    assert schedule.next_due() is None


def test_restart_replaces_the_running_burst() -> None:
    schedule = AnnounceSchedule()
    schedule.start(VIP, 0.0)
    assert schedule.due(0.0) == [VIP]
    schedule.start(VIP, 0.5)
    assert schedule.next_due() == 0.5
    assert schedule.due(1.2) == [VIP]  # the old 1.1 round is gone, the new 0.5 one fires once


def test_cancel_and_independent_ips() -> None:
    schedule = AnnounceSchedule()
    schedule.start(VIP, 0.0)
    schedule.start(VIP6, 0.0)
    assert sorted(map(str, schedule.due(0.0))) == ["198.51.100.10", "2001:db8::10"]
    schedule.cancel(VIP)
    assert schedule.due(1.1) == [VIP6]
