"""Run speakers in the lab's node namespaces as real processes, and watch the wire from the client.

Used by tests/lab/test_speaker_*.py and bench/l2_failover_bench.py. Each speaker runs inside
its node's namespace as the ServiceAccount metallb-system/speaker (RBAC from
roles/install/files/rbac/speaker.yaml), reaching the API server over the lab LAN. PIDs are
recorded and every speaker is stopped in the fixture's finalizer, also when a test fails.

Run as a script inside the client namespace, this module is the prober:
``python tests/lab/speaker_harness.py probe IFACE VIP SECONDS [INTERVAL]`` asks for VIP every
INTERVAL seconds (an ARP request for IPv4, a neighbour solicitation for IPv6) and prints one
JSON line per reply: ``{"t": wall time, "m": monotonic time, "mac": ...}``, and one per request
sent: ``{"s": monotonic time}``. ``m`` is CLOCK_MONOTONIC, which the prober shares with every process of the
machine (network namespaces do not change clocks), so a caller measures durations against its
own ``time.monotonic()``; ``t`` is for logs. A reply's times are the kernel's receive stamp
(SO_TIMESTAMPNS), so a prober that the busy machine runs late does not move them.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import ipaddress
import itertools
import json
import os
import re
import secrets
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script by the prober
    sys.path.insert(0, str(REPO))

from ansible_collections.baremetal.lb.daemons.kube.kubeapi import MERGE_PATCH  # noqa: E402
from ansible_collections.baremetal.lb.daemons.speaker.layer2 import arp, ndp  # noqa: E402
from ansible_collections.baremetal.lb.daemons.speaker.layer2.ethernet import (  # noqa: E402
    ETH_P_ARP,
    ETH_P_IPV6,
    mac_to_str,
)
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import (  # noqa: E402
    L2_ADVERTISEMENT,
    SERVICE_L2_STATUS,
    STATUS_SERVICE_NAME_LABEL,
    STATUS_SERVICE_NAMESPACE_LABEL,
)
from ansible_collections.baremetal.lb.plugins.module_utils.ownership import rank  # noqa: E402
from lab import lifecycle, workloads  # noqa: E402
from lab.service_accounts import service_account_kubeconfig  # noqa: E402
from lab.state import LabState  # noqa: E402
from tests.lab.controller_harness import metallb_manifest, service_manifest, unique, wait_for  # noqa: E402

RBAC = REPO / "roles/install/files/rbac/speaker.yaml"
NAMESPACE = "metallb-system"
# An unplanned failover (owner killed or cut off) ends within this many seconds as the client
# sees it; bench/l2_failover_bench.py measures the real figure.
UNPLANNED_LIMIT = 1.0
SECRET = "memberlist"
L2ADS = f"{L2_ADVERTISEMENT.api_path}/namespaces/{NAMESPACE}/{L2_ADVERTISEMENT.plural}"
L2STATUSES = f"{SERVICE_L2_STATUS.api_path}/namespaces/{NAMESPACE}/{SERVICE_L2_STATUS.plural}"
POOL4 = "192.0.2.64/26"
POOL6 = "2001:db8:1::1:0/112"
CLIENT_AGENT = REPO / "tests/netns/agents/l2_client.py"
Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def install(kubectl: Kubectl) -> None:
    """The speaker's RBAC and the membership Secret (created once with a random key)."""
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(RBAC))
    if kubectl("get", "secret", SECRET, "-n", NAMESPACE, check=False).returncode:
        key = base64.b64encode(secrets.token_bytes(128)).decode()
        kubectl("create", "secret", "generic", SECRET, "-n", NAMESPACE, f"--from-literal=secretkey={key}")


def speaker_kubeconfig(lab: LabState, path: Path) -> Path:
    """A kubeconfig usable inside the lab (API server on the LAN) with the speaker's token."""
    return service_account_kubeconfig(lifecycle.api_client(lab), lab, "speaker", path)


@dataclass
class Speaker:
    """One speaker daemon inside a node namespace."""

    node: str
    netns: str
    kubeconfig: Path
    log_dir: Path
    args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def pid(self) -> int:
        """The PID of the speaker's main (Kubernetes) process."""
        assert self.process is not None
        return self.process.pid

    @property
    def log(self) -> Path:
        """The log of the latest start."""
        return self.log_dir / f"speaker-{self.node}-{self.starts}.log"

    def start(self, wait_ready: bool = True) -> Speaker:
        """Start (again); by default wait until its initial sync is done."""
        self.starts += 1
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    "ip", "netns", "exec", self.netns,
                    sys.executable, "-m", "ansible_collections.baremetal.lb.daemons.speaker",
                    f"--node-name={self.node}", f"--kubeconfig={self.kubeconfig}",
                    "--bind-address=127.0.0.1", *self.args,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        if wait_ready:
            wait_for(f"speaker on {self.node} to sync", self.synced, timeout=60)
        return self

    def synced(self) -> bool:
        """True once the speaker logged its initial sync; fails when it died."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"speaker {self.node} exited with {self.process.returncode}: {self.logs()[-3000:]}"
            )
        return self.log.exists() and "initial sync done" in self.log.read_text()

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the speaker's main process."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, sig)

    def engine_pids(self) -> list[int]:
        """PIDs of the engine child process(es) of the main process."""
        out = subprocess.run(["pgrep", "-P", str(self.pid)], capture_output=True, text=True, check=False)
        return [int(pid) for pid in out.stdout.split()]

    def crash(self) -> None:
        """SIGKILL the engine and the main process at once, as a node or container crash would."""
        for pid in [*self.engine_pids(), self.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.wait()

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL if it lingers; always reaps."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def wait(self, timeout: float = 10) -> int:
        """Wait for the process to end and return its status."""
        assert self.process is not None
        return self.process.wait(timeout)

    def logs(self) -> str:
        """Everything logged across starts."""
        return "".join(p.read_text() for p in sorted(self.log_dir.glob(f"speaker-{self.node}-*.log")))

    def metrics(self) -> str:
        """The speaker's /metrics page (fetched inside its namespace)."""
        argv = ["ip", "netns", "exec", self.netns, "curl", "-sf", "http://127.0.0.1:7472/metrics"]
        return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False).stdout


def metric(page: str, name: str, labels: str = "") -> float:
    """Sum of the samples of ``name`` in a Prometheus text page whose labels contain ``labels``."""
    pattern = re.compile(rf"^{re.escape(name)}(?:{{([^}}]*)}})? ([0-9.eE+-]+)$", re.M)
    return sum(float(value) for found, value in pattern.findall(page) if labels in found)


@dataclass
class Speakers:
    """The speakers of a test, by node."""

    lab: LabState
    kubeconfig: Path
    log_dir: Path
    by_node: dict[str, Speaker] = field(default_factory=dict)

    def start(self, *nodes: str, args: tuple[str, ...] = ()) -> list[Speaker]:
        """Start speakers on ``nodes`` (default: every node) and wait until each synced."""
        started = []
        for node in nodes or tuple(self.lab.nodes):
            speaker = Speaker(node, self.lab.hosts[node]["netns"], self.kubeconfig, self.log_dir, args)
            self.by_node[node] = speaker
            started.append(speaker.start(wait_ready=False))
        for speaker in started:
            wait_for(f"speaker on {speaker.node} to sync", speaker.synced, timeout=60)
        return started

    def __getitem__(self, node: str) -> Speaker:
        return self.by_node[node]

    def stop_all(self) -> None:
        """Stop every speaker (the finalizer)."""
        for speaker in self.by_node.values():
            speaker.stop()


# -- the cluster side: advertisements, workloads, predictions -------------------------------------


class L2Config:
    """L2Advertisements and Deployments a test creates; :meth:`cleanup` removes them."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self._ads: list[str] = []
        self._deployments: list[tuple[str, str]] = []

    def advertise(self, name: str, annotations: dict[str, str] | None = None, **spec: Any) -> None:
        """Create an L2Advertisement (with ``annotations``, when given)."""
        body = metallb_manifest(L2_ADVERTISEMENT, name, spec)
        body["metadata"]["annotations"] = annotations or {}
        self.api.request("POST", L2ADS, body=body)
        self._ads.append(name)

    def deploy(
        self, namespace: str, app: str, replicas: int = 1, node: str | None = None, one_per_node: bool = False
    ) -> None:
        """A Deployment of echo-hname pods labelled ``app=<app>``, optionally on one node or one per node."""
        body = workloads.deployment(
            app, namespace=namespace, replicas=replicas, node=node, one_per_node=one_per_node
        )
        self.api.request("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", body=body)
        self._deployments.append((namespace, app))

    def endpoint_slice(self, namespace: str, service: str, nodes: list[str]) -> None:
        """A hand-written IPv6 EndpointSlice for a selector-less Service, one ready endpoint per node.

        Endpoints placed on nodes the test chooses, without pods behind them.
        """
        body = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"generateName": f"{service}-", "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv6",
            "ports": [{"name": "p80", "port": 80, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": [f"2001:db8:1::{100 + i}"], "nodeName": node, "conditions": {"ready": True}}
                for i, node in enumerate(nodes)
            ],
        }
        self.api.request(
            "POST", f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices", body=body
        )

    def ready_endpoint_nodes(self, namespace: str, service: str) -> set[str]:
        """Nodes hosting a ready endpoint of the Service."""
        slices = self.api.request(
            "GET",
            f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
            {"labelSelector": f"kubernetes.io/service-name={service}"},
        )["items"]
        return {
            e.get("nodeName")
            for s in slices
            for e in s.get("endpoints") or []
            if (e.get("conditions") or {}).get("ready")
        }

    def l2_statuses(self, namespace: str, service: str) -> list[dict[str, Any]]:
        """The ServiceL2Status objects reporting the Service."""
        items: list[dict[str, Any]] = self.api.request(
            "GET",
            L2STATUSES,
            {
                "labelSelector": f"{STATUS_SERVICE_NAME_LABEL}={service},"
                f"{STATUS_SERVICE_NAMESPACE_LABEL}={namespace}"
            },
        )["items"]
        return items

    def cleanup(self) -> None:
        """Delete what this helper created."""
        for name in self._ads:
            with contextlib.suppress(Exception):
                self.api.request("DELETE", f"{L2ADS}/{name}")
        for namespace, name in self._deployments:
            with contextlib.suppress(Exception):
                self.api.request("DELETE", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")


def announced_web(
    lab: LabState,
    cluster: Any,
    l2: L2Config,
    start_controller: Callable[[], Any],
    speakers: Speakers,
    namespace: str,
    args: tuple[str, ...] = (),
    annotations: dict[str, str] | None = None,
    ipv6: bool = False,
) -> tuple[list[str], str]:
    """Service ``web`` (one pod) with a VIP from an on-link pool, announced by every node:
    IPv4, or IPv6 single-stack with ``ipv6``.

    Starts the controller and the speakers (with ``args``; the L2Advertisement with
    ``annotations``); returns (ingress IPs, owner) once the predicted owner, and only it,
    answers ARP (neighbour solicitations) for the VIP.
    """
    pool = cluster.create_pool(unique("l2"), [POOL6 if ipv6 else POOL4])
    l2.advertise(unique("l2"), annotations, ipAddressPools=[pool])
    start_controller()
    speakers.start(args=args)
    l2.deploy(namespace, "web")
    cluster.create_service(namespace, service_manifest("web", ipv6=ipv6))
    ips: list[str] = cluster.wait_ips(namespace, "web")
    owner = predicted_owner(ips, set(lab.nodes))
    answered_by_only(lab, ips[0], owner)
    return ips, owner


def answered_by_only(lab: LabState, vip: str, owner: str, timeout: float = 10) -> None:
    """Wait until ``owner``, and only it, answers for ``vip``; the failure names who answered last."""
    last: list[str] = []

    def only_owner() -> bool:
        last[:] = answering_nodes(lab, vip)
        return last == [owner]

    try:
        wait_for(f"{vip} answered by {owner} only", only_owner, timeout=timeout)
    except AssertionError as late:
        raise AssertionError(f"{late}; the last answers came from {last or 'nobody'}") from None


def predicted_owner(ips: list[str], candidates: set[str], scores: dict[str, int] | None = None) -> str:
    """MetalLB's choice among ``candidates`` for a Service whose first ingress IP is ips[0].

    ``scores`` are the nodes' preference scores (``preferredNodeSelectors``); none by default.
    """
    return str(rank(candidates, str(ipaddress.ip_address(ips[0])), scores)[0])


def mac_to_node(lab: LabState) -> dict[str, str]:
    """Node name by MAC address of its LAN interface."""
    return {lab.hosts[node]["mac"]: node for node in lab.nodes}


def answering_nodes(lab: LabState, vip: str, wait: float = 1.0) -> list[str]:
    """Who answers an ARP request (IPv4) or a neighbour solicitation (IPv6) for ``vip`` from the client.

    Uses the scapy client (an implementation independent of the responder); one entry per
    answer, so a node answering twice appears twice; unknown MACs appear as the MAC.
    """
    command = "ns" if ":" in vip else "arp"
    iface = lab.hosts["client"]["interface"]
    out = lab.exec("client", [sys.executable, str(CLIENT_AGENT), command, iface, vip, str(wait)], timeout=60)
    owners = mac_to_node(lab)
    return sorted(owners.get(answer["mac"], answer["mac"]) for answer in json.loads(out))


# -- the prober ----------------------------------------------------------------------------


class Probe:
    """A prober in the client namespace (ARP for IPv4, neighbour discovery for IPv6); its replies
    are read after it ends."""

    def __init__(self, lab: LabState, vip: str, seconds: float, interval: float = 0.01) -> None:
        argv = [
            "ip", "netns", "exec", lab.hosts["client"]["netns"], sys.executable, __file__, "probe",
            lab.hosts["client"]["interface"], vip, str(seconds), str(interval),
        ]  # fmt: skip
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        self._owners = mac_to_node(lab)
        assert self.process.stdout is not None
        assert json.loads(self.process.stdout.readline()) == {"ready": True}

    def replies(self, timeout: float = 60) -> list[tuple[float, str]]:
        """Every reply as (wall time, node name or MAC), once the prober finished."""
        out, _unused = self.process.communicate(timeout=timeout)
        lines = [json.loads(line) for line in out.splitlines() if line.strip()]
        return [(line["t"], self._owners.get(line["mac"], line["mac"])) for line in lines if "mac" in line]

    def kill(self) -> None:
        """Stop the prober early (finalizers)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def handover(replies: list[tuple[float, str]], at: float, old: str) -> tuple[float, str | None]:
    """The outage the client saw around ``at``, and who answered after it.

    The outage is the longest silence between two answers from the last answer before ``at``
    (or ``at`` itself) to the first answer by a node other than ``old`` afterwards; when ``old``
    keeps answering, no handover happened and the second value is ``old``.
    """
    before = [t for t, _unused in replies if t <= at]
    start = before[-1] if before else at
    after = [(t, who) for t, who in replies if t > at]
    new = next(((t, who) for t, who in after if who != old), None)
    if new is None:
        return (after[-1][0] - start if after else float("inf")), (old if after else None)
    times = [start, *(t for t, _unused in after if t <= new[0])]
    return max(b - a for a, b in itertools.pairwise(times)), new[1]


@dataclass(frozen=True)
class Switch:
    """What the client saw while ``old`` handed an IP over to ``new`` (times in seconds)."""

    new: str | None
    start: float  # the last answer before the new owner's first
    end: float  # the new owner's first answer after the old owner's last
    silence: float  # the longest time between two answers in [start, end]
    longest_wait: float  # the longest a request sent in [start, end] waited for any answer
    requests: int  # requests sent in [start, end]
    overlap: float  # from the new owner's first answer to the old owner's last; <= 0: none


def switch(replies: list[tuple[float, str]], sent: list[float], at: float, old: str) -> Switch:
    """The hand-over by ``old`` after ``at`` as the client saw it (see :class:`Switch`).

    The window is the switch itself, from the last answer before the new owner's first to the
    new owner's first answer after the old owner's last (the whole overlap when both answered):
    a gap between the old owner's last answer and the new one's first (break before make) is in
    it; a stall of the busy machine while the old owner still answered alone (a cordon reaches
    the speakers through the API server) is not. ``longest_wait`` is the figure a stalled
    prober cannot inflate: a request that nobody answers waits past the next one's answer, at
    least one prober interval, while an answered one waits about a millisecond. Without a new
    owner the window runs from ``at`` to the last answer.
    """
    replies = sorted(replies)
    after = [(t, who) for t, who in replies if t > at]
    before = [t for t, _unused in replies if t <= at]
    first = next((i for i, (_t, who) in enumerate(after) if who != old), None)
    if first is None:
        start = before[-1] if before else at
        end, new, overlap = (after[-1][0] if after else at), None, 0.0
        times = [start, *(t for t, _unused in after)]
    else:
        new = after[first][1]
        last_old = max((i for i, (_t, who) in enumerate(after) if who == old), default=-1)
        old_end = after[last_old][0] if last_old >= 0 else (before[-1] if before else at)
        overlap = old_end - after[first][0]
        following = range(max(first, last_old + 1), len(after))
        last = next((i for i in following if after[i][1] == new), len(after) - 1)
        start = after[first - 1][0] if first else (before[-1] if before else at)
        end = after[last][0]
        times = [start, *(t for t, _unused in after[first : last + 1])]
    answers = sorted(t for t, _unused in replies)
    asked = [s for s in sent if start <= s <= end]
    waits = [
        (answers[i] if (i := bisect.bisect_right(answers, s)) < len(answers) else float("inf")) - s
        for s in asked
    ]
    return Switch(
        new,
        start,
        end,
        max((b - a for a, b in itertools.pairwise(times)), default=0.0),
        max(waits, default=0.0),
        len(asked),
        overlap,
    )


def cordon(api: Any, node: str, unschedulable: bool = True) -> None:
    """Cordon (or uncordon) ``node`` as ``kubectl cordon`` does: patch ``spec.unschedulable``."""
    api.request(
        "PATCH",
        f"/api/v1/nodes/{node}",
        body={"spec": {"unschedulable": True if unschedulable else None}},
        content_type=MERGE_PATCH,
    )


_SO_TIMESTAMPNS = 35  # Linux; the control message type is the same number
_TIMESPEC = struct.Struct("=qq")


def _received_at(ancillary: list[tuple[int, int, bytes]]) -> tuple[float, float]:
    """(wall, monotonic) time of a frame's arrival, from its kernel stamp when there is one."""
    wall, mono = time.time(), time.monotonic()
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(data)
            stamp = seconds + nanoseconds / 1e9
            return stamp, mono - (wall - stamp)
    return wall, mono


@dataclass(frozen=True)
class _Asker:
    """How the prober asks for a VIP on one family: its socket, the request it sends, and which
    received frames answer it (the answering MAC, or None)."""

    sock: socket.socket
    request: bytes
    answer_mac: Callable[[bytes], bytes | None]


def _arp_asker(iface: str, vip: ipaddress.IPv4Address) -> _Asker:
    """ARP requests for ``vip``; replies from ``vip`` that are not gratuitous answer them."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    sock.bind((iface, ETH_P_ARP))
    request = arp.request_frame(sock.getsockname()[4], ipaddress.IPv4Address(_address_of(iface, 4)), vip)

    def answer_mac(data: bytes) -> bytes | None:
        _unused, packet = arp.parse_frame(data)
        answered = packet.op == arp.OP_REPLY and packet.sender_ip == vip and not packet.is_gratuitous
        return packet.sender_mac if answered else None

    return _Asker(sock, request, answer_mac)


def _ndp_asker(iface: str, vip: ipaddress.IPv6Address) -> _Asker:
    """Neighbour solicitations for ``vip`` (to its solicited-node group, from the client's LAN
    address, as a host asks); solicited advertisements for ``vip`` answer them (RFC 4861 §7.2.4),
    unsolicited ones (a new owner's announcement) do not, as gratuitous ARP does not."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IPV6))
    sock.bind((iface, ETH_P_IPV6))
    source = ipaddress.IPv6Address(_address_of(iface, 6))
    request = ndp.solicitation_frame(sock.getsockname()[4], source, vip)

    def answer_mac(data: bytes) -> bytes | None:
        packet = ndp.parse_frame(data)
        message = packet.message
        if isinstance(message, ndp.NeighborAdvertisement) and message.target == vip and message.solicited:
            mac: bytes = message.target_mac or packet.eth_src
            return mac
        return None

    return _Asker(sock, request, answer_mac)


def _probe_main(iface: str, vip: str, seconds: float, interval: float) -> None:
    target = ipaddress.ip_address(vip)
    asker = _ndp_asker(iface, target) if target.version == 6 else _arp_asker(iface, target)
    sock = asker.sock
    sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    print(json.dumps({"ready": True}), flush=True)
    end = time.monotonic() + seconds
    next_send = time.monotonic()
    while (now := time.monotonic()) < end:
        if now >= next_send:
            sent = time.monotonic()  # before the send: a reply can never be stamped earlier
            sock.send(asker.request)
            print(json.dumps({"s": sent}), flush=True)
            next_send += interval
        if select.select([sock], [], [], max(0.0, min(next_send, end) - time.monotonic()))[0]:
            data, ancillary, _flags, _address = sock.recvmsg(2048, socket.CMSG_SPACE(_TIMESPEC.size))
            try:
                mac = asker.answer_mac(data)
            except ValueError:  # FrameError, or a frame of another kind
                continue
            if mac is not None:
                wall, mono = _received_at(ancillary)
                print(json.dumps({"t": wall, "m": mono, "mac": mac_to_str(mac)}), flush=True)


def _address_of(iface: str, version: int) -> str:
    """The interface's first global address of IP ``version`` (4 or 6)."""
    out = subprocess.run(
        ["ip", "-j", f"-{version}", "addr", "show", "dev", iface, "scope", "global"],
        capture_output=True,
        text=True,
        check=True,
    )
    return str(json.loads(out.stdout)[0]["addr_info"][0]["local"])


# -- fixtures (test modules load them with pytest_plugins-style assignment) ---------------------


@pytest.fixture(scope="session")
def speaker_config(
    lab: LabState, kubectl: Kubectl, controller_config: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """CRDs, RBAC and the membership Secret installed; a kubeconfig with the speaker's token."""
    install(kubectl)
    return speaker_kubeconfig(lab, tmp_path_factory.mktemp("speaker") / "kubeconfig")


@pytest.fixture()
def speakers(lab: LabState, speaker_config: Path, tmp_path: Path) -> Iterator[Speakers]:
    """Start speakers with ``speakers.start(...)``; all are stopped afterwards, also on failure."""
    group = Speakers(lab, speaker_config, tmp_path)
    try:
        yield group
    finally:
        group.stop_all()


@pytest.fixture()
def l2(cluster: Any) -> Iterator[L2Config]:
    """L2Advertisements and Deployments, removed afterwards."""
    helper = L2Config(cluster.api)
    try:
        yield helper
    finally:
        helper.cleanup()


if __name__ == "__main__" and len(sys.argv) >= 5 and sys.argv[1] == "probe":
    _probe_main(
        sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]) if len(sys.argv) > 5 else 0.01
    )
