"""An engine conflict report becomes a log line, an Event, a gauge and a status condition, and goes away."""

from __future__ import annotations

import logging

from ansible_collections.baremetal.lb.daemons.speaker.layer2.conflict_notices import ConflictNotices
from ansible_collections.baremetal.lb.daemons.speaker.layer2.conflicts import DETECTED, OVER, ConflictReport
from ansible_collections.baremetal.lb.daemons.speaker.metrics import SpeakerMetrics
from ansible_collections.baremetal.lb.daemons.speaker.reporter import Reporter
from tests.daemons.speaker.test_reporter import SERVICE, _Events, _Statuses

MAC = "02:00:00:00:00:99"


def _gauge(metrics):
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in metrics.registry.collect()
        if family.name == "metallb_speaker_address_conflict"
        for sample in family.samples
    }


def test_a_conflict_is_shown_everywhere_while_it_lasts_and_cleared_when_over(caplog):
    events, statuses, metrics = _Events(), _Statuses(), SpeakerMetrics()
    reporter = Reporter(
        "node1",
        protocol="layer2",
        where="interfaces",
        service=lambda key: SERVICE,
        events=events,
        statuses=statuses,
        metrics=metrics,
    )
    notices = ConflictNotices(
        "node1", service=lambda key: SERVICE, events=events, reporter=reporter, registry=metrics.registry
    )
    reporter.announcing({("ns/web", "198.51.100.10"): ["eth0"]})
    caplog.set_level(logging.INFO)

    notices.report(ConflictReport("198.51.100.10", MAC, "eth0", DETECTED, "owning", 1), ["ns/web"])
    warning = [r for r in caplog.records if r.levelno == logging.WARNING][-1]
    assert (warning.service, warning.ip, warning.mac, warning.node) == (
        "ns/web",
        "198.51.100.10",
        MAC,
        "node1",
    )
    assert events.recorded[-1][:2] == ("web", "AddressConflict")
    assert MAC in events.recorded[-1][2] and "keeps announcing" in events.recorded[-1][2]
    labels = (("ip", "198.51.100.10"), ("mac", MAC), ("node", "node1"), ("service", "ns/web"))
    assert _gauge(metrics) == {labels: 1.0}
    ((condition,),) = statuses.conditions[-1].values()
    assert (condition.type, condition.status) == ("AddressConflict", "True") and MAC in condition.message
    assert statuses.wanted[-1] == {"ns/web": ["eth0"]}  # the Service stays announced

    notices.report(ConflictReport("198.51.100.10", MAC, "eth0", OVER, "owning", 7), ["ns/web"])
    assert events.recorded[-1][:2] == ("web", "AddressConflictResolved")
    assert _gauge(metrics) == {}
    assert statuses.conditions[-1] == {}
