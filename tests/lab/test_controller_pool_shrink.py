"""A pool shrinks under live Services: those outside it lose their IPs, loudly; nothing else moves.

Six Services hold .64-.69 of a /29; the pool shrinks to .64-.67 plus .70. The two outside (.68,
.69) lose their addresses, each with an Event and a log line that name the Service, the IP and
the pool; one of them gets the only free address (.70), the other none (AllocationFailed). The
four inside are not written at all: their resourceVersion does not change.
"""

from __future__ import annotations

import json

from tests.lab.controller_harness import ingress_ips, service_manifest, unique, wait_for

INSIDE = {"s0": "192.0.2.64", "s1": "192.0.2.65", "s2": "192.0.2.66", "s3": "192.0.2.67"}
OUTSIDE = {"s4": "192.0.2.68", "s5": "192.0.2.69"}
FREE_AFTER_SHRINK = "192.0.2.70"


def _log_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_shrinking_a_pool_moves_only_the_services_outside_it(cluster, start_controller, namespace):
    pool = cluster.create_pool(unique("shrink"), ["192.0.2.64/29"])
    controller = start_controller()
    for name, ip in {**INSIDE, **OUTSIDE}.items():  # one by one, so each gets the next address
        cluster.create_service(namespace, service_manifest(name))
        assert cluster.wait_ips(namespace, name) == [ip], name
    versions = {name: cluster.service(namespace, name)["metadata"]["resourceVersion"] for name in INSIDE}

    cluster.patch_pool(pool, {"addresses": ["192.0.2.64/30", f"{FREE_AFTER_SHRINK}/32"]})

    def settled() -> dict[str, list[str]] | None:
        now = {name: ingress_ips(cluster.service(namespace, name)) for name in OUTSIDE}
        moved = sorted(ip for ips in now.values() for ip in ips)
        return now if moved == [FREE_AFTER_SHRINK] else None

    outside = wait_for("one outside Service to move to the free address, the other to lose its IP", settled)
    unplaced = next(name for name, ips in outside.items() if not ips)
    wait_for(
        f"AllocationFailed on {unplaced}", lambda: cluster.events(namespace, unplaced, "AllocationFailed")
    )
    for name, ip in OUTSIDE.items():
        key = f"{namespace}/{name}"
        events = wait_for(
            f"an Event on {name} saying it lost {ip}",
            lambda name=name: cluster.events(namespace, name, "ClearAssignment"),
        )
        assert any(ip in message and pool in message for message in events), events
        said = [
            line
            for line in _log_lines(controller.logs())
            if line.get("service") == key and ip in line["msg"] and pool in line["msg"] and key in line["msg"]
        ]
        assert said, f"no log line names {key}, {ip} and pool {pool}"
        assert said[0].get("pool") == pool and ip in said[0].get("ips", []), said[0]

    for name, ip in INSIDE.items():
        service = cluster.service(namespace, name)
        assert ingress_ips(service) == [ip], name
        assert service["metadata"]["resourceVersion"] == versions[name], f"{name} was written"
