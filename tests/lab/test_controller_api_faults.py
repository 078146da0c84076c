"""The controller against a misbehaving API server: a write that conflicts, a 60 s outage, a
watch that expires. Every answer the controller gets comes from a real kube-apiserver; a proxy
(tests/lab/api_proxy.py) between the two decides only *when* bytes pass.

- 409 Conflict: the proxy holds the controller's status write of a Service, the test writes the
  Service itself, then lets the held write go; the API server refuses it (the resourceVersion it
  names is gone) and the controller must decide again from the new object.
- Outage: everything is black-holed for ``BMLB_OUTAGE_SECONDS`` (60) seconds, starting right
  after a status write reached the API server (applied, answer lost); meanwhile Services come and
  go and a pool grows. The controller must keep running, retry with bounded backoff, and catch up.
- 410 Gone: with the controller cut off, Services change and etcd is compacted past the last
  version it saw; its watches (served by an API server without watch cache) resume into a real
  410, and it must list again and lose nothing.
"""

from __future__ import annotations

import json
import os
import re
import time

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.services import (
    LOAD_BALANCER_IPS,
    annotation,
)
from tests.lab import uncached_apiserver
from tests.lab.controller_harness import ingress_ips, service_manifest, unique, wait_for

OUTAGE_SECONDS = float(os.environ.get("BMLB_OUTAGE_SECONDS", "60"))
CATCH_UP_SECONDS = 45
"""How long after the API server comes back the controller may take to show every change."""

BACKOFF_CAP_SECONDS = 30
"""No retry of the controller waits longer than this (what "bounded backoff" promises)."""


def _status_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/services/{name}/status"


def _ips(cluster, namespace) -> dict[str, list[str]]:
    return {name: ingress_ips(service) for name, service in cluster.services(namespace).items()}


def _assert_unique(ips: dict[str, list[str]]) -> None:
    every = [ip for held in ips.values() for ip in held]
    assert len(every) == len(set(every)), f"an IP is held twice: {ips}"


def _log_lines(controller) -> list[dict]:
    return [json.loads(line) for line in controller.logs().splitlines() if line.startswith("{")]


# -- 409 Conflict ---------------------------------------------------------------------------------

CONFLICTS = {
    # what the other writer does -> (the IPs "a" ends with, the IP "b" then gets)
    "an unrelated label": ({"metadata": {"labels": {"touched": "yes"}}}, ["192.0.2.64"], "192.0.2.65"),
    "asks for another IP": (
        {"metadata": {"annotations": {annotation(LOAD_BALANCER_IPS): "192.0.2.66"}}},
        ["192.0.2.66"],
        "192.0.2.64",
    ),
    "no longer a LoadBalancer": ({"spec": {"type": "ClusterIP"}}, [], "192.0.2.64"),
}


@pytest.mark.parametrize("change", CONFLICTS.values(), ids=CONFLICTS.keys())
def test_a_write_that_conflicts_is_decided_again_from_the_new_object(
    cluster, controller_behind_proxy, namespace, change
):
    patch, a_ends_with, b_gets = change
    cluster.create_pool(unique("conflict"), ["192.0.2.64/30"])
    proxy, controller = controller_behind_proxy()
    held = proxy.hold("PATCH", _status_path(namespace, "a"))
    cluster.create_service(namespace, service_manifest("a"))
    request = held.wait_held(30)
    assert b"192.0.2.64" in request, "the held write is not the allocation of 192.0.2.64"
    cluster.patch_service(namespace, "a", patch)  # the other writer, between read and write
    held.release()

    wait_for("the controller to see the 409", lambda: "changed while we wrote it" in controller.logs())
    wait_for(f"a to show {a_ends_with}", lambda: ingress_ips(cluster.service(namespace, "a")) == a_ends_with)
    cluster.create_service(namespace, service_manifest("b"))
    assert cluster.wait_ips(namespace, "b") == [b_gets]
    final = _ips(cluster, namespace)
    assert final["a"] == a_ends_with, "a moved after converging"
    _assert_unique(final)
    assert controller.process.poll() is None and controller.starts == 1


# -- the API server unreachable ---------------------------------------------------------------


def test_an_outage_of_the_api_server_loses_and_duplicates_nothing(
    cluster, controller_behind_proxy, namespace
):
    pool = cluster.create_pool(unique("outage"), ["192.0.2.64/29"])
    proxy, controller = controller_behind_proxy()
    for name in ("s0", "s1", "s2"):
        cluster.create_service(namespace, service_manifest(name))
        cluster.wait_ips(namespace, name)
    # The outage begins the moment the controller's write of s3 reached the API server.
    cut = proxy.hold("PATCH", _status_path(namespace, "s3"), outage_after=True)
    cluster.create_service(namespace, service_manifest("s3"))
    cut.wait_held(30)
    cut.release()
    began = time.monotonic()
    s3 = wait_for(
        "the write of s3 to land despite the outage", lambda: ingress_ips(cluster.service(namespace, "s3"))
    )
    before = _ips(cluster, namespace)

    # During the outage, through the real API server: a Service goes (freeing its IP), Services
    # come, the pool grows, and one newcomer asks for an address only the grown pool has.
    cluster.delete_service(namespace, "s0")
    for name in ("n0", "n1", "n2", "n3"):
        cluster.create_service(namespace, service_manifest(name))
    cluster.patch_pool(pool, {"addresses": ["192.0.2.64/29", "192.0.2.80/30"]})
    asked = {annotation(LOAD_BALANCER_IPS): "192.0.2.81"}
    cluster.create_service(namespace, service_manifest("wants81", annotations=asked))
    wait_for(
        "the controller to log failed requests during the outage",
        lambda: any(line["level"] == "warning" for line in _log_lines(controller)),
        timeout=OUTAGE_SECONDS,
    )
    assert all(not ips for name, ips in _ips(cluster, namespace).items() if name.startswith(("n", "w"))), (
        "a Service got an IP although the controller could not reach the API server"
    )
    remaining = OUTAGE_SECONDS - (time.monotonic() - began)
    wait_for(
        "the outage to last its length", lambda: time.monotonic() - began >= OUTAGE_SECONDS, remaining + 5
    )
    proxy.restore()
    back = time.monotonic()
    assert controller.process.poll() is None, "the controller died during the outage"

    expected = {"s1", "s2", "s3", "n0", "n1", "n2", "n3", "wants81"}
    after = wait_for(
        "every Service to get an IP after the outage",
        lambda: (now := _ips(cluster, namespace)).keys() == expected and all(now.values()) and now,
        timeout=CATCH_UP_SECONDS,
    )
    print(f"outage {back - began:.0f}s; every Service served {time.monotonic() - back:.1f}s after it ended")
    for name in ("s1", "s2", "s3"):
        assert after[name] == before[name], f"{name} changed from {before[name]} to {after[name]}"
    assert after["s3"] == s3
    assert after["wants81"] == ["192.0.2.81"]
    _assert_unique(after)
    assert controller.starts == 1 and controller.process.poll() is None
    delays = [float(d) for d in re.findall(r"retrying in ([\d.]+) ?s", controller.logs())]
    assert delays, "no retry said how long it waits"
    assert max(delays) <= BACKOFF_CAP_SECONDS, f"a retry waited {max(delays)}s"


# -- a watch that expires ---------------------------------------------------------------------


def test_a_watch_that_expires_lists_again_and_loses_nothing(
    lab, cluster, controller_behind_proxy, uncached_apiserver_url, namespace
):
    cluster.create_pool(unique("gone"), ["192.0.2.64/30"])  # four addresses, no more
    proxy, controller = controller_behind_proxy(upstream=uncached_apiserver_url)
    for name in ("a0", "a1", "a2"):
        cluster.create_service(namespace, service_manifest(name))
        cluster.wait_ips(namespace, name)
    before = _ips(cluster, namespace)

    proxy.refuse()  # every watch ends; no new connection gets through
    cluster.delete_service(namespace, "a0")
    for name in ("b0", "b1"):  # two newcomers, one free address: one of them needs what a0 held
        last = cluster.create_service(namespace, service_manifest(name))
    # Every version the controller saw is now history etcd no longer has.
    uncached_apiserver.compact_etcd(lab, int(last["metadata"]["resourceVersion"]))
    proxy.restore()

    wait_for(
        "the controller's Service watch to expire (410 Gone) and list again",
        lambda: "watch of services expired (410 Gone)" in controller.logs(),
        timeout=CATCH_UP_SECONDS,
    )
    after = wait_for(
        "b0 and b1 to get IPs",
        lambda: (now := _ips(cluster, namespace))["b0"] and now["b1"] and now,
        timeout=CATCH_UP_SECONDS,
    )
    assert {ip for name in ("b0", "b1") for ip in after[name]} == {"192.0.2.67", *before["a0"]}
    for name in ("a1", "a2"):
        assert after[name] == before[name], name
    _assert_unique(after)
    assert controller.starts == 1 and controller.process.poll() is None
