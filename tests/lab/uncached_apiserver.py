"""A second kube-apiserver on the lab's etcd, without a watch cache, to get a real 410 Gone.

The lab's API server serves every watch from its watch cache, which keeps events for at least
75 s and grows to hold 100k of them, so a watch expires there only after minutes of churn. This
one (the lab's own command line on another port, plus ``--watch-cache=false``) serves watches
straight from etcd; after an etcd compaction, a watch from an older resourceVersion is answered
410 Gone by the real API server code, exactly as a watch cache that moved on would answer it.
It runs beside the lab's in the control-plane namespace (two API servers on one etcd is how
Kubernetes runs highly available) and is stopped by PID when the test ends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lab import netns, process
from lab.state import LabState

PORT = 16443
"""The port it listens on inside the control-plane namespace (the lab's API server has 6443)."""

_ETCD = "http://127.0.0.1:2379"


def _lab_apiserver_argv(lab: LabState) -> list[str]:
    pid = int(lab.data["processes"]["kube-apiserver"]["pid"])
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().rstrip("\0").split("\0")


def start(lab: LabState, log_dir: Path) -> tuple[process.Started, str]:
    """Start the uncached API server; return it and its URL as seen from the root namespace."""
    argv = [
        arg
        for arg in _lab_apiserver_argv(lab)
        if not arg.startswith(("--secure-port=", "--endpoint-reconciler-type="))
    ]
    argv += [
        f"--secure-port={PORT}",
        "--watch-cache=false",
        "--endpoint-reconciler-type=none",  # the kubernetes Service keeps naming the lab's server only
    ]
    cp = lab.hosts["cp"]["netns"]
    started = process.start("kube-apiserver-uncached", cp, argv, log_dir)
    # The lab's server address on the host link (its certificate names it), with our port.
    server = yaml.safe_load(Path(lab.kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
    return started, f"{server.rsplit(':', 1)[0]}:{PORT}"


def ready(lab: LabState) -> bool:
    """True when the uncached API server answers /readyz (from inside the lab, no credentials)."""
    out = netns.exec_in(
        lab.hosts["cp"]["netns"],
        ["curl", "-sk", "--max-time", "2", f"https://127.0.0.1:{PORT}/readyz"],
        check=False,
    )
    return out.strip() == "ok"


def compact_etcd(lab: LabState, revision: int) -> None:
    """Compact the lab's etcd history up to ``revision`` (through etcd's own gRPC gateway)."""
    answer = netns.exec_in(
        lab.hosts["cp"]["netns"],
        [
            "curl",
            "-sf",
            "--max-time",
            "10",
            "-X",
            "POST",
            f"{_ETCD}/v3/kv/compaction",
            "-d",
            json.dumps({"revision": str(revision), "physical": True}),
        ],
    )
    assert "header" in json.loads(answer), f"etcd refused the compaction: {answer}"


@pytest.fixture()
def uncached_apiserver_url(lab: LabState, tmp_path: Path) -> Iterator[str]:
    """The URL (from the root namespace) of an API server without watch cache on the lab's etcd."""
    started, url = start(lab, tmp_path)
    try:
        process.wait_until("the uncached API server's /readyz", lambda: ready(lab), 120, started)
        yield url
    finally:
        process.stop([started.pid])
