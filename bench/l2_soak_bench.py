"""Layer-2 soak: no false failover while both cores are busy.

    PYTHONPATH=. .venv/bin/python bench/l2_soak_bench.py [--state-dir DIR] [--seconds 300]
        [--dead-after S] [--burners 2]   (root)

Starts the controller, three speakers (``--ml-dead-after`` as given) and one Service in the lab
(``--state-dir``/``BMLB_LAB_STATE``, else a fresh lab removed afterwards), waits until the
predicted owner alone answers, then for ``--seconds``:

* ``--burners`` busy-loop processes at normal priority keep the CPUs busy (each ends by itself
  shortly after the soak and is killed by PID at the end in any case);
* a prober in the client namespace (SCHED_FIFO when ``chrt`` works, so the client's own
  scheduling does not pollute the figures) sends an ARP request for the VIP every 10 ms and
  notes every reply and every send it made late (> 2 intervals after the previous one);
* each speaker's ``baremetal_lb_speaker_live_members`` gauge is sampled every 2 s.

No fault is injected, so a false failover is any owner change, any answer from another node,
any speaker seeing fewer live members than there are speakers, and any gap between answers
longer than 100 ms (an outage a client notices). Shorter gaps that the prober's own lateness does
not explain are late answers from the unchanged owner (scheduling delay under load): they are
counted and printed separately.
Also printed: CPU use of the machine, the membership churn the speakers logged (announce and
withdraw lines) and the gratuitous ARPs each sent. Exit status 1 when a false failover was seen.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import itertools
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ansible_collections.baremetal.lb.daemons.speaker.layer2 import arp  # noqa: E402
from ansible_collections.baremetal.lb.daemons.speaker.layer2.ethernet import (  # noqa: E402
    ETH_P_ARP,
    mac_to_str,
)
from ansible_collections.baremetal.lb.daemons.speaker.membership.service import DEAD_AFTER  # noqa: E402
from bench.l2_failover_bench import lab_context, our_setup  # noqa: E402
from lab.state import LabState  # noqa: E402
from tests.lab.speaker_harness import Speakers, mac_to_node  # noqa: E402

BURN = (
    "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"
)
SAMPLE_EVERY = 2.0


# -- the prober (run inside the client namespace) -----------------------------------------------


def _probe_main(iface: str, vip: str, seconds: float, interval: float) -> None:
    """Print a JSON line per reply ``{"t", "mac"}`` and per late send ``{"late": previous, "t"}``."""
    target = ipaddress.IPv4Address(vip)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    sock.bind((iface, ETH_P_ARP))
    out = subprocess.run(["ip", "-j", "-4", "addr", "show", "dev", iface], capture_output=True, check=True)
    our_ip = ipaddress.IPv4Address(json.loads(out.stdout)[0]["addr_info"][0]["local"])
    request = arp.request_frame(sock.getsockname()[4], our_ip, target)
    print(json.dumps({"ready": True}), flush=True)
    end = time.monotonic() + seconds
    next_send = time.monotonic()
    last_sent = 0.0
    while (now := time.monotonic()) < end:
        if now >= next_send:
            sock.send(request)
            wall = time.time()
            if last_sent and wall - last_sent > 2 * interval:
                print(json.dumps({"late": last_sent, "t": wall}), flush=True)
            last_sent = wall
            next_send = max(next_send + interval, time.monotonic())
        if select.select([sock], [], [], max(0.0, min(next_send, end) - time.monotonic()))[0]:
            try:
                _unused, packet = arp.parse_frame(sock.recv(2048))
            except ValueError:
                continue
            if packet.op == arp.OP_REPLY and packet.sender_ip == target and not packet.is_gratuitous:
                print(json.dumps({"t": time.time(), "mac": mac_to_str(packet.sender_mac)}), flush=True)


class _Prober:
    """The prober as a process, its output read by a thread while it runs."""

    def __init__(self, lab: LabState, vip: str, seconds: float, interval: float) -> None:
        client = lab.hosts["client"]
        rt = ["chrt", "-f", "10"] if shutil.which("chrt") else []
        argv = [
            "ip", "netns", "exec", client["netns"], *rt, sys.executable, __file__, "probe",
            client["interface"], vip, str(seconds), str(interval),
        ]  # fmt: skip
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        ready = self.process.stdout.readline()
        if json.loads(ready or "{}") != {"ready": True}:
            self.process.kill()
            raise RuntimeError(f"prober did not start: {ready!r}")
        self.realtime = bool(rt)
        self.owners = mac_to_node(lab)
        self.replies: list[tuple[float, str]] = []
        self.late: list[tuple[float, float]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if not line.strip():
                continue
            item = json.loads(line)
            if "late" in item:
                self.late.append((item["late"], item["t"]))
            else:
                self.replies.append((item["t"], self.owners.get(item["mac"], item["mac"])))

    def wait(self, timeout: float) -> None:
        """Wait for the prober's end (bounded), then stop it in any case."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout)
        self.kill()

    def kill(self) -> None:
        """Stop the prober and its reader."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._thread.join(10)


# -- observations ----------------------------------------------------------------------------------


def _cpu_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _metric(text: str, name: str) -> float:
    """Sum of every sample of ``name`` in a Prometheus text page."""
    pattern = re.compile(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.eE+-]+)$", re.M)
    return sum(float(value) for value in pattern.findall(text))


def _sampler(speakers: Speakers, stop: threading.Event, samples: dict[str, list[float]]) -> None:
    while not stop.wait(SAMPLE_EVERY):
        for node, speaker in speakers.by_node.items():
            page = speaker.metrics()
            if page:
                samples.setdefault(node, []).append(_metric(page, "baremetal_lb_speaker_live_members"))


def _churn(speakers: Speakers, offsets: dict[str, int]) -> dict[str, Counter[str]]:
    """Announce/withdraw lines each speaker logged since ``offsets``."""
    found: dict[str, Counter[str]] = {}
    for node, speaker in speakers.by_node.items():
        counts: Counter[str] = Counter()
        with speaker.log.open("rb") as log:
            log.seek(offsets[node])
            for raw in log:
                with contextlib.suppress(ValueError):
                    message = str(json.loads(raw).get("msg", ""))
                    if message.startswith("stopped announcing"):
                        counts["withdraw"] += 1
                    elif message.startswith("announcing"):
                        counts["announce"] += 1
                    elif "warning" in raw.decode(errors="replace").lower():
                        counts["warning"] += 1
        found[node] = counts
    return found


def _analyse(prober: _Prober, owner: str, interval: float) -> dict[str, float]:
    replies = sorted(prober.replies)
    foreign_runs = 0
    previous = owner
    for _t, who in replies:
        if who != owner and previous == owner:
            foreign_runs += 1
        previous = who
    gaps = [(a[0], b[0]) for a, b in itertools.pairwise(replies) if b[0] - a[0] > 2 * interval]

    def prober_late(gap: tuple[float, float]) -> bool:
        return any(late < gap[1] and sent > gap[0] for late, sent in prober.late)

    unexplained = [gap for gap in gaps if not prober_late(gap)]
    lengths = sorted((b - a) * 1000 for a, b in unexplained)
    return {
        "replies": len(replies),
        "foreign_answers": sum(1 for _t, who in replies if who != owner),
        "owner_changes": foreign_runs,
        "gaps": len(gaps),
        "gaps_prober_late": len(gaps) - len(unexplained),
        "gaps_unexplained": len(unexplained),
        "gap_ms_max": round(lengths[-1], 1) if lengths else 0.0,
        "gap_ms_over_50": sum(1 for g in lengths if g > 50),
        "gap_ms_over_100": sum(1 for g in lengths if g > 100),
        "late_sends": len(prober.late),
        "span_s": round(replies[-1][0] - replies[0][0], 1) if replies else 0.0,
    }


# -- main ----------------------------------------------------------------------------------------


def soak(lab: LabState, seconds: float, dead_after: float, burners: int, interval: float) -> bool:
    """Run the soak and print its figures; True when no false failover was seen."""
    with (
        tempfile.TemporaryDirectory(prefix="bmlb-l2soak-") as tmp,
        our_setup(lab, Path(tmp), dead_after) as (vip, owner, speakers),
    ):
        offsets = {node: s.log.stat().st_size for node, s in speakers.by_node.items()}
        before = {node: s.metrics() for node, s in speakers.by_node.items()}
        burn: list[subprocess.Popen[bytes]] = []
        prober: _Prober | None = None
        stop = threading.Event()
        samples: dict[str, list[float]] = {}
        sampler = threading.Thread(target=_sampler, args=(speakers, stop, samples), daemon=True)
        try:
            cpu0 = _cpu_busy()
            for _index in range(burners):
                burn.append(subprocess.Popen([sys.executable, "-c", BURN, str(seconds + 30)]))
            time.sleep(1.0)  # the burners are at full speed before the watch starts
            print(
                f"soak: {seconds:.0f} s, {burners} busy loops on {os.cpu_count()} CPUs, "
                f"dead after {dead_after * 1000:.0f} ms, VIP {vip} owned by {owner}",
                flush=True,
            )
            prober = _Prober(lab, vip, seconds, interval)
            sampler.start()
            prober.wait(seconds + 30)
            cpu1 = _cpu_busy()
        finally:
            stop.set()
            for process in burn:
                if process.poll() is None:
                    process.kill()
                process.wait(10)
            if prober is not None:
                prober.kill()
            if sampler.is_alive():
                sampler.join(15)
        assert prober is not None
        after = {node: s.metrics() for node, s in speakers.by_node.items()}
        figures = _analyse(prober, owner, interval)
        churn = _churn(speakers, offsets)
    busy = (cpu1[0] - cpu0[0]) / max(1, cpu1[1] - cpu0[1])
    print(f"  CPU busy during the soak: {busy * 100:.0f}% of {os.cpu_count()} CPUs")
    policy = "SCHED_FIFO" if prober.realtime else "normal priority"
    print(f"  prober: {policy}, every {interval * 1000:.0f} ms")
    print("  " + "  ".join(f"{key}={value}" for key, value in figures.items()))
    members_low = 0
    for node in sorted(speakers.by_node):
        gratuitous = _metric(after[node], "metallb_layer2_gratuitous_sent") - _metric(
            before[node], "metallb_layer2_gratuitous_sent"
        )
        answered = _metric(after[node], "metallb_layer2_responses_sent") - _metric(
            before[node], "metallb_layer2_responses_sent"
        )
        low = [v for v in samples.get(node, []) if v < len(speakers.by_node)]
        members_low += len(low)
        print(
            f"  {node}{' (owner)' if node == owner else '        '}: answered {answered:.0f}, "
            f"gratuitous {gratuitous:.0f}, announce/withdraw logged "
            f"{churn[node]['announce']}/{churn[node]['withdraw']}, live-members samples "
            f"{len(samples.get(node, []))} of which below {len(speakers.by_node)}: {len(low)}"
        )
    false = int(
        figures["owner_changes"] + figures["foreign_answers"] + members_low + figures["gap_ms_over_100"]
    )
    churned = sum(c["announce"] + c["withdraw"] for c in churn.values())
    print(
        f"  false failovers: {false} (owner changes {figures['owner_changes']}, foreign answers "
        f"{figures['foreign_answers']}, live-member drops {members_low}, gaps > 100 ms "
        f"{figures['gap_ms_over_100']}); membership churn logged: {churned}"
    )
    print(
        f"  late answers from the owner (gaps > {2 * interval * 1000:.0f} ms, not the prober's): "
        f"{figures['gaps_unexplained']}, longest {figures['gap_ms_max']:.1f} ms"
    )
    return false == 0


def main() -> None:
    """Run the soak (or, as ``probe IFACE VIP SECONDS INTERVAL``, the prober)."""
    if len(sys.argv) == 6 and sys.argv[1] == "probe":
        _probe_main(sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--state-dir", default=os.environ.get("BMLB_LAB_STATE"), help="reuse this running lab"
    )
    parser.add_argument("--seconds", type=float, default=300, help="length of the soak (10..1800)")
    parser.add_argument(
        "--dead-after",
        type=float,
        default=DEAD_AFTER,
        help="the speakers' --ml-dead-after (s)",
    )
    parser.add_argument("--burners", type=int, default=2, help="busy-loop processes (0..8)")
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between ARP probes")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespaces)")
    seconds = max(10.0, min(args.seconds, 1800.0))
    dead_after = max(0.15, min(args.dead_after, 5.0))
    burners = max(0, min(args.burners, 8))
    interval = max(0.005, min(args.interval, 1.0))
    with lab_context(args.state_dir) as lab:
        ok = soak(lab, seconds, dead_after, burners, interval)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
