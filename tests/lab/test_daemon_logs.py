"""The daemons' logs: one JSON shape on every line (the speaker's engine included), and a
configuration change logged once, not once per reload."""

from __future__ import annotations

import json

from tests.lab.controller_harness import service_manifest, unique, wait_for
from tests.lab.speaker_harness import L2ADS

LOADED = "configuration loaded"


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _count(text: str, start: str) -> int:
    return sum(1 for line in _lines(text) if line["msg"].startswith(start))


def test_a_change_is_logged_once_and_every_line_has_one_shape(
    lab, cluster, l2, start_controller, speakers, namespace
):
    pool = cluster.create_pool(unique("logs"), ["192.0.2.64/28"])
    advertisement = unique("logs")
    l2.advertise(advertisement, ipAddressPools=[pool])
    controller = start_controller()
    (speaker,) = speakers.start(next(iter(lab.nodes)))
    cluster.create_service(namespace, service_manifest("web"))
    cluster.wait_ips(namespace, "web")
    wait_for("the speaker's engine to log", lambda: "layer2.engine" in speaker.logs())
    # A reload that changes nothing (an annotation), then one change; both daemons handle
    # events in order, so once the change shows, the annotation was handled before it.
    cluster.api.request(
        "PATCH",
        f"{L2ADS}/{advertisement}",
        body={"metadata": {"annotations": {"example.com/touched": "yes"}}},
        content_type="application/merge-patch+json",
    )
    cluster.patch_pool(pool, {"addresses": ["192.0.2.64/28", "192.0.2.80/28"]})
    wait_for("the controller to load the change", lambda: _count(controller.logs(), LOADED) >= 2)
    wait_for("the speaker to load the change", lambda: _count(speaker.logs(), LOADED) >= 2)

    assert _count(controller.logs(), LOADED) == 2  # at start, and the change
    assert _count(speaker.logs(), LOADED) == 2
    assert _count(controller.logs(), "re-claimed") == 1  # at start only
    for daemon, text in (("controller", controller.logs()), ("speaker", speaker.logs())):
        lines = _lines(text)
        assert lines, f"the {daemon} logged nothing"
        for line in lines:
            assert list(line)[:4] == ["ts", "level", "logger", "msg"], (daemon, line)
            assert line["ts"].endswith("+00:00") and line["logger"].startswith("ansible_collections."), line
    assert any(line["logger"].endswith("layer2.engine") for line in _lines(speaker.logs()))
