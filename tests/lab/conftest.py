"""Fixtures shared by every test suite: the lab and clients for it.

`lab` starts one lab per test session in a temporary state directory and removes it (its
namespaces and processes) at the end, also when tests fail. Set BMLB_LAB_STATE to the state
directory of a lab you started yourself (`make lab-up` writes .lab/) to reuse it while iterating.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client

from lab import build, lifecycle
from lab.state import LabState


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabState]:
    """A running lab: real API server, node/client/router namespaces on one LAN."""
    reuse = os.environ.get("BMLB_LAB_STATE")
    if reuse:
        state = LabState.load(Path(reuse))
        if not state or not lifecycle.healthy(state):
            pytest.fail(f"BMLB_LAB_STATE={reuse} names no healthy lab; run `make lab-up` or unset it")
        yield state
        return
    state_dir = tmp_path_factory.mktemp("lab")
    try:
        yield lifecycle.up(state_dir, node_count=3)
    finally:
        lifecycle.down(state_dir)


@pytest.fixture(scope="session")
def kube(lab: LabState) -> client.ApiClient:
    """A Kubernetes API client logged in as the lab's admin."""
    return lifecycle.api_client(lab)


@pytest.fixture()
def namespace(kube: client.ApiClient) -> Iterator[str]:
    """A fresh Kubernetes namespace for one test, deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(kube)
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


@pytest.fixture(scope="session")
def kubectl(lab: LabState) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the lab's own kubectl build against the lab: kubectl("get", "nodes")."""
    binary = str(build.ensure_all(log=False)["kubectl"])

    def run(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, f"--kubeconfig={lab.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=check,
        )

    return run
