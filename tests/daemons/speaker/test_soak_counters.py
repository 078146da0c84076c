"""The counters a soak reads: re-plans by reason, and peers declared dead by the engine.

A soak tells storm work from the safety net by the first, and catches a membership dip too short
for the sampled live-members gauge by the second.
"""

from __future__ import annotations

import re

from prometheus_client import generate_latest

from ansible_collections.baremetal.lb.daemons.speaker.layer2.metrics import Layer2Metrics
from ansible_collections.baremetal.lb.daemons.speaker.metrics import REPLAN_REASONS, SpeakerMetrics


def _samples(metrics: SpeakerMetrics, name: str) -> dict[str, float]:
    page = generate_latest(metrics.registry).decode()
    return {
        labels: float(value) for labels, value in re.findall(rf"^{name}\{{(.*)\}} (\S+)$", page, re.MULTILINE)
    }


def test_every_replan_reason_shows_from_the_start_and_counts_on_its_own():
    metrics = SpeakerMetrics()
    metrics.replans.labels("change").inc()
    metrics.replans.labels("change").inc()
    assert _samples(metrics, "baremetal_lb_speaker_replans_total") == {
        f'reason="{reason}"': 2.0 if reason == "change" else 0.0 for reason in REPLAN_REASONS
    }


def test_peers_declared_dead_are_published_from_the_engines_totals():
    metrics = SpeakerMetrics()
    layer2 = Layer2Metrics(metrics.registry)
    layer2.set_totals({"peers_declared_dead": {"node2": 1, "node3": 4}})
    assert _samples(metrics, "baremetal_lb_speaker_peers_declared_dead") == {
        'peer="node2"': 1.0,
        'peer="node3"': 4.0,
    }


def test_services_given_redefined_terms_are_one_unlabelled_counter():
    metrics = SpeakerMetrics()
    Layer2Metrics(metrics.registry).set_totals({"redefined_terms_given": {"": 8004}})
    page = generate_latest(metrics.registry).decode()
    assert re.search(r"^baremetal_lb_speaker_redefined_terms_given 8004\.0$", page, re.MULTILINE), page
