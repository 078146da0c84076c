"""Run the controller daemon against the lab as a real process, with its own RBAC.

Used by tests/lab/test_controller_*.py and bench/controller_bench.py. The controller runs as
the ServiceAccount metallb-system/controller with the RBAC from roles/install/files/rbac, so
every test also proves that RBAC is enough.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.baremetal.lb.daemons.kube.kubeapi import KubeApi
from ansible_collections.baremetal.lb.plugins.module_utils import services
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import IP_ADDRESS_POOL
from lab import build, lifecycle
from lab.service_accounts import service_account_kubeconfig
from lab.state import LabState

REPO = Path(__file__).resolve().parents[2]
CRDS = REPO / "roles/install/files/crds"
RBAC = REPO / "roles/install/files/rbac/controller.yaml"
CONFIG_NAMESPACE = "metallb-system"
POOLS = f"{IP_ADDRESS_POOL.api_path}/namespaces/{CONFIG_NAMESPACE}/{IP_ADDRESS_POOL.plural}"

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30, interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def install(kubectl: Kubectl) -> None:
    """Server-side apply the metallb.io CRDs, the config namespace and the controller's RBAC."""
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    for crd in sorted(CRDS.glob("*.yaml")):
        name = yaml.safe_load(crd.read_text())["metadata"]["name"]
        kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=30s")
    if kubectl("get", "namespace", CONFIG_NAMESPACE, check=False).returncode:
        kubectl("create", "namespace", CONFIG_NAMESPACE)
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(RBAC))


def kubectl_runner(binary: str, lab: LabState) -> Kubectl:
    """Run ``binary`` (the lab's kubectl) against ``lab`` as its admin: run("get", "nodes")."""

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, f"--kubeconfig={lab.kubeconfig}", *args], capture_output=True, text=True, check=check
        )

    return run


def add_lab_options(parser: argparse.ArgumentParser) -> None:
    """Add the options that say which lab a bench runs in (see :func:`bench_lab`)."""
    parser.add_argument("--state-dir", type=Path, help="a running lab's state directory")
    parser.add_argument(
        "--start-lab", action="store_true", help="start a lab for the run and remove it after"
    )


@contextmanager
def bench_lab(args: argparse.Namespace, workdir: Path) -> Iterator[LabState]:
    """The lab of a bench, by :func:`add_lab_options`: started in ``workdir`` (and removed
    afterwards) with ``--start-lab``, else the running lab of ``--state-dir``; the CRDs and the
    controller's RBAC are installed."""
    state_dir = workdir / "lab" if args.start_lab else args.state_dir
    if state_dir is None:
        raise SystemExit("give --state-dir of a running lab, or --start-lab")
    lab = lifecycle.up(state_dir) if args.start_lab else LabState.load(state_dir)
    if lab is None:
        raise SystemExit(f"no lab recorded in {state_dir}")
    try:
        install(kubectl_runner(str(build.ensure_all(log=False)["kubectl"]), lab))
        yield lab
    finally:
        if args.start_lab:
            lifecycle.down(state_dir)


def controller_kubeconfig(lab: LabState, path: Path) -> Path:
    """A kubeconfig for the root namespace that logs in with the controller's token."""
    return service_account_kubeconfig(lifecycle.api_client(lab), lab, "controller", path, inside_lab=False)


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Controller:
    """The controller daemon as a child process; always stopped by :meth:`stop`."""

    def __init__(self, kubeconfig: Path, log_dir: Path, *args: str) -> None:
        self.kubeconfig = kubeconfig
        self.log_dir = log_dir
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None
        self.health_port = 0
        self.metrics_port = 0
        self.starts = 0

    @property
    def pid(self) -> int:
        """The PID of the running daemon."""
        assert self.process is not None
        return self.process.pid

    def start(self, wait_ready: bool = True) -> Controller:
        """Start the daemon (again) and, by default, wait until /readyz answers 200."""
        self.health_port, self.metrics_port = free_port(), free_port()
        self.starts += 1
        log = (self.log_dir / f"controller-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ansible_collections.baremetal.lb.daemons.controller",
                f"--kubeconfig={self.kubeconfig}",
                f"--health-port={self.health_port}",
                f"--metrics-port={self.metrics_port}",
                "--bind-address=127.0.0.1",
                *self.args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if wait_ready:
            wait_for("the controller to become ready", self.ready, timeout=120)
        return self

    def _get(self, port: int, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, ""
        except OSError:
            return 0, ""

    def ready(self) -> bool:
        """True when /readyz answers 200; fails at once when the process died."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"controller exited with {self.process.returncode}; see {self.log_dir}")
        return self._get(self.health_port, "/readyz")[0] == 200

    def metric(self, name: str, labels: str = "") -> float | None:
        """Return the value of one Prometheus sample, e.g. metric("x", 'pool="p"')."""
        wanted = f"{name}{{{labels}}}" if labels else name
        for line in self._get(self.metrics_port, "/metrics")[1].splitlines():
            sample, _unused, value = line.rpartition(" ")
            if sample == wanted:
                return float(value)
        return None

    def kill(self) -> None:
        """SIGKILL the daemon, as a crash would."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def freeze(self) -> None:
        """SIGSTOP the daemon: every thread stops where it is, nothing more is sent or logged."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT a daemon stopped by :meth:`freeze`."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        """SIGTERM the daemon, then SIGKILL it if it lingers."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def logs(self) -> str:
        """Everything the daemon logged, across restarts."""
        return "".join(path.read_text() for path in sorted(self.log_dir.glob("controller-*.log")))


def unique(prefix: str) -> str:
    """A name nobody else uses: ``prefix-1a2b3c4d``."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def metallb_manifest(kind: Any, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A metallb.io object of ``kind`` (a ``metallb_kinds`` descriptor) in the config namespace."""
    return {
        "apiVersion": kind.api_version,
        "kind": kind.kind,
        "metadata": {"name": name, "namespace": CONFIG_NAMESPACE},
        "spec": spec,
    }


def pool_manifest(name: str, addresses: Iterable[str], **spec: Any) -> dict[str, Any]:
    """An IPAddressPool object in the config namespace."""
    return metallb_manifest(IP_ADDRESS_POOL, name, {"addresses": list(addresses), **spec})


def service_manifest(
    name: str,
    *,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    ipv6: bool = False,
    ports: Iterable[int] = (80,),
    target_port: int | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A LoadBalancer Service; ``ipv6`` makes it IPv6 single-stack (the lab's IPv4 range is small);
    ``target_port`` is the pods' port behind every port (default: the same port)."""
    body: dict[str, Any] = {
        "type": "LoadBalancer",
        # The NodePort range (2,768 ports) would run out long before 10,000 Services.
        "allocateLoadBalancerNodePorts": False,
        "selector": {"app": name},
        "ports": [
            {"name": f"p{port}", "port": port, "protocol": "TCP", "targetPort": target_port or port}
            for port in ports
        ],
    }
    if ipv6:
        body.update(ipFamilies=["IPv6"], ipFamilyPolicy="SingleStack")
    body.update(spec)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "annotations": annotations or {}, "labels": labels or {}},
        "spec": body,
    }


def ingress_ips(service: dict[str, Any]) -> list[str]:
    """The IPs a Service holds (read by :func:`services.ingress_ips`), as text, for comparisons."""
    return [str(ip) for ip in services.ingress_ips(service)]


def dump(obj: Any) -> str:
    """Compact JSON for failure messages."""
    return json.dumps(obj, sort_keys=True)[:2000]


class Cluster:
    """Admin-side helpers over the lab's API: Services, pools and events as plain dicts."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self._pools: list[str] = []
        self._services: set[tuple[str, str]] = set()

    def create_pool(self, name: str, addresses: Iterable[str], **spec: Any) -> str:
        """Create an IPAddressPool that :meth:`cleanup` deletes."""
        self.api.request("POST", POOLS, body=pool_manifest(name, addresses, **spec))
        self._pools.append(name)
        return name

    def patch_pool(self, name: str, spec: dict[str, Any]) -> None:
        """Merge-patch a pool's spec."""
        self.api.request(
            "PATCH", f"{POOLS}/{name}", body={"spec": spec}, content_type="application/merge-patch+json"
        )

    def delete_pool(self, name: str) -> None:
        """Delete a pool now."""
        self.api.request("DELETE", f"{POOLS}/{name}")
        self._pools.remove(name)

    def create_service(self, namespace: str, manifest: dict[str, Any]) -> dict[str, Any]:
        """Create a Service that :meth:`cleanup` deletes."""
        self._services.add((namespace, manifest["metadata"]["name"]))
        result: dict[str, Any] = self.api.request(
            "POST", f"/api/v1/namespaces/{namespace}/services", body=manifest
        )
        return result

    def service(self, namespace: str, name: str) -> dict[str, Any]:
        """Read a Service."""
        result: dict[str, Any] = self.api.request("GET", f"/api/v1/namespaces/{namespace}/services/{name}")
        return result

    def patch_service(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        """Merge-patch a Service."""
        self.api.request(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/services/{name}",
            body=patch,
            content_type="application/merge-patch+json",
        )

    def _exists(self, namespace: str, name: str) -> bool:
        try:
            self.service(namespace, name)
        except Exception:
            return False
        return True

    def delete_service(self, namespace: str, name: str) -> None:
        """Delete a Service."""
        self.api.request("DELETE", f"/api/v1/namespaces/{namespace}/services/{name}")

    def services(self, namespace: str) -> dict[str, dict[str, Any]]:
        """Every Service of a namespace, by name."""
        items = self.api.request("GET", f"/api/v1/namespaces/{namespace}/services", {"limit": 0})["items"]
        return {item["metadata"]["name"]: item for item in items}

    def wait_ips(self, namespace: str, name: str, count: int = 1, timeout: float = 30) -> list[str]:
        """Wait until a Service shows ``count`` ingress IPs and return them."""
        return list(
            wait_for(
                f"{namespace}/{name} to get {count} IP(s)",
                lambda: (ips := ingress_ips(self.service(namespace, name))) and len(ips) == count and ips,
                timeout,
            )
        )

    def events(self, namespace: str, name: str, reason: str) -> list[str]:
        """Messages of the Events with ``reason`` about object ``name`` in ``namespace``."""
        items = self.api.request(
            "GET",
            f"/api/v1/namespaces/{namespace}/events",
            {"fieldSelector": f"involvedObject.name={name},reason={reason}"},
        )["items"]
        return [item["message"] for item in items]

    def cleanup(self) -> None:
        """Delete the Services and pools this helper created, and wait until the Services are gone.

        A Service of a namespace being deleted still holds its IP, which would leak into the
        next test.
        """
        for namespace, name in self._services:
            try:
                self.delete_service(namespace, name)
            except Exception:  # already gone
                continue
        wait_for("the test's Services to go", lambda: not any(self._exists(*key) for key in self._services))
        for name in list(self._pools):
            try:
                self.delete_pool(name)
            except Exception:  # already gone
                self._pools.remove(name)


# -- fixtures (test modules load them with pytest_plugins) ----------------------------------------


@pytest.fixture(scope="session")
def controller_config(lab: LabState, kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CRDs and RBAC installed; the path of a kubeconfig holding the controller's token."""
    install(kubectl)
    return controller_kubeconfig(lab, tmp_path_factory.mktemp("controller") / "kubeconfig")


@pytest.fixture()
def cluster(lab: LabState, controller_config: Path) -> Iterator[Cluster]:
    """Admin helpers; the pools and Services a test creates are deleted afterwards."""
    helper = Cluster(KubeApi.connect(str(lab.kubeconfig)))
    yield helper
    helper.cleanup()


@pytest.fixture()
def label_node(cluster: Cluster) -> Iterator[Any]:
    """Call with (node, label, value) to label a node (value None removes the label); every label
    set is removed afterwards."""
    labelled: list[tuple[str, str]] = []

    def patch(node: str, label: str, value: str | None) -> None:
        cluster.api.request(
            "PATCH",
            f"/api/v1/nodes/{node}",
            body={"metadata": {"labels": {label: value}}},
            content_type="application/merge-patch+json",
        )

    def label(node: str, name: str, value: str | None = "") -> None:
        labelled.append((node, name))
        patch(node, name, value)

    try:
        yield label
    finally:
        for node, name in labelled:
            patch(node, name, None)


@pytest.fixture()
def start_controller(controller_config: Path, tmp_path: Path) -> Iterator[Callable[..., Controller]]:
    """Start controller daemons (``start_controller("--lb-class=x")``); all are stopped afterwards."""
    started: list[Controller] = []

    def start(*args: str) -> Controller:
        controller = Controller(controller_config, tmp_path, *args)
        started.append(controller)
        return controller.start()

    yield start
    for controller in started:
        controller.stop()
