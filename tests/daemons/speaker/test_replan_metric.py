"""The speaker counts its re-plans by reason, so a soak can tell storm work from the safety net."""

from __future__ import annotations

from prometheus_client import generate_latest

from ansible_collections.baremetal.lb.daemons.speaker.metrics import REPLAN_REASONS, SpeakerMetrics


def test_every_reason_shows_from_the_start_and_counts_on_its_own():
    metrics = SpeakerMetrics()
    metrics.replans.labels("change").inc()
    metrics.replans.labels("change").inc()
    page = generate_latest(metrics.registry).decode()
    shown = {
        reason: float(line.rsplit(" ", 1)[1])
        for reason in REPLAN_REASONS
        for line in page.splitlines()
        if line.startswith(f'baremetal_lb_speaker_replans_total{{reason="{reason}"}}')
    }
    assert shown == {"start": 0.0, "change": 2.0, "periodic": 0.0}
