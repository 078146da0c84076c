"""How fast the lab's real nodes serve a new application, as a user sees it.

    .venv/bin/python -m bench.real_nodes_bench [--reps 5] [--state-dir .lab]   (as root)

Needs a lab with the daemons installed (`make demo` leaves one). Each repetition, in a namespace
of its own, times on a monotonic clock:

* deploy: `kubectl apply` of a one-replica echo-hname Deployment until its pod answers HTTP on
  its pod IP, asked from node1 (the time a kubelet needs to run a new pod: schedule, sandbox,
  CNI, container start, readiness);
* expose: `kubectl expose --type=LoadBalancer` of that Deployment until the first answer on the
  LoadBalancer IP from the lab's client (the controller allocates, the speaker announces,
  kube-proxy programs the VIP);

and prints median, min and max per figure, and the node join time the lab recorded at start.
A repetition that fails (a wait runs out) is counted and printed, never dropped. Every wait is
bounded; each repetition's namespace is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench.figures import median_spread
from lab import build, http_loop, netns, workloads
from lab.state import LabState

WAIT = 120.0  # seconds any one step may take before the repetition counts as failed


def _kubectl(state: LabState, *args: str, stdin: str | None = None) -> str:
    kubectl = str(build.ensure_all(log=False)["kubectl"])
    return subprocess.run(
        [kubectl, f"--kubeconfig={state.kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def _answers(state: LabState, host: str, url: str) -> bool:
    out = netns.exec_in(
        state.hosts[host]["netns"], [sys.executable, str(http_loop.SCRIPT), url, "--count=1"], check=False
    )
    return bool(out.strip()) and json.loads(out.splitlines()[0])["ok"]


def _until(what: str, check: object, started: float) -> float:
    """Seconds from `started` until `check()` is true, polled every 50 ms; TimeoutError after WAIT."""
    assert callable(check)
    while time.monotonic() - started < WAIT:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not happen within {WAIT:.0f} s")


def _pod_ip(state: LabState, namespace: str) -> str | None:
    out = _kubectl(state, "-n", namespace, "get", "pods", "-o", "jsonpath={.items[*].status.podIP}")
    return out.split()[0] if out.split() else None


def _vip(state: LabState, namespace: str) -> str | None:
    out = _kubectl(
        state, "-n", namespace, "get", "service", "web", "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}"
    )
    return out.split()[0] if out.split() else None


def repetition(state: LabState) -> tuple[float, float]:
    """(deploy seconds, expose seconds) of one repetition in a fresh namespace."""
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    _kubectl(state, "create", "namespace", namespace)
    try:
        manifest = workloads.deployment("web", namespace=namespace, replicas=1)
        started = time.monotonic()
        _kubectl(state, "apply", "-f", "-", stdin=json.dumps(manifest))

        def pod_answers() -> bool:
            ip = _pod_ip(state, namespace)
            return ip is not None and _answers(state, "node1", f"http://{ip}:{workloads.PORT}/")

        deploy = _until("the new pod answering", pod_answers, started)
        started = time.monotonic()
        _kubectl(
            state,
            "-n",
            namespace,
            "expose",
            "deployment/web",
            "--type=LoadBalancer",
            "--port=80",
            f"--target-port={workloads.PORT}",
        )

        def vip_answers() -> bool:
            vip = _vip(state, namespace)
            return vip is not None and _answers(state, "client", f"http://{vip}/")

        expose = _until("the LoadBalancer IP answering", vip_answers, started)
        return deploy, expose
    finally:
        _kubectl(state, "delete", "namespace", namespace, "--wait=false")


def _line(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:8} no successful repetition"
    return f"{name:8} {median_spread(values, '{:.2f} s'.format)}  (n={len(values)})"


def main(argv: list[str] | None = None) -> int:
    """Run the repetitions and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--state-dir", type=Path, default=Path(".lab"))
    args = parser.parse_args(argv)
    state = LabState.load(args.state_dir)
    if not state:
        raise SystemExit(f"no lab in {args.state_dir}: run `make demo` first")
    deploys, exposes, failed = [], [], []
    for rep in range(1, args.reps + 1):
        try:
            deploy, expose = repetition(state)
        except (TimeoutError, subprocess.CalledProcessError) as err:
            failed.append(f"repetition {rep}: {err}")
            print(f"repetition {rep}: FAILED: {err}", flush=True)
            continue
        deploys.append(deploy)
        exposes.append(expose)
        print(f"repetition {rep}: deploy {deploy:.2f} s, expose {expose:.2f} s", flush=True)
    data = state.data
    print(
        f"\nlab start {data.get('start_seconds')} s; node runtimes up with their images in "
        f"{data.get('node_runtime_seconds')} s, then nodes Ready {data.get('node_ready_seconds')} s "
        "after their kubelets started (recorded by `lab up`)"
    )
    print(_line("deploy", deploys))
    print(_line("expose", exposes))
    print(f"failed repetitions: {len(failed)} of {args.reps}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
