"""`python -m lab up|down|status|build|images`: the lab's command line (make lab-up/lab-down wrap it)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from . import build, images, lifecycle, netns, probe, rib, walkthrough
from .state import LabState


def _status(state_dir: Path, as_json: bool) -> int:
    state = LabState.load(state_dir)
    if not state:
        print(f"no lab recorded in {state_dir}; start one with `make lab-up`")
        return 1
    if as_json:
        print(json.dumps(state.data, indent=2, sort_keys=True))
        return 0
    ok = lifecycle.healthy(state)
    print(
        f"lab {state.data['lab_id']}: {'ready' if ok else 'NOT HEALTHY'} "
        f"(Kubernetes {state.data.get('kubernetes_version', '?')})"
    )
    print(f"  kubeconfig   {state.kubeconfig}")
    if state.data.get("env_file"):
        print(f"  shell        source {state.data['env_file']}  (KUBECONFIG, the lab's kubectl and crictl)")
    print(
        f"  API server   {state.data['api_server']['from_host']} (from the lab: "
        f"{state.data['api_server']['from_lab']})"
    )
    for name, host in state.hosts.items():
        print(
            f"  {host['role']:<13} {name:<8} {host['ipv4']:<15} {host['ipv6']:<18} "
            f"{host['mac']}  netns {host['netns']}"
        )
    for name, router in state.routers.items():
        print(
            f"  router {name}: AS{router['asn']}, RIB: ip netns exec {router['netns']} "
            f"{' '.join(rib.table_argv(router))}"
        )
    for name, daemon in state.data.get("daemons", {}).items():
        alive = "running" if netns.alive(int(daemon["pid"])) else "STOPPED"
        print(f"  daemon {name}: {alive}, pid {daemon['pid']}, log {daemon['log']}")
    dead = state.dead_processes()
    if dead:
        print(f"  stopped daemons: {', '.join(dead)} (logs in {state.state_dir / 'logs'})")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one lab command."""
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=Path(".lab"), help="where lab.json lives")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the lab (idempotent)")
    up.add_argument("--nodes", type=int, default=3)
    down = sub.add_parser("down", help="remove the lab: namespaces, processes, addresses")
    down.add_argument("--all", action="store_true", help="also remove every other lab's namespaces")
    status = sub.add_parser("status", help="show the lab")
    status.add_argument("--json", action="store_true", help="print lab.json")
    sub.add_parser("build", help="build (or find cached) control-plane binaries")
    sub.add_parser(
        "images",
        help="build (or find cached) the lab's images as OCI archives: base, pause, daemons, "
        "echo-hname, echo-ip, kube-proxy, ee",
    )
    sub.add_parser("probe", help="show who answers, from the client namespace, for each LoadBalancer IP")
    sub.add_parser(
        "walkthrough", help="the demo's walk-through: curl the LoadBalancer IPs, scale, NodePort, failover"
    )
    query = sub.add_parser("rib", help="print a router's routing table, or its paths for one prefix")
    query.add_argument("router", choices=["bird", "frr", "gobgp"])
    query.add_argument("prefix", nargs="?", help="e.g. 203.0.113.1/32: one line per path (ECMP: per node)")
    args = parser.parse_args(argv)
    return int(_COMMANDS[args.command](args))


def _up(args: argparse.Namespace) -> int:
    lifecycle.up(args.state_dir, args.nodes)
    return _status(args.state_dir, as_json=False)


def _down(args: argparse.Namespace) -> int:
    removed = lifecycle.down(args.state_dir, everything=args.all)
    print(f"removed {len(removed)} namespaces" + (f": {' '.join(removed)}" if removed else ""))
    return 0


def _build(args: argparse.Namespace) -> int:
    for name, path in sorted(build.ensure_all().items()):
        print(f"{name:<24} {path}")
    return 0


def _images(args: argparse.Namespace) -> int:
    for name, image in sorted(images.ensure_all().images.items()):
        print(f"{name:<10} {image.ref:<45} {image.digest[:19]}  {image.size / 1e6:6.1f} MB  {image.archive}")
    return 0


def _running_lab(args: argparse.Namespace) -> LabState:
    state = LabState.load(args.state_dir)
    if not state:
        raise SystemExit("no lab is up; start one with `make lab-up`")
    return state


def _probe(args: argparse.Namespace) -> int:
    state = _running_lab(args)
    answers = probe.probe_all(state, lifecycle.api_client(state))
    print(probe.report(answers))
    return 0 if answers and all(a.mac for a in answers) else 1


def _walkthrough(args: argparse.Namespace) -> int:
    walkthrough.run(_running_lab(args))
    return 0


def _rib(args: argparse.Namespace) -> int:
    router = _running_lab(args).routers[args.router]
    if not args.prefix:
        print(netns.exec_in(str(router["netns"]), rib.table_argv(router)))
        return 0
    for path in rib.paths(router, args.prefix):
        print(path)
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "up": _up,
    "down": _down,
    "status": lambda args: _status(args.state_dir, args.json),
    "build": _build,
    "images": _images,
    "probe": _probe,
    "rib": _rib,
    "walkthrough": _walkthrough,
}
