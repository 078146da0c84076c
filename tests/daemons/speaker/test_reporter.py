"""The reporter: what a protocol announces becomes Events, status objects and metrics under its name."""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.metrics import SpeakerMetrics
from ansible_collections.baremetal.lb.daemons.speaker.reporter import ASSIGNED, UNASSIGNED, Reporter

SERVICE = {"metadata": {"namespace": "ns", "name": "web", "uid": "u1"}}


class _Events:
    def __init__(self):
        self.recorded = []

    def record(self, obj, event_type, reason, message):
        self.recorded.append((obj["metadata"]["name"], reason, message))


class _Statuses:
    def __init__(self):
        self.wanted = []
        self.conditions = []

    def want(self, services, conditions=None):
        self.wanted.append(dict(services))
        self.conditions.append(dict(conditions or {}))


def _reporter(protocol, where, known=("ns/web",)):
    events, statuses, metrics = _Events(), _Statuses(), SpeakerMetrics()
    reporter = Reporter(
        "node1",
        protocol=protocol,
        where=where,
        service=lambda key: SERVICE if key in known else None,
        events=events,
        statuses=statuses,
        metrics=metrics,
    )
    return reporter, events, statuses, metrics


def _announced(metrics):
    return {
        tuple(sorted(sample.labels.items()))
        for family in metrics.registry.collect()
        if family.name == "metallb_speaker_announced"
        for sample in family.samples
    }


@pytest.mark.parametrize(
    ("protocol", "where", "via", "event"),
    [
        (
            "layer2",
            "interfaces",
            ["eth0", "eth1"],
            'announcing from node "node1" with protocol "layer2" (ip 192.0.2.1, interfaces eth0,eth1)',
        ),
        (
            "bgp",
            "peers",
            ["router1"],
            'announcing from node "node1" with protocol "bgp" (ip 192.0.2.1, peers router1)',
        ),
    ],
)
def test_announcing_then_withdrawing_is_told_under_the_protocols_name(protocol, where, via, event):
    reporter, events, statuses, metrics = _reporter(protocol, where)
    reporter.announcing({("ns/web", "192.0.2.1"): via})
    assert events.recorded == [("web", ASSIGNED, event)]
    assert statuses.wanted == [{"ns/web": sorted(via)}]
    labels = (("ip", "192.0.2.1"), ("node", "node1"), ("protocol", protocol), ("service", "ns/web"))
    assert _announced(metrics) == {labels}

    reporter.announcing({})
    assert events.recorded[1:] == [
        ("web", UNASSIGNED, f'stopped announcing from node "node1" with protocol "{protocol}" (ip 192.0.2.1)')
    ]
    assert statuses.wanted[1:] == [{}]
    assert _announced(metrics) == set()


def test_an_unchanged_announcement_is_not_told_again_and_a_moved_one_is():
    reporter, events, statuses, _metrics = _reporter("layer2", "interfaces")
    reporter.announcing({("ns/web", "192.0.2.1"): ["eth0"]})
    reporter.announcing({("ns/web", "192.0.2.1"): ["eth0"]})
    assert len(events.recorded) == 1
    reporter.announcing({("ns/web", "192.0.2.1"): ["eth1"]})
    assert [reason for _name, reason, _message in events.recorded] == [ASSIGNED, ASSIGNED]
    assert statuses.wanted[-1] == {"ns/web": ["eth1"]}


def test_one_status_per_service_with_the_union_of_its_ips_interfaces():
    reporter, _events, statuses, _metrics = _reporter("layer2", "interfaces")
    reporter.announcing({("ns/web", "192.0.2.1"): ["eth0"], ("ns/web", "2001:db8::1"): ["eth1"]})
    assert statuses.wanted == [{"ns/web": ["eth0", "eth1"]}]


def test_a_deleted_service_gets_no_event_but_its_metrics_and_status_follow():
    reporter, events, statuses, metrics = _reporter("layer2", "interfaces", known=())
    reporter.announcing({("ns/gone", "192.0.2.1"): ["eth0"]})
    assert events.recorded == []
    assert statuses.wanted == [{"ns/gone": ["eth0"]}]
    assert len(_announced(metrics)) == 1
