"""Entry point: ``python -m ansible_collections.baremetal.lb.daemons.speaker --node-name node1 ...``.

The flags are MetalLB's speaker flags.
"""

from __future__ import annotations

import argparse
import math
import os

from .app import run
from .layer2.handoff import HANDOVER_OVERLAP
from .membership.service import DEFAULT_PROFILE, PROFILES
from .options import REPLAN_INTERVAL, Options


def _seconds(text: str) -> float:
    """A duration flag's value: a finite number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds, 0 or more: {text!r}")
    return value


def _parse(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog=f"python -m {__package__}", description=__doc__)
    add = parser.add_argument
    add(
        "--node-name",
        default=os.environ.get("METALLB_NODE_NAME") or os.environ.get("NODE_NAME"),
        help="this node's name (default: METALLB_NODE_NAME or NODE_NAME)",
    )
    add(
        "--namespace",
        default=os.environ.get("METALLB_NAMESPACE") or "metallb-system",
        help="namespace of the metallb.io objects and the memberlist Secret",
    )
    add(
        "--pod-name",
        default=os.environ.get("METALLB_POD_NAME", ""),
        help="this speaker's Pod, owner of its BGPSessionState objects (default: METALLB_POD_NAME)",
    )
    add(
        "--pod-uid",
        default=os.environ.get("METALLB_POD_UID", ""),
        help="the UID of that Pod (default: METALLB_POD_UID); both unset outside Kubernetes",
    )
    add("--kubeconfig", default=None, help="kubeconfig file (default: in-cluster service account)")
    add(
        "--lb-class", default="", help="serve only Services of this loadBalancerClass; empty: class-less only"
    )
    add(
        "--ignore-exclude-lb",
        action="store_true",
        help="announce from nodes labelled node.kubernetes.io/exclude-from-external-load-balancers too",
    )
    add(
        "--drain-aware",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="layer 2: a cordoned node, or one tainted for removal, hands its IPs to a node that is"
        " not, as long as one is alive (default); --no-drain-aware keeps MetalLB's rule, which"
        " ignores cordons",
    )
    add(
        "--handover-overlap",
        type=_seconds,
        default=HANDOVER_OVERLAP,
        help="layer 2: longest time in seconds a node keeps answering for an IP it hands over"
        " (a cordon, a stop, a failback), until it sees the new owner announce it; 0 stops at once",
    )
    add("--metrics-port", type=int, default=7472, help="port of /metrics (0: off)")
    add("--health-port", type=int, default=7473, help="port of /healthz and /readyz (0: off)")
    add("--bind-address", default="0.0.0.0", help="address the HTTP ports listen on")
    add("--log-level", default="info", choices=["debug", "info", "warning", "error"], help="log level")
    add(
        "--ml-bind-addr",
        default=os.environ.get("METALLB_ML_BIND_ADDR", ""),
        help="membership address (default: this node's InternalIP)",
    )
    add(
        "--ml-bind-port",
        type=int,
        default=int(os.environ.get("METALLB_ML_BIND_PORT") or 7946),
        help="membership UDP port, the same on every node",
    )
    add("--ml-secret-name", default="memberlist", help="Secret holding the membership key (key secretkey)")
    add(
        "--ml-secret-key-path",
        default=os.environ.get("METALLB_ML_SECRET_KEY_PATH", ""),
        help="read the membership key from this file instead of the Secret",
    )
    add(
        "--ml-profile",
        choices=sorted(PROFILES),
        default=DEFAULT_PROFILE,
        help="layer-2 failure detection: default (heartbeat every 100 ms, dead after 300 ms: failover"
        " ~0.27 s) or fast (25 ms / 75 ms: failover under 0.1 s for 4x the heartbeats; small domains);"
        " both run the layer-2 engine at real-time priority 10",
    )
    add("--ml-interval", type=_seconds, help="seconds between heartbeats (default: the profile's)")
    add(
        "--ml-dead-after",
        type=_seconds,
        help="seconds of silence after which a speaker is dead (default: the profile's)",
    )
    add(
        "--ml-realtime-priority",
        type=int,
        choices=range(100),
        metavar="0-99",
        help="SCHED_FIFO priority of the layer-2 engine (needs CAP_SYS_NICE), 0: normal"
        " (default: the profile's)",
    )
    add(
        "--replan-interval",
        type=float,
        default=REPLAN_INTERVAL,
        help="seconds between safety-net re-plans (changes, links and addresses re-plan at once)",
    )
    args = parser.parse_args(argv)
    if not args.node_name:
        parser.error("--node-name (or NODE_NAME) is required")
    profile = PROFILES[args.ml_profile]
    if args.ml_interval is None:
        args.ml_interval = profile.interval
    if args.ml_dead_after is None:
        args.ml_dead_after = profile.dead_after
    if args.ml_realtime_priority is None:
        args.ml_realtime_priority = profile.realtime_priority
    if not 0 < args.ml_interval < args.ml_dead_after:
        parser.error(
            f"--ml-interval ({args.ml_interval}) must be above 0 and below"
            f" --ml-dead-after ({args.ml_dead_after})"
        )
    return Options(**vars(args))


if __name__ == "__main__":
    raise SystemExit(run(_parse()))
