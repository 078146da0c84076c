"""Malformed metallb.io objects that get past the CRD schema never stop the daemons.

Each case below has the right types (the API server's schema lets it in) but breaks a rule only
the whole-configuration check sees. Both daemons load it through the real code path (the
informer caches of :class:`ConfigSources`, :func:`parse_config`, then the speaker's
:class:`LastGoodConfig` or the controller's :class:`Reconciler`) and must keep running on the
last good configuration, set the stale gauge, and say why: a log line naming the object (once
per reason), and for the controller an Event on the object at fault. Fixing the object clears
the stale gauge.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ansible_collections.baremetal.lb.daemons.controller.metrics import ControllerMetrics
from ansible_collections.baremetal.lb.daemons.controller.reconciler import CONFIG_KEY, Reconciler
from ansible_collections.baremetal.lb.daemons.kube import config_loader
from ansible_collections.baremetal.lb.daemons.kube.config_loader import ConfigSources, LastGoodConfig
from ansible_collections.baremetal.lb.daemons.speaker.metrics import SpeakerMetrics
from tests.daemons.controller.test_reconciler import (
    FakeEvents,
    FakeInformer,
    FakePoolStatus,
    FakeWriter,
    _service,
)

NAMESPACE = "metallb-system"
STALE = "metallb_k8s_client_config_stale_bool"
LOADED = "metallb_k8s_client_config_loaded_bool"


def _object(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "metallb.io/v1beta1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": spec,
    }


def pool(name: str, *addresses: str) -> dict[str, Any]:
    return _object("IPAddressPool", name, {"addresses": list(addresses)})


def l2(name: str, **spec: Any) -> dict[str, Any]:
    return _object("L2Advertisement", name, spec)


def peer(name: str, **spec: Any) -> dict[str, Any]:
    return _object("BGPPeer", name, {"myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.254", **spec})


GOOD = [pool("good", "192.0.2.64/30"), l2("all")]

# (case, objects written over the good configuration, the object an error names, the fix)
MALFORMED = [
    ("pools overlap", [pool("second", "192.0.2.66/31")], "second", [pool("second", "203.0.113.0/30")]),
    ("address is no address", [pool("good", "192.0.2.300/30")], "good", [pool("good", "192.0.2.64/30")]),
    ("unknown pool", [l2("all", ipAddressPools=["missing"])], "all", [l2("all")]),
    (
        "selector operator",
        [l2("all", nodeSelectors=[{"matchExpressions": [{"key": "k", "operator": "Sometimes"}]}])],
        "all",
        [l2("all")],
    ),
    ("hold time under 3s", [peer("r1", holdTime="2s")], "r1", [peer("r1", holdTime="3s")]),
    (
        "password and secret",
        [peer("r1", password="x", passwordSecret={"name": "s", "namespace": NAMESPACE})],
        "r1",
        [peer("r1", passwordSecret={"name": "s", "namespace": NAMESPACE})],
    ),
]
IDS = [case for case, *_rest in MALFORMED]


def sources_with(objects: list[dict[str, Any]]) -> ConfigSources:
    """Real informer caches of the config kinds, filled without an API server."""
    sources = ConfigSources(None, NAMESPACE, lambda: None)  # type: ignore[arg-type]  # never lists or watches
    write(sources, objects)
    return sources


def write(sources: ConfigSources, objects: list[dict[str, Any]]) -> None:
    """Create or replace objects in the caches, as the informers do on a watch event."""
    for obj in objects:
        sources.informer(obj["kind"]).store(obj)


def refusals(caplog: pytest.LogCaptureFixture, start: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.ERROR and r.getMessage().startswith(start)
    ]


@pytest.mark.parametrize(("case", "bad", "culprit", "fix"), MALFORMED, ids=IDS)
def test_the_speaker_plans_on_with_the_last_good_configuration(case, bad, culprit, fix, caplog):
    sources = sources_with(GOOD)
    metrics = SpeakerMetrics()
    running = LastGoodConfig(sources.load, metrics.config)
    good = running.current()
    assert good is not None and [p.name for p in good.pools] == ["good"]

    write(sources, bad)
    assert running.current() is good, f"{case}: the speaker must keep the last good configuration"
    assert running.current() is good  # every replan reloads; still the good one
    said = refusals(caplog, "invalid configuration, keeping the last good one")
    assert len(said) == 1, f"{case}: said {len(said)} times, want once per reason: {said}"
    assert repr(culprit) in said[0], f"{case}: the reason must name {culprit!r}: {said[0]}"
    assert metrics.registry.get_sample_value(STALE) == 1
    assert metrics.registry.get_sample_value(LOADED) == 1

    write(sources, fix)
    fixed = running.current()
    assert fixed is not None and fixed is not good
    assert metrics.registry.get_sample_value(STALE) == 0


def test_a_bug_in_the_check_is_a_refusal_too(monkeypatch, caplog):
    """Fault injection: the check raising something else than InvalidConfigError (a bug)."""
    sources = sources_with(GOOD)
    metrics = SpeakerMetrics()
    running = LastGoodConfig(sources.load, metrics.config)
    good = running.current()

    def broken_check(_resources: object) -> None:
        return {}["addresses"]  # type: ignore[no-any-return]

    monkeypatch.setattr(config_loader, "parse_config", broken_check)
    assert running.current() is good
    (said,) = refusals(caplog, "invalid configuration, keeping the last good one")
    assert "KeyError" in said and "this is a bug" in said
    assert metrics.registry.get_sample_value(STALE) == 1


class Controller:
    """The controller's reconciler on real config caches, with Services and writes in memory."""

    def __init__(self, sources: ConfigSources, services: list[dict[str, Any]]) -> None:
        self.services = FakeInformer(services)
        self.writer = FakeWriter()
        self.events = FakeEvents()
        self.metrics = ControllerMetrics()
        self.queued: list[str] = []
        self.reconciler = Reconciler(
            lb_class="",
            services=self.services,
            namespaces=FakeInformer([{"metadata": {"name": "ns"}}]),
            config=sources,
            writer=self.writer,
            events=self.events,
            metrics=self.metrics,
            pool_status=FakePoolStatus(),
            requeue=self.queued.extend,
        )

    def load_config(self) -> None:
        self.reconciler.handle(CONFIG_KEY)
        while self.queued:
            self.reconciler.handle(self.queued.pop(0))

    def add_service(self, name: str, created: str) -> tuple[str, ...]:
        self.services.objects[f"ns/{name}"] = _service(name, created)
        self.reconciler.handle(f"ns/{name}")
        return tuple(self.writer.desired[f"ns/{name}"].ips)


@pytest.mark.parametrize(("case", "bad", "culprit", "fix"), MALFORMED, ids=IDS)
def test_the_controller_allocates_on_with_the_last_good_configuration(case, bad, culprit, fix, caplog):
    sources = sources_with(GOOD)
    controller = Controller(sources, [_service("a", "2026-01-01T00:00:00Z")])
    controller.load_config()
    assert controller.writer.desired["ns/a"].ips == ("192.0.2.64",)

    write(sources, bad)
    controller.load_config()
    controller.load_config()  # a second change event with the same problem
    said = refusals(caplog, "configuration rejected, keeping the last good one")
    assert len(said) == 1 and repr(culprit) in said[0], f"{case}: {said}"
    assert controller.events.reasons(culprit) == ["InvalidConfiguration"], f"{case}: one Event on {culprit}"
    assert controller.metrics.registry.get_sample_value(STALE) == 1
    # The last good pool still serves: the old Service keeps its address, a new one gets the next.
    assert controller.add_service("b", "2026-01-02T00:00:00Z") == ("192.0.2.65",), case
    assert controller.writer.desired["ns/a"].ips == ("192.0.2.64",)

    write(sources, fix)
    controller.load_config()
    assert controller.metrics.registry.get_sample_value(STALE) == 0
    assert controller.writer.desired["ns/a"].ips == ("192.0.2.64",)
