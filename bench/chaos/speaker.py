"""Repeated faults on the shipped speaker in the real lab; counts and client-visible figures.

Set-up (:func:`.speaker_faults.serve`): the controller and one speaker per node run as processes
(tests/lab harnesses, each with its own ServiceAccount), a Deployment ``web`` on the lab's real
kubelet nodes, per node one layer-2 Service whose requested IP MetalLB's rule gives that node,
and one BGP Service announced by every node to the lab's BIRD2, FRR and GoBGP. Then
``--trials`` trials of each fault, in this order (the node acted on rotates over the nodes):

1. kill -9 L2 owner: both processes of the speaker owning a VIP get SIGKILL; figures: the
   client's outage until another node answers, and after the restart the longest silence
   ("return gap") and the longest time two nodes answered at once ("doubled");
2. kill -9 BGP speaker: its paths must leave every router while the other nodes' paths never
   do (every RIB look checks); figures: withdrawn, routes back after the restart;
3. link flap: the owner's cable pulled at the lab switch until another node answers, then put
   back (figures as 1);
4. node return: a node's speaker stopped (odd trials) or its cable pulled (even ones) and back,
   every VIP watched: it takes back exactly the VIP the rule gives it, the others stay put, no VIP
   answered by two nodes beyond the bound;
5. API server stopped (``--api-outage`` s, default 60): the lab's kube-apiserver stopped by PID
   (lab/daemon_restart.py; always started again): layer 2 keeps answering, the owner killed
   halfway still fails over; after the return each surviving speaker serves a new Service
   ("resync") while the failed-over VIP stays put; then the owner restarts and takes it back;
6. router restart: each router's processes restarted in turn; figure per router: the time
   until every speaker's session is Established again and the router holds the route via
   every node.

Before every trial the bench waits (60 s at most) until every VIP is answered by its owner alone
and every router holds the BGP route via every node; a speaker that exited by itself during a
trial breaks that trial's promise and is started again, as the kubelet restarts a DaemonSet's
container. The client's view is a 10 ms ARP prober in the client namespace; every duration is on
the monotonic clock, and the machine's load average is printed first and last (on a shared
2-core machine it moves the figures, and a heavy load makes the speakers' 300 ms membership
declare live peers dead). Bounds (bench/chaos/speaker_faults.py): the failover bound of the speaker's lab
tests (1 s) for outages, return gaps and double answers; 3 s for a returning node to answer;
16 s + 14 s for the resync; 30 s for a router. Every trial is printed, a failed one with the
promise it broke or the error that stopped it, and counted, never dropped; then, per fault (and
variant: node return by stopped speaker or pulled cable), the trials, failures and each figure
as median (min-max). Exit status 1 when any trial failed.

    sudo .venv/bin/python -m bench.chaos.speaker --start-lab
    sudo .venv/bin/python -m bench.chaos.speaker --state-dir /tmp/lab --trials 3 --api-outage 20
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from ansible_collections.baremetal.lb.daemons.kube.kubeapi import KubeApi
from lab import build
from lab.state import LabState
from tests.lab import speaker_harness
from tests.lab.bgp_harness import BGPConfig
from tests.lab.controller_harness import (
    Cluster,
    Controller,
    add_lab_options,
    bench_lab,
    controller_kubeconfig,
    kubectl_runner,
)
from tests.lab.speaker_harness import L2Config, Speakers

from . import speaker_faults
from .tally import Tally


@contextmanager
def _stage(lab: LabState, workdir: Path, log_dir: Path) -> Iterator[speaker_faults.Stage]:
    """The bench's stage; everything it made is removed afterwards, also on failure."""
    speaker_harness.install(kubectl_runner(str(build.ensure_all(log=False)["kubectl"]), lab))
    api = KubeApi.connect(str(lab.kubeconfig))
    namespace = f"chaos-{uuid.uuid4().hex[:8]}"
    cluster, l2, bgp = Cluster(api), L2Config(api), BGPConfig(api, lab)
    speakers = Speakers(lab, speaker_harness.speaker_kubeconfig(lab, workdir / "speaker.kubeconfig"), log_dir)
    controller = Controller(controller_kubeconfig(lab, workdir / "controller.kubeconfig"), log_dir)
    api.request("POST", "/api/v1/namespaces", body={"metadata": {"name": namespace}})
    try:
        yield speaker_faults.serve(
            lab,
            cluster=cluster,
            l2=l2,
            bgp=bgp,
            start_controller=controller.start,
            speakers=speakers,
            namespace=namespace,
        )
    finally:
        speakers.stop_all()
        controller.stop()
        cluster.cleanup()
        l2.cleanup()
        bgp.cleanup()
        api.request("DELETE", f"/api/v1/namespaces/{namespace}")


def run(
    stage: speaker_faults.Stage,
    faults: list[str],
    trials: int,
    api_outage: float,
    say: Callable[[str], None],
) -> Tally:
    """``trials`` trials of each of ``faults`` on ``stage``; each printed as it ends, then the totals."""
    tally = Tally()
    started = time.monotonic()
    say(f"faults: {', '.join(faults)}; {trials} trials each; {_load()}")
    for fault in faults:
        for number in range(1, trials + 1):
            trial = speaker_faults.run_trial(stage, fault, number, api_outage)
            tally.trials.append(trial)
            say(f"+{time.monotonic() - started:6.1f}s {trial.line()}")
    for line in tally.lines():
        say(line)
    say(f"after {time.monotonic() - started:.0f} s; {_load()}")
    return tally


def _load() -> str:
    """The machine's load: the figures depend on it (a shared 2-core machine)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} CPUs"


def _interrupted(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds every finally: API server, cables, speakers


def main() -> None:
    """Parse the options, find or start the lab, run, exit 1 when a promise broke."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_lab_options(parser)
    parser.add_argument("--trials", type=int, default=10, help="trials of each fault (10)")
    parser.add_argument(
        "--api-outage",
        type=float,
        default=speaker_faults.API_OUTAGE,
        help="seconds the API server stays stopped (60)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        choices=list(speaker_faults.FAULTS),
        help="run only this fault (repeatable; default: every fault)",
    )
    parser.add_argument("--log-dir", type=Path, help="keep the speakers' and controller's logs here")
    args = parser.parse_args()
    if not 1 <= args.trials <= 50 or not 2 <= args.api_outage <= 300:
        parser.error("--trials from 1 to 50 and --api-outage from 2 to 300 s: the bench stays bounded")
    signal.signal(signal.SIGTERM, _interrupted)
    with tempfile.TemporaryDirectory(prefix="chaos-speaker-") as scratch:
        workdir = Path(scratch)
        log_dir = args.log_dir or workdir
        log_dir.mkdir(parents=True, exist_ok=True)
        faults = args.fault or list(speaker_faults.FAULTS)
        with bench_lab(args, workdir) as lab, _stage(lab, workdir, log_dir) as stage:
            tally = run(stage, faults, args.trials, args.api_outage, lambda line: print(line, flush=True))
    raise SystemExit(1 if tally.failed else 0)


if __name__ == "__main__":
    main()
