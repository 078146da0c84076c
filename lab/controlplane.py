"""The lab's control plane: etcd, kube-apiserver, controller-manager, scheduler and kwok.

All of it runs inside the lab's control-plane namespace. The API server listens there on the
LAN address (reachable from node namespaces) and on the host link (reachable from the root
namespace, where `kubectl`, Ansible and the tests run).
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from . import build, pki, process, topology

# kwok's own "fast" stages plus the lease-based heartbeat, as shipped inside its module.
API_SERVER = "kube-apiserver"
"""The name lab.json records the API server's process under."""

_KWOK_STAGES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)


def write_kubeconfig(path: Path, server: str, pki_dir: Path, client: str) -> None:
    """Write a self-contained kubeconfig (certificates embedded) for one client identity."""

    def b64(name: str) -> str:
        return base64.b64encode((pki_dir / name).read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "lab", "cluster": {"server": server, "certificate-authority-data": b64("ca.crt")}}
        ],
        "users": [
            {
                "name": client,
                "user": {
                    "client-certificate-data": b64(f"{client}.crt"),
                    "client-key-data": b64(f"{client}.key"),
                },
            }
        ],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": client}}],
        "current-context": "lab",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)


def _kwok_config(path: Path) -> None:
    kwok_dir = build.GO_DIR / "kwok"
    module_dir = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok"],
        cwd=kwok_dir,
        capture_output=True,
        text=True,
        check=True,
        env={"GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly", **_go_env()},
    ).stdout.strip()
    docs = [Path(module_dir, stage).read_text() for stage in _KWOK_STAGES]
    path.write_text("\n---\n".join(docs))


def _go_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in ("HOME", "PATH", "GOPATH", "GOMODCACHE", "GOCACHE")}


class ControlPlane:
    """Starts and checks the control-plane daemons of one lab."""

    def __init__(self, plan: topology.Plan, state_dir: Path, bins: dict[str, Path]) -> None:
        self.plan = plan
        self.state_dir = state_dir
        self.bins = bins
        self.pki_dir = state_dir / "pki"
        self.run_dir = state_dir / "run"
        self.log_dir = state_dir / "logs"
        self.cp = plan.host("cp")
        self.netns = self.cp.netns
        self.server_from_host = f"https://{plan.host_link[1]}:{topology.API_PORT}"
        self.server_from_lab = f"https://{self.cp.ipv4}:{topology.API_PORT}"
        self.kubeconfig = state_dir / "kubeconfig"
        self.kubeconfig_in_lab = state_dir / "kubeconfig-lab"

    def prepare(self) -> None:
        """Write the PKI, kubeconfigs and kwok's stage configuration."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        first_service_ips = ["198.51.100.1", "2001:db8:5e::1"]
        pki.create(
            self.pki_dir,
            [
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
            [self.cp.ipv4, self.cp.ipv6, self.plan.host_link[1], "127.0.0.1", *first_service_ips],
        )
        write_kubeconfig(self.kubeconfig, self.server_from_host, self.pki_dir, "admin")
        write_kubeconfig(self.kubeconfig_in_lab, self.server_from_lab, self.pki_dir, "admin")
        local = f"https://127.0.0.1:{topology.API_PORT}"
        for client in ("controller-manager", "scheduler", "kwok"):
            write_kubeconfig(self.run_dir / f"{client}.kubeconfig", local, self.pki_dir, client)
        _kwok_config(self.run_dir / "kwok-stages.yaml")

    def start(self) -> list[process.Started]:
        """Start every daemon in order, each once the one it depends on is ready."""
        started = [self._etcd()]
        apiserver = self._apiserver()
        started.append(apiserver)
        process.wait_until("the API server's /readyz", self.ready, 120, apiserver)
        started += [self._controller_manager(), self._scheduler(), self._kwok()]
        return started

    def _start(self, name: str, argv: list[str]) -> process.Started:
        return process.start(name, self.netns, argv, self.log_dir)

    def _etcd(self) -> process.Started:
        return self._start(
            "etcd",
            [
                str(self.bins["etcd"]),
                "--name=lab",
                f"--data-dir={self.run_dir / 'etcd'}",
                "--listen-client-urls=http://127.0.0.1:2379",
                "--advertise-client-urls=http://127.0.0.1:2379",
                "--listen-peer-urls=http://127.0.0.1:2380",
                "--initial-advertise-peer-urls=http://127.0.0.1:2380",
                "--initial-cluster=lab=http://127.0.0.1:2380",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )

    def _apiserver(self) -> process.Started:
        p = self.pki_dir
        return self._start(
            API_SERVER,
            [
                str(self.bins["kube-apiserver"]),
                "--etcd-servers=http://127.0.0.1:2379",
                "--bind-address=0.0.0.0",
                f"--secure-port={topology.API_PORT}",
                f"--advertise-address={self.cp.ipv4}",
                "--endpoint-reconciler-type=lease",
                # Reach kubelets (logs, exec) by address: node names are not in any DNS here.
                "--kubelet-preferred-address-types=InternalIP,Hostname",
                f"--kubelet-certificate-authority={p / 'ca.crt'}",
                f"--kubelet-client-certificate={p / 'admin.crt'}",
                f"--kubelet-client-key={p / 'admin.key'}",
                "--authorization-mode=Node,RBAC",
                f"--client-ca-file={p / 'ca.crt'}",
                f"--tls-cert-file={p / 'apiserver.crt'}",
                f"--tls-private-key-file={p / 'apiserver.key'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={p / 'sa.pub'}",
                f"--service-account-signing-key-file={p / 'sa.key'}",
                f"--service-cluster-ip-range={topology.SERVICE_CIDRS}",
                "--allow-privileged=true",
                "--v=1",
            ],
        )

    def _component_flags(self, client: str) -> list[str]:
        """Flags controller-manager and scheduler share: one identity for all three kubeconfigs."""
        kubeconfig = str(self.run_dir / f"{client}.kubeconfig")
        return [
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            "--v=1",
        ]

    def _controller_manager(self) -> process.Started:
        p = self.pki_dir
        return self._start(
            "kube-controller-manager",
            [
                str(self.bins["kube-controller-manager"]),
                *self._component_flags("controller-manager"),
                f"--service-account-private-key-file={p / 'sa.key'}",
                f"--root-ca-file={p / 'ca.crt'}",
                "--use-service-account-credentials=true",
                "--controllers=*,-nodeipam",
            ],
        )

    def _scheduler(self) -> process.Started:
        return self._start(
            "kube-scheduler", [str(self.bins["kube-scheduler"]), *self._component_flags("scheduler")]
        )

    def _kwok(self) -> process.Started:
        return self._start(
            "kwok",
            [
                str(self.bins["kwok"]),
                f"--kubeconfig={self.run_dir / 'kwok.kubeconfig'}",
                f"--config={self.run_dir / 'kwok-stages.yaml'}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                f"--cidr={topology.POD_CIDR}",
                "--node-lease-duration-seconds=40",
                "--server-address=127.0.0.1:10247",
            ],
        )

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.pki_dir / "ca.crt"))
        context.load_cert_chain(str(self.pki_dir / "admin.crt"), str(self.pki_dir / "admin.key"))
        return context

    def get(self, path: str, timeout: float = 5) -> bytes:
        """GET a path from the API server as the admin, from the root namespace."""
        with urllib.request.urlopen(
            self.server_from_host + path, context=self._context(), timeout=timeout
        ) as r:
            body: bytes = r.read()
            return body

    def ready(self) -> bool:
        """Tell whether the API server answers /readyz with ok."""
        try:
            return self.get("/readyz") == b"ok"
        except (OSError, urllib.error.URLError):
            return False

    def version(self) -> str:
        """The API server's gitVersion."""
        return str(json.loads(self.get("/version"))["gitVersion"])
