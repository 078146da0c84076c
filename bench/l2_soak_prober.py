"""The soak's client: ARP requests for many VIPs from the lab's client namespace, answers as runs.

Run inside the client namespace (``python bench/l2_soak_prober.py IFACE SECONDS INTERVAL SPLIT
VIP...``, started by :class:`Prober`), it sends one ARP request for every VIP each ``INTERVAL``
seconds and reduces the answers to runs (:class:`bench.l2_soak_judge.Run`): a run of a VIP
ends when another MAC answers or when two answers are more than ``SPLIT`` apart, so a
ten-minute soak of twenty VIPs prints a few lines instead of a hundred thousand. JSON lines on
stdout, times in CLOCK_MONOTONIC (shared by every namespace, so the caller's ``time.monotonic()``
is comparable):

* ``{"ready": true, "start": t}`` once, before the first request;
* ``{"run": [vip, mac, first, last, count]}`` for every run, when it ends (all open runs are
  flushed at the end);
* ``{"late": [previous, t]}`` for every round of requests sent more than two intervals after
  the one before (the prober's own lateness);
* ``{"end": t}`` last.

It runs under SCHED_FIFO when ``chrt`` works, at a priority above every speaker thread's, so
nothing the speakers do can keep it from asking: when it sends late, the kernel or the
hypervisor stopped it. Its lateness is reported; the judge takes out of a silence only the time
it could not ask (:mod:`bench.l2_soak_judge`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script inside the client namespace
    sys.path.insert(0, str(REPO))

from ansible_collections.baremetal.lb.daemons.speaker.layer2 import arp  # noqa: E402
from ansible_collections.baremetal.lb.daemons.speaker.layer2.ethernet import ETH_P_ARP, mac_to_str  # noqa: E402
from ansible_collections.baremetal.lb.daemons.speaker.membership.service import PROFILES  # noqa: E402
from bench.l2_soak_judge import Run  # noqa: E402
from lab.state import LabState  # noqa: E402

_READY_SECONDS = 10.0  # for the prober to open its socket and say so
PRIORITY = max(timing.realtime_priority for timing in PROFILES.values()) + 10  # above every speaker


def _emit(item: object) -> None:
    print(json.dumps(item), flush=True)


@dataclass
class _OpenRun:
    mac: str
    first: float
    last: float
    count: int = 1

    def line(self, vip: str) -> dict[str, list[object]]:
        return {"run": [vip, self.mac, self.first, self.last, self.count]}


def probe(iface: str, vips: list[str], seconds: float, interval: float, split: float) -> None:
    """Send, listen, and print runs as the module docstring says, for ``seconds``."""
    targets = {ipaddress.IPv4Address(vip): vip for vip in vips}
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    sock.bind((iface, ETH_P_ARP))
    out = subprocess.run(["ip", "-j", "-4", "addr", "show", "dev", iface], capture_output=True, check=True)
    own_ip = ipaddress.IPv4Address(json.loads(out.stdout)[0]["addr_info"][0]["local"])
    requests = [arp.request_frame(sock.getsockname()[4], own_ip, target) for target in targets]
    open_runs: dict[str, _OpenRun] = {}
    start = time.monotonic()
    _emit({"ready": True, "start": start})
    end = start + seconds
    next_send = start
    last_sent = 0.0
    while (now := time.monotonic()) < end:
        if now >= next_send:
            for frame in requests:
                sock.send(frame)
            if last_sent and now - last_sent > 2 * interval:
                _emit({"late": [last_sent, now]})
            last_sent = now
            next_send = max(next_send + interval, now)
        if not select.select([sock], [], [], max(0.0, min(next_send, end) - time.monotonic()))[0]:
            continue
        try:
            _unused, packet = arp.parse_frame(sock.recv(2048))
        except ValueError:
            continue
        vip = targets.get(packet.sender_ip)
        if packet.op != arp.OP_REPLY or vip is None or packet.is_gratuitous:
            continue
        heard, mac = time.monotonic(), mac_to_str(packet.sender_mac)
        run = open_runs.get(vip)
        if run is not None and run.mac == mac and heard - run.last <= split:
            run.last, run.count = heard, run.count + 1
            continue
        if run is not None:
            _emit(run.line(vip))
        open_runs[vip] = _OpenRun(mac, heard, heard)
    for vip, run in open_runs.items():
        _emit(run.line(vip))
    _emit({"end": time.monotonic()})


class Prober:
    """The prober as a process in the lab's client namespace, its output read while it runs."""

    def __init__(
        self,
        lab: LabState,
        vips: list[str],
        seconds: float,
        *,
        interval: float,
        split: float,
        names: Mapping[str, str],
    ) -> None:
        """Start probing ``vips``; ``names`` maps each node's MAC to its name."""
        client = lab.hosts["client"]
        realtime = ["chrt", "-f", str(PRIORITY)] if shutil.which("chrt") else []
        argv = [
            "ip", "netns", "exec", client["netns"], *realtime, sys.executable, __file__,
            client["interface"], str(seconds), str(interval), str(split), *vips,
        ]  # fmt: skip
        self.realtime = bool(realtime)
        self.planned_end = 0.0
        self.start = 0.0
        self.end: float | None = None
        self.runs: list[Run] = []
        self.late: list[tuple[float, float]] = []
        self._names = dict(names)
        self._ready = threading.Event()
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        if not self._ready.wait(_READY_SECONDS):
            self.kill()
            raise RuntimeError(f"the prober did not start within {_READY_SECONDS:.0f} s")
        self.planned_end = self.start + seconds

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if not line.strip():
                continue
            item = json.loads(line)
            if "run" in item:
                vip, mac, first, last, count = item["run"]
                self.runs.append(Run(vip, self._names.get(mac, mac), first, last, count))
            elif "late" in item:
                self.late.append((item["late"][0], item["late"][1]))
            elif "ready" in item:
                self.start = item["start"]
                self._ready.set()
            elif "end" in item:
                self.end = item["end"]

    def wait(self, timeout: float) -> None:
        """Wait for the prober's end (bounded), then stop it in any case."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout)
        self.kill()

    def kill(self) -> None:
        """Stop the prober (by its PID) and its reader."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._thread.join(10)

    @property
    def watched_until(self) -> float:
        """The end of the watch: the prober's own, or the planned one when it died early (so the
        silence it left counts as an outage)."""
        return self.end if self.end is not None else self.planned_end


if __name__ == "__main__":
    probe(sys.argv[1], sys.argv[5:], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))
