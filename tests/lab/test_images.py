"""The lab's images are built locally and cached, and the daemons' image runs as the install role runs it.

The images come from lab/images.py (Debian base from the mirror, the pause image from
Kubernetes' pause.c, the daemons' image from the Containerfile). The daemons' image is then
run for real with podman, inside the lab's node namespaces, with the arguments and security
settings the install role's controller Deployment and speaker DaemonSet give it (rendered
from the role's templates and defaults) and the in-cluster configuration kubelet would give
them (ServiceAccount token and CA mounted, API server in the environment): the controller
allocates an IP to a LoadBalancer Service and the speaker, with its engine child process,
answers ARP for it from the wire. Containers are removed at the end, also when a test fails.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from lab import images, lifecycle
from lab.daemons import service_account_kubeconfig
from lab.state import LabState
from tests.lab import controller_harness, speaker_harness
from tests.lab.controller_harness import service_manifest, unique, wait_for
from tests.lab.speaker_harness import POOL4, answering_nodes

controller_config = controller_harness.controller_config
cluster = controller_harness.cluster
speaker_config = speaker_harness.speaker_config
l2 = speaker_harness.l2

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "install"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
KUBECONFIG = "/etc/baremetal-lb/kubeconfig"


@pytest.mark.parametrize(
    ("sources", "mirror"),
    [
        (
            "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n\n"
            "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n",
            "http://mirror.example/debian",
        ),
        ("deb [arch=amd64] https://mirror.example/debian bookworm main\n", "https://mirror.example/debian"),
        ("deb http://mirror.example/ubuntu noble main\n", "http://deb.debian.org/debian"),
    ],
)
def test_mmdebstrap_uses_the_mirror_apt_uses(tmp_path, monkeypatch, sources, mirror):
    monkeypatch.delenv("BMLB_DEBIAN_MIRROR", raising=False)
    path = tmp_path / "sources"
    path.write_text(sources)
    assert images.debian_mirror([path]) == mirror


@pytest.fixture(scope="module")
def built() -> images.Result:
    """The images, built now or found in the cache."""
    return images.ensure_all(log=True)


def test_images_are_cached_and_exported_as_oci_archives(built, capsys):
    again = images.ensure_all(log=True)
    assert again.built == [], f"a second call rebuilt {again.built}"
    assert "cached, nothing to build" in capsys.readouterr().out
    assert set(again.images) == {"base", "pause", "daemons"}
    for name, image in again.images.items():
        index = json.loads(
            subprocess.run(
                ["tar", "-xOf", image.archive, "index.json"], capture_output=True, check=True
            ).stdout
        )
        manifest = index["manifests"][0]
        assert manifest["digest"] == image.digest, name
        assert manifest["annotations"]["org.opencontainers.image.ref.name"] == image.ref, name
    assert again.images["daemons"].ref == _role_defaults()["install_image"]


@pytest.mark.parametrize(
    ("image", "argv", "expected"),
    [
        ("pause", ["-v"], "pause.c v"),
        ("base", ["python", "-c", "import http.server, ssl, sys; print(sys.version_info[:2])"], "(3, 11)"),
        ("daemons", [], "usage:"),  # the image's own CMD: --help
        ("daemons", ["controller", "--help"], "usage:"),
    ],
)
def test_each_image_runs(built, image, argv, expected):
    ref = built.images[image].ref
    out = images.podman("run", "--rm", "--network=none", ref, *argv)
    images.remove_cgroups()
    assert expected in out.stdout + out.stderr


# -- the daemons' image as the install role runs it ------------------------------------------------


def _role_defaults() -> dict[str, Any]:
    defaults: dict[str, Any] = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    return defaults


def _role_pod(template: str) -> dict[str, Any]:
    """The pod spec of the role's Deployment or DaemonSet, rendered with the role's defaults."""
    text = jinja2.Template((ROLE / "templates" / template).read_text()).render(**_role_defaults())
    pod: dict[str, Any] = yaml.safe_load(text)["spec"]["template"]["spec"]
    return pod


def _podman_flags(pod: dict[str, Any], node: str) -> list[str]:
    """podman run flags that give the container what the pod spec asks of its runtime."""
    container = pod["containers"][0]
    security = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
    flags = [f"--user={security['runAsUser']}"]
    if security.get("readOnlyRootFilesystem"):
        flags += ["--read-only", "--read-only-tmpfs=false"]  # no writable /tmp either, as in a pod
    if security.get("allowPrivilegeEscalation") is False:
        flags.append("--security-opt=no-new-privileges")
    capabilities = security.get("capabilities", {})
    flags += [f"--cap-drop={c.lower()}" for c in capabilities.get("drop", [])]
    flags += [f"--cap-add={c.lower()}" for c in capabilities.get("add", [])]
    downward = {"spec.nodeName": node, "metadata.namespace": _role_defaults()["install_namespace"]}
    for env in container.get("env", []):
        field = env.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        assert field in (None, *downward), f"the test does not know how to fill {field}"
        flags.append(f"--env={env['name']}={downward[field] if field else env['value']}")
    return flags


class Containers:
    """Daemons' containers of one test; all removed by :meth:`remove_all`."""

    def __init__(self, lab: LabState, ref: str, accounts: dict[str, Path], server: str) -> None:
        self.lab = lab
        self.ref = ref
        self.accounts = accounts  # ServiceAccount -> directory with its token, ca.crt, namespace
        self.host, _colon, self.port = server.removeprefix("https://").rpartition(":")
        self.names: list[str] = []

    def run(self, template: str, node: str, kubeconfig: Path | None = None) -> str:
        """Start the role's container of ``template`` in ``node``'s network namespace; its name.

        With ``kubeconfig`` the daemon gets that file (``--kubeconfig``) instead of the in-cluster
        configuration.
        """
        pod = _role_pod(template)
        name = f"bmlb-test-{uuid.uuid4().hex[:8]}-{template.split('.', maxsplit=1)[0]}"
        self.names.append(name)
        if kubeconfig:
            login = [f"--volume={kubeconfig}:{KUBECONFIG}:ro"]
            args = [f"--kubeconfig={KUBECONFIG}"]
        else:  # in-cluster configuration, as kubelet gives a pod: the ServiceAccount's files and
            # the API server's address in the environment
            login = [
                f"--volume={self.accounts[pod['serviceAccountName']]}:{SERVICE_ACCOUNT_DIR}:ro",
                f"--env=KUBERNETES_SERVICE_HOST={self.host}",
                f"--env=KUBERNETES_SERVICE_PORT={self.port}",
            ]
            args = []
        images.podman(
            "run", "--detach", f"--name={name}",
            f"--network=ns:/run/netns/{self.lab.hosts[node]['netns']}",
            *login, *_podman_flags(pod, node), self.ref, *pod["containers"][0]["args"], *args,
        )  # fmt: skip
        return name

    def ready(self, name: str, node: str) -> bool:
        """True when the daemon's /readyz (the role's health port, in the node's namespace)
        answers 200; fails with the container's logs when it stopped."""
        state = images.podman("inspect", "--format={{.State.Status}}", name).stdout.strip()
        assert state == "running", f"container {name} is {state}:\n{self.logs(name)[-3000:]}"
        url = f"http://127.0.0.1:{_role_defaults()['install_health_port']}/readyz"
        curl = ["curl", "-sf", "-o", "/dev/null", "--max-time", "2", url]
        ns = self.lab.hosts[node]["netns"]
        return (
            subprocess.run(
                ["ip", "netns", "exec", ns, *curl], capture_output=True, timeout=10, check=False
            ).returncode
            == 0
        )

    def processes(self, name: str) -> list[tuple[int, str]]:
        """(uid, command line) of the container's main process and its children, from the host's /proc."""
        pid = images.podman("inspect", "--format={{.State.Pid}}", name).stdout.strip()
        children = subprocess.run(
            ["pgrep", "-P", pid], capture_output=True, text=True, check=False
        ).stdout.split()
        return [(_status_field(each, "Uid"), _cmdline(each)) for each in [pid, *children]]

    def capabilities(self, name: str) -> int:
        """The effective capability set of the container's main process."""
        pid = images.podman("inspect", "--format={{.State.Pid}}", name).stdout.strip()
        return _status_field(pid, "CapEff", base=16)

    def logs(self, name: str) -> str:
        """What the container logged."""
        out = images.podman("logs", name, check=False)
        return out.stdout + out.stderr

    def remove_all(self) -> None:
        """Stop and remove every container of the test (the finalizer)."""
        for name in self.names:
            images.podman("rm", "--force", "--time=5", name, check=False)


def _status_field(pid: str, field: str, base: int = 10) -> int:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith(f"{field}:"))
    return int(line.split()[1], base)


def _cmdline(pid: str) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()


@pytest.fixture()
def containers(
    lab: LabState, built: images.Result, controller_config: Path, speaker_config: Path, tmp_path: Path
) -> Iterator[Containers]:
    """Run the daemons' image; every container is removed afterwards, also on failure."""
    accounts = {}
    for account in ("controller", "speaker"):
        # What kubelet mounts for a pod's ServiceAccount, readable by the controller's user 65534.
        kubeconfig = yaml.safe_load(
            service_account_kubeconfig(
                lifecycle.api_client(lab), lab, account, tmp_path / account
            ).read_text()
        )
        files = tmp_path / f"{account}-serviceaccount"
        files.mkdir(mode=0o755)
        (files / "token").write_text(kubeconfig["users"][0]["user"]["token"])
        (files / "ca.crt").write_bytes(
            base64.b64decode(kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"])
        )
        (files / "namespace").write_text("metallb-system")
        for path in files.iterdir():
            path.chmod(0o644)
        accounts[account] = files
    server = kubeconfig["clusters"][0]["cluster"]["server"]
    group = Containers(lab, built.images["daemons"].ref, accounts, server)
    try:
        yield group
    finally:
        group.remove_all()
        leftover = images.podman("ps", "--all", "--quiet", "--filter=name=bmlb-test-", check=False).stdout
        assert not leftover.strip(), f"containers left behind: {leftover}"
        # conmon may still be leaving its cgroup when `podman rm` returns.
        wait_for("podman's cgroups to empty", lambda: not images.remove_cgroups(), timeout=10)


def _started(
    containers: Containers, template: str, node: str, kubeconfig: Path | None = None
) -> tuple[str, float]:
    """Run the role's container on ``node``, wait until it is ready; its name and the seconds it took."""
    started = time.monotonic()
    name = containers.run(template, node, kubeconfig)
    wait_for(f"{name} to be ready", lambda: containers.ready(name, node), timeout=120, interval=0.1)
    return name, time.monotonic() - started


_CAP_NET_RAW = 13


def test_daemons_image_allocates_and_announces_as_the_role_runs_it(lab, cluster, l2, containers, namespace):
    pool = cluster.create_pool(unique("img"), [POOL4])
    l2.advertise(unique("img"), ipAddressPools=[pool])
    controller, controller_seconds = _started(containers, "controller.yaml.j2", "node2")
    assert containers.processes(controller)[0][0] == 65534
    assert containers.capabilities(controller) == 0

    l2.deploy(namespace, "web", node="node1")
    cluster.create_service(namespace, service_manifest("web"))
    vip = cluster.wait_ips(namespace, "web", timeout=60)[0]

    speaker, speaker_seconds = _started(containers, "speaker.yaml.j2", "node1")
    processes = containers.processes(speaker)
    assert any(cmd.endswith("speaker.layer2.engine") for _uid, cmd in processes[1:]), processes
    assert containers.capabilities(speaker) == 1 << _CAP_NET_RAW
    # Only node1 runs a speaker, so node1 answers ARP for the VIP on the lab's wire.
    wait_for(f"node1 to answer ARP for {vip}", lambda: answering_nodes(lab, vip) == ["node1"], timeout=30)
    print(f"container start to ready: controller {controller_seconds:.1f}s, speaker {speaker_seconds:.1f}s")


def test_a_kubeconfig_with_embedded_certificates_works_on_the_read_only_root(
    lab, cluster, containers, tmp_path
):
    # Host mode's kind of kubeconfig (token, certificate-authority-data): the kubernetes client
    # would write the CA to a temp file, which the read-only root without /tmp refuses.
    kubeconfig = service_account_kubeconfig(lifecycle.api_client(lab), lab, "controller", tmp_path / "kc")
    assert "certificate-authority-data" in kubeconfig.read_text()
    kubeconfig.chmod(0o644)  # readable by the controller's user 65534
    controller, seconds = _started(containers, "controller.yaml.j2", "node2", kubeconfig)
    logs = containers.logs(controller)
    assert "Read-only file system" not in logs and "Traceback" not in logs, logs[-3000:]
    print(f"controller with a kubeconfig ready in {seconds:.1f}s")
