"""Traffic through a router that learned the VIP over BGP: the lab's client reaches the pods of a
Local-policy Service through FRR (the client's route to the BGP pool), spread by ECMP across every
node that announces it, and works again within BFD's detection time when a node's cable is pulled.

Every node runs one pod (Local policy: a node forwards only to its own), so the pod that answers
names the node FRR chose. Requests run from the client with lab/http_loop.py.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from lab import http_loop, workloads
from lab.http_loop import Reply
from tests.lab.bgp_harness import BFD_MS, BFD_MULTIPLIER, BFD_ROUTERS, hops_at, node_ips, sessions_up
from tests.lab.controller_harness import wait_for
from tests.lab.speaker_harness import L2Config

REQUEST_TIMEOUT = 0.3  # seconds per request: a request sent to a cut node fails after this
INTERVAL = 0.02
# A request sent to the cut node just before BFD's detection (3 x 100 ms) and FRR's route change
# fails only after its timeout, so traffic is whole again within detection + one request timeout
# + this margin (the loop's interval, FRR installing the route, a loaded machine). Measured:
# 318, 640 and 663 ms.
MARGIN = 0.4
# Port 80 to the echo pods' port; Local: a node forwards only to its own pod.
LOCAL_HTTP = {"externalTrafficPolicy": "Local", "target_port": workloads.PORT}
OUTAGE_LIMIT = BFD_MS * BFD_MULTIPLIER / 1000 + REQUEST_TIMEOUT + MARGIN


def start_requests(lab: Any, url: str, seconds: float) -> subprocess.Popen[str]:
    """The client's request loop for ``seconds`` (stopped by the caller's finally)."""
    count = int(seconds / INTERVAL)
    argv = [
        "ip", "netns", "exec", lab.hosts["client"]["netns"], sys.executable, str(http_loop.SCRIPT), url,
        f"--count={count}", f"--interval={INTERVAL}", f"--timeout={REQUEST_TIMEOUT}",
    ]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)


def replies_of(loop: subprocess.Popen[str], timeout: float, read: str = "") -> list[Reply]:
    """Every reply of a request loop once it ended (``read``: its lines already read)."""
    out, _err = loop.communicate(timeout=timeout)
    return [http_loop.parse(line) for line in (read + out).splitlines() if line.strip()]


def pod_nodes(cluster: Any, namespace: str) -> dict[str, str]:
    """Pod name -> node of the ``web`` pods (echo-hname answers with its pod's name)."""
    pods = cluster.api.request("GET", f"/api/v1/namespaces/{namespace}/pods", {"labelSelector": "app=web"})
    return {p["metadata"]["name"]: p["spec"].get("nodeName", "") for p in pods["items"]}


def outage_after(replies: list[Reply], cut_at: float) -> float:
    """Seconds from ``cut_at`` until the first request from which every later one succeeded
    (0 when none failed after the cut)."""
    after = [r for r in replies if r.t >= cut_at]
    failed = [i for i, r in enumerate(after) if not r.ok]
    if not failed:
        return 0.0
    if failed[-1] == len(after) - 1:
        return float("inf")
    return after[failed[-1] + 1].t - cut_at


def test_curl_through_frr_spreads_over_the_nodes_and_recovers_within_bfd_time_after_a_cable_cut(
    lab, cluster, bgp, speakers, namespace, serve_web
):
    profile = bgp.bfd_profile(
        receiveInterval=BFD_MS, transmitInterval=BFD_MS, detectMultiplier=BFD_MULTIPLIER
    )
    ip, _peers = serve_web(bfd_profile=profile, replicas=len(lab.nodes), service=LOCAL_HTTP)
    url = f"http://{ip}/"
    cut = lab.nodes[0]
    wait_for(f"BFD up from {cut} to FRR", lambda: sessions_up(speakers[cut], lab, ("frr",), "bfd"))
    nodes_of = pod_nodes(cluster, namespace)
    assert sorted(nodes_of.values()) == sorted(lab.nodes), nodes_of
    wait_for(
        "every pod ready behind the VIP",
        lambda: L2Config(cluster.api).ready_endpoint_nodes(namespace, "web") == set(lab.nodes),
    )

    last: list[Reply] = []

    def all_answered() -> bool:
        last[:] = replies_of(start_requests(lab, url, 20 * INTERVAL), timeout=30)
        return all(r.ok for r in last)

    try:  # FRR's kernel route and each node's kube-proxy rules follow the RIB and the endpoints
        wait_for(f"{url} answering every request through FRR", all_answered, timeout=30, interval=0.5)
    except AssertionError as late:
        route = lab.exec("frr", ["ip", "route", "show", ip], check=False)
        failures = sorted({r.body for r in last if not r.ok})
        raise AssertionError(f"{late}; last failures {failures}; FRR's kernel route: {route!r}") from None
    spread = replies_of(start_requests(lab, url, 60 * INTERVAL), timeout=30)
    assert all(r.ok for r in spread), [r for r in spread if not r.ok]
    reached = {nodes_of.get(r.body, r.body) for r in spread}
    print(f"\n{len(spread)} requests through FRR answered by pods on {sorted(reached)}")
    assert reached == set(lab.nodes), reached

    loop = start_requests(lab, url, 6.0)
    try:
        assert loop.stdout is not None
        first = loop.stdout.readline()  # requests are flowing (each ends within REQUEST_TIMEOUT)
        assert http_loop.parse(first).ok, first
        cut_at = time.monotonic()
        lab.set_cable(cut, plugged=False)
        replies = replies_of(loop, timeout=30, read=first)
    finally:
        if loop.poll() is None:
            loop.kill()
            loop.wait(10)
        lab.set_cable(cut, plugged=True)
    outage = outage_after(replies, cut_at)
    after = [r for r in replies if r.t >= cut_at]
    failed = sum(not r.ok for r in after)
    print(
        f"\ncable of {cut} pulled: {failed} of {len(after)} requests failed, traffic whole again after "
        f"{outage * 1000:.0f} ms (limit {OUTAGE_LIMIT * 1000:.0f} ms: BFD {BFD_MULTIPLIER} x {BFD_MS} ms "
        f"+ {REQUEST_TIMEOUT * 1000:.0f} ms request timeout + {MARGIN * 1000:.0f} ms)"
    )
    assert len(after) > 100, "the request loop stopped early"
    assert outage <= OUTAGE_LIMIT
    survivors = {nodes_of.get(r.body, r.body) for r in after[len(after) // 2 :] if r.ok}
    assert survivors == set(lab.nodes[1:]), survivors
    every = node_ips(lab, lab.nodes)
    wait_for(
        f"the paths via {cut} back in BIRD and FRR",
        lambda: hops_at(lab, ip, BFD_ROUTERS) == [every, every],
        timeout=45,
    )
