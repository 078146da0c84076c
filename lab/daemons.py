"""Run the baremetal.lb daemons in the lab as the cluster would run its pods.

There is no kubelet here, so the controller Deployment's and speaker DaemonSet's pods are kwok
fakes. The real daemons run from the checkout as processes: the controller in the control-plane
namespace, one speaker in each node namespace (host networking, as the DaemonSet asks), each
logged in with its own ServiceAccount's token, so the RBAC the install role applied is what they
get. Their PIDs go into lab.json, so `lab down` stops them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import yaml
from kubernetes import client

from . import netns, process
from .state import LabState

REPO = Path(__file__).resolve().parents[1]
NAMESPACE = "metallb-system"
_TOKEN_SECONDS = 7 * 24 * 3600


def service_account_kubeconfig(
    api: client.ApiClient, state: LabState, account: str, path: Path, inside_lab: bool = True
) -> Path:
    """Write a kubeconfig that logs in with a token of ServiceAccount metallb-system/ACCOUNT.

    `inside_lab` picks the API server address reachable from the lab's namespaces; otherwise the
    one reachable from the root namespace.
    """
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=_TOKEN_SECONDS)
    )
    answer = client.CoreV1Api(api).create_namespaced_service_account_token(account, NAMESPACE, request)
    assert answer.status is not None, "the API server answered a TokenRequest without a token"
    token = answer.status.token
    admin = yaml.safe_load(Path(state.data["kubeconfig_in_lab" if inside_lab else "kubeconfig"]).read_text())
    cluster = admin["clusters"][0]
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [cluster],
                "users": [{"name": account, "user": {"token": token}}],
                "contexts": [{"name": account, "context": {"cluster": cluster["name"], "user": account}}],
                "current-context": account,
            }
        )
    )
    path.chmod(0o600)
    return path


def _controller_argv(kubeconfig: Path, node: str | None) -> list[str]:
    del node  # one controller per cluster
    return [
        sys.executable,
        "-m",
        "ansible_collections.baremetal.lb.daemons.controller",
        f"--kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
    ]


def _speaker_argv(kubeconfig: Path, node: str | None) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ansible_collections.baremetal.lb.daemons.speaker",
        f"--node-name={node}",
        f"--kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
    ]


class _Daemon(NamedTuple):
    netns: str
    account: str
    node: str | None
    argv: Callable[[Path, str | None], list[str]]


def up(state: LabState, api: client.ApiClient) -> list[str]:
    """Start the daemons that are not running yet; return the names of those started."""
    run_dir = state.state_dir / "run"
    started = []
    wanted: dict[str, _Daemon] = {
        "baremetal-lb-controller": _Daemon(state.hosts["cp"]["netns"], "controller", None, _controller_argv)
    }
    for node in state.nodes:
        wanted[f"baremetal-lb-speaker-{node}"] = _Daemon(
            state.hosts[node]["netns"], "speaker", node, _speaker_argv
        )
    for name, (namespace, account, daemon_node, argv) in wanted.items():
        recorded = state.data.get("daemons", {}).get(name)
        if recorded and netns.alive(int(recorded["pid"])):
            continue
        kubeconfig = service_account_kubeconfig(api, state, account, run_dir / f"{name}.kubeconfig")
        proc = process.start(name, namespace, argv(kubeconfig, daemon_node), state.state_dir / "logs")
        state.record_process(proc.name, proc.pid, proc.netns, proc.log, group="daemons")
        started.append(name)
    return started
