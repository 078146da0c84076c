"""baremetal.lb controller: allocates LoadBalancer IPs from metallb.io IPAddressPools.

A thin entry point: flags as MetalLB's controller spells them, then everything happens in
``plugins/module_utils/controller``.
"""

from __future__ import annotations

import argparse
import os

from .app import Options, run


def _parse(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--namespace",
        default=os.environ.get("METALLB_NAMESPACE") or "metallb-system",
        help="namespace of the metallb.io configuration objects (default: metallb-system)",
    )
    parser.add_argument(
        "--lb-class",
        default="",
        help="serve only Services with this spec.loadBalancerClass; empty: only Services without one",
    )
    parser.add_argument(
        "--kubeconfig", default=None, help="kubeconfig file (default: in-cluster service account)"
    )
    parser.add_argument("--metrics-port", type=int, default=7472, help="port of /metrics (0: off)")
    parser.add_argument("--health-port", type=int, default=7473, help="port of /healthz and /readyz (0: off)")
    parser.add_argument("--bind-address", default="0.0.0.0", help="address the HTTP ports listen on")
    parser.add_argument("--status-writers", type=int, default=8, help="threads writing Service status")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"], help="log level"
    )
    args = parser.parse_args(argv)
    return Options(**vars(args))


if __name__ == "__main__":
    raise SystemExit(run(_parse()))
