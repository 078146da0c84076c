"""The JSON lines between the speaker and its layer-2 engine: what is sent is what is read."""

from __future__ import annotations

import ipaddress
import json

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.engine_process import encode
from ansible_collections.baremetal.lb.daemons.speaker.layer2.engine_messages import (
    PlannedClaims,
    StartOrder,
    claims_from_json,
    claims_to_json,
)
from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import IPClaim

ORDER = StartOrder(
    node="node1",
    key=b"\x00\xff",
    bind=("192.0.2.1", 7946),
    peers={"node2": ("192.0.2.2", 7946)},
    interval=0.1,
    dead_after=0.3,
    watch_links=("eth0",),
    log_level="debug",
    handover_overlap=0.5,
)


def test_the_start_order_survives_one_line_of_json():
    line = encode({"start": ORDER.to_json()})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert StartOrder.from_json(json.loads(line)["start"]) == ORDER


def test_claims_survive_the_trip_in_a_stable_order_and_bad_ips_are_skipped():
    claims = [
        IPClaim(
            ipaddress.ip_address("2001:db8::1"),
            "ns/b",
            "2001:db8::1",
            frozenset({"n2", "n1"}),
            ("eth0",),
            {"n2": 110},  # preference scores reach the engine, which elects with them
            frozenset({"n2"}),  # so does who is being drained
            True,  # and the failback policy (non-revertive)
        ),
        IPClaim(ipaddress.ip_address("192.0.2.5"), "ns/a", "192.0.2.5", frozenset({"n1"}), ("eth0", "eth1")),
    ]
    data = claims_to_json(claims)
    assert [c["service"] for c in data] == ["ns/a", "ns/b"]
    assert claims_from_json([*data, {**data[0], "ip": "not-an-ip"}]) == list(reversed(claims))
    assert "scores" not in data[0]  # without preferences the plan is what it was before them
    assert "non_revertive" not in data[0]  # nor without a non-revertive policy


def _claim_json(service: str, ip: str) -> dict[str, object]:
    return {"ip": ip, "service": service, "key": ip, "candidates": ["n1"], "interfaces": ["eth0"]}


def test_planned_claims_take_a_whole_plan_then_only_changes_and_keep_claims_in_order():
    planned = PlannedClaims()
    planned.take("plan", [_claim_json("ns/a", "192.0.2.1"), _claim_json("ns/c", "192.0.2.3")])
    planned.take("plan_changes", {"ns/b": [_claim_json("ns/b", "192.0.2.2")], "ns/c": []})
    assert [(claim.service, str(claim.ip)) for claim in planned.claims] == [
        ("ns/a", "192.0.2.1"),
        ("ns/b", "192.0.2.2"),
    ]
    assert planned.ips == {ipaddress.ip_address("192.0.2.1"), ipaddress.ip_address("192.0.2.2")}


def test_planned_claims_refuse_an_order_that_is_not_one_of_claims():
    with pytest.raises(ValueError, match="not an order of claims: 'peers'"):
        PlannedClaims().take("peers", {})
