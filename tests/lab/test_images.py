"""The lab's images are built locally and cached, each does its job, and they load into containerd.

The images come from lab/images.py (Debian base from the mirror, the pause image from
Kubernetes' pause.c, the daemons' image from the Containerfile, the walk-through's echo-hname
and echo-ip, kube-proxy, the AWX execution environment). The demo images answer HTTP from a lab
node's namespace to the lab's client; kube-proxy's has the lab's release and the netfilter tools
it calls; the execution environment holds ansible-core and the collections (the AWX test,
test_awx_runner.py, runs playbooks in it). The archives import into a containerd of the lab's
own build as kubelet's runtime would hold them.

The daemons' image is run for real with podman, inside the lab's node namespaces, with the
arguments and security settings the install role's controller Deployment and speaker DaemonSet
give it (rendered from the role's templates and defaults) and the in-cluster configuration
kubelet would give them (ServiceAccount token and CA mounted, API server in the environment):
the controller allocates an IP to a LoadBalancer Service and the speaker, with its engine child
process, answers ARP for it from the wire. Containers and processes are removed at the end,
also when a test fails.
"""

from __future__ import annotations

import ast
import base64
import json
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from ansible.plugins.filter.core import FilterModule
from kubernetes import client

from lab import build, ee, images, lifecycle
from lab.containers import podman, remove_cgroups
from lab.imagebuild import debian_mirror
from lab.service_accounts import service_account_kubeconfig
from lab.state import LabState
from tests.lab.controller_harness import service_manifest, unique, wait_for
from tests.lab.speaker_harness import POOL4, answering_nodes

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
    assert debian_mirror([path]) == mirror


@pytest.fixture(scope="module")
def built() -> images.Result:
    """The images, built now or found in the cache."""
    return images.ensure_all(log=True)


def test_images_are_cached_and_exported_as_oci_archives(built, capsys):
    again = images.ensure_all(log=True)
    assert again.built == [], f"a second call rebuilt {again.built}"
    assert "cached, nothing to build" in capsys.readouterr().out
    assert set(again.images) == {"base", "pause", "daemons", "echo-hname", "echo-ip", "kube-proxy", "ee"}
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
    out = podman("run", "--rm", "--network=none", ref, *argv)
    remove_cgroups()
    assert expected in out.stdout + out.stderr


KUBERNETES_VERSION = next(c for c in build.COMPONENTS if c.name == "kubernetes").version()


def test_the_labs_kube_proxy_daemonset_runs_the_built_kube_proxy(built, kube):
    daemonset = client.AppsV1Api(kube).read_namespaced_daemon_set("kube-proxy", "kube-system")
    container = daemonset.spec.template.spec.containers[0]
    assert container.image == built.images["kube-proxy"].ref
    assert container.image == f"registry.k8s.io/kube-proxy:{KUBERNETES_VERSION}"  # as kubeadm names it
    out = podman("run", "--rm", "--network=none", container.image, container.command[0], "--version")
    remove_cgroups()
    assert out.stdout.strip() == f"Kubernetes {KUBERNETES_VERSION}"


def test_kube_proxy_image_has_the_netfilter_tools_kube_proxy_calls(built):
    """nft (nftables mode), iptables (iptables mode) and conntrack work against the kernel, in the
    container's own network namespace (gone with the container)."""
    script = (
        "nft --version && iptables --version && conntrack --version"
        " && nft add table inet bmlb_probe && nft list tables && iptables -S INPUT"
    )
    out = podman(
        "run", "--rm", "--network=none", "--cap-drop=all", "--cap-add=net_admin",
        built.images["kube-proxy"].ref, "sh", "-c", script,
    )  # fmt: skip
    remove_cgroups()
    assert "table inet bmlb_probe" in out.stdout
    assert "-P INPUT ACCEPT" in out.stdout
    assert "conntrack v1" in out.stdout + out.stderr


def test_ee_holds_ansible_and_the_collections_under_test(built):
    ref = built.images["ee"].ref
    listing = json.loads(
        podman(
            "run", "--rm", "--network=none", ref, "ansible-galaxy", "collection", "list", "--format=json"
        ).stdout
    )
    versions = {name: c["version"] for found in listing.values() for name, c in found.items()}
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    pinned = yaml.safe_load((REPO / "requirements" / "ee-collections.yml").read_text())["collections"]
    assert versions["baremetal.lb"] == galaxy["version"]
    for collection in pinned:
        assert f"=={versions[collection['name']]}" == collection["version"], collection["name"]
    # The collection is this checkout's, not a release's.
    defaults = (
        "/usr/share/ansible/collections/ansible_collections/baremetal/lb/roles/install/defaults/main.yml"
    )
    inside = podman("run", "--rm", "--network=none", ref, "cat", defaults).stdout
    assert inside == (ROLE / "defaults" / "main.yml").read_text()
    core = podman("run", "--rm", "--network=none", ref, "ansible-playbook", "--version").stdout
    remove_cgroups()
    assert re.search(r"^ansible-playbook \[core (\S+)\]", core, re.MULTILINE)[1] == _pin("ansible-core")


def _pin(package: str) -> str:
    for line in (REPO / "requirements" / "dev.txt").read_text().splitlines():
        if line.startswith(f"{package}=="):
            return line.partition("==")[2].strip()
    raise AssertionError(f"requirements/dev.txt does not pin {package}")


def test_the_labs_ee_is_the_repositorys_definition_made_offline(tmp_path):
    repository = yaml.safe_load(ee.DEFINITION.read_text())
    tarball = tmp_path / "ns-name-1.0.0.tar.gz"
    lab = ee.definition("localhost/some/base:1", [tarball])
    assert lab["images"]["base_image"]["name"] == "localhost/some/base:1"
    for pinned in ("ansible_core", "ansible_runner", "python_interpreter"):
        assert lab["dependencies"][pinned] == repository["dependencies"][pinned], pinned
    assert Path(lab["dependencies"]["python"]) == REPO / repository["dependencies"]["python"]
    assert lab["dependencies"]["galaxy"] == {
        "collections": [{"name": f"/build/collections/{tarball.name}", "type": "file"}]
    }
    assert lab["options"]["tags"] == [ee.ref()] == [f"localhost/{repository['options']['tags'][0]}"]


# -- the demo images answer from a lab node --------------------------------------------------------


@pytest.fixture()
def run_in_lab(lab: LabState, built: images.Result) -> Iterator[Callable[..., str]]:
    """``run(image, host, *flags)`` starts a built image in a lab host's network namespace and
    returns the container's name; every container is removed afterwards, also on failure."""
    names: list[str] = []

    def run(image: str, host: str, *flags: str) -> str:
        name = unique("bmlb-test")
        names.append(name)
        netns = lab.hosts[host]["netns"]
        podman(
            "run",
            "--detach",
            f"--name={name}",
            f"--network=ns:/run/netns/{netns}",
            *flags,
            built.images[image].ref,
        )
        return name

    try:
        yield run
    finally:
        _remove_containers(names)


def _get(lab: LabState, url: str) -> tuple[str, str, str] | None:
    """One GET from the lab's client: (body, the client's address, its port); None when nothing answered."""
    argv = ["curl", "-sS", "--max-time", "2", "-w", "\n%{local_ip} %{local_port}", url]
    out = lab.exec("client", argv, check=False)
    body, _newline, local = out.rpartition("\n")
    if not body:
        return None
    address, port = local.split()
    return body, address, port


def _url(address: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{images.ECHO_PORT}/"


def _uid(name: str) -> int:
    pid = podman("inspect", "--format={{.State.Pid}}", name).stdout.strip()
    return _status_field(pid, "Uid")


def test_echo_hname_answers_with_its_pod_name(lab, run_in_lab):
    pod = unique("echo-hname")
    name = run_in_lab("echo-hname", "node1", f"--hostname={pod}")
    url = _url(lab.hosts["node1"]["ipv4"])
    body, _address, _port = wait_for(
        f"echo-hname on node1 to answer {url}", lambda: _get(lab, url), timeout=30
    )
    assert body == f"{pod}\n"
    assert _uid(name) == 65534, "the demo images run as nobody"


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_echo_ip_answers_with_the_requests_source_and_its_own_ip(lab, run_in_lab, family):
    pod = unique("echo-ip")
    run_in_lab("echo-ip", "node2", f"--hostname={pod}")
    own = lab.hosts["node2"][family]
    body, address, port = wait_for(
        f"echo-ip on node2 to answer {_url(own)}", lambda: _get(lab, _url(own)), timeout=30
    )
    client_address = lab.hosts["client"][family]
    assert address == client_address
    source = f"[{client_address}]:{port}" if ":" in client_address else f"{client_address}:{port}"
    assert body == f"source={source} pod_ip={own} pod={pod}\n"


# -- into a node's containerd ----------------------------------------------------------------------

# A containerd of its own: everything under one temporary directory, CRI and NRI off.
CONTAINERD_CONFIG = """\
version = 3
root = "{root}/root"
state = "{root}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images",
                    "io.containerd.cri.v1.runtime", "io.containerd.nri.v1.nri"]
[grpc]
  address = "{root}/containerd.sock"
[ttrpc]
  address = "{root}/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{root}/opt"
"""


@pytest.fixture()
def containerd() -> Iterator[tuple[Path, Path]]:
    """(ctr, socket) of a throwaway containerd of the lab's build; stopped by its PID, its files removed."""
    binaries = build.ensure_all(log=False)
    assert "containerd" in binaries, "the lab's build has no containerd (lab/build.py COMPONENTS)"
    root = Path(tempfile.mkdtemp(prefix="bmlb-ctrd-"))  # short: a socket path has 107 bytes at most
    (root / "config.toml").write_text(CONTAINERD_CONFIG.format(root=root))
    socket = root / "containerd.sock"
    log = root / "containerd.log"
    ctr = binaries["ctr"]
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(binaries["containerd"]), "--config", str(root / "config.toml")], stdout=out, stderr=out
        )

    def answers() -> bool:
        assert proc.poll() is None, f"containerd exited:\n{log.read_text()[-3000:]}"
        version = [str(ctr), "--address", str(socket), "version"]
        return subprocess.run(version, capture_output=True, check=False, timeout=10).returncode == 0

    try:
        wait_for(f"the throwaway containerd to answer on {socket}", answers, timeout=30)
        yield ctr, socket
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        mounted = [line for line in Path("/proc/mounts").read_text().splitlines() if str(root) in line]
        assert not mounted, f"containerd left mounts behind: {mounted}"
        shutil.rmtree(root)


def test_images_load_into_containerd_under_their_names(built, containerd):
    ctr, socket = containerd
    names = ["pause", "echo-hname", "echo-ip", "kube-proxy"]
    assert images.load_into_containerd(ctr, socket, names) == names
    check = [str(ctr), "--address", str(socket), "--namespace", "k8s.io", "images", "check"]
    listing = subprocess.run(check, capture_output=True, text=True, check=True).stdout
    rows = {row[0]: row for row in (line.split() for line in listing.splitlines()[1:])}
    for name in names:
        image = built.images[name]
        assert image.ref in rows, f"{image.ref} is not in containerd:\n{listing}"
        assert rows[image.ref][2] == image.digest, name
        assert rows[image.ref][3] == "complete", name
        assert rows[image.ref][-1] == "true", f"{name} is not unpacked for the snapshotter"
    assert images.load_into_containerd(ctr, socket, names) == [], "a second load imported again"


# -- the daemons' image as the install role runs it ------------------------------------------------


def _role_defaults() -> dict[str, Any]:
    defaults: dict[str, Any] = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    return defaults


def _role_variables() -> dict[str, Any]:
    """The role's defaults, and its vars (Jinja expressions over them) evaluated as Ansible would."""
    variables = _role_defaults()
    environment = jinja2.Environment(autoescape=False)
    environment.filters.update(FilterModule().filters())
    for name, expression in yaml.safe_load((ROLE / "vars" / "main.yml").read_text()).items():
        variables[name] = ast.literal_eval(environment.from_string(expression).render(**variables))
    return variables


def _role_pod(template: str) -> dict[str, Any]:
    """The pod spec of the role's Deployment or DaemonSet, rendered with the role's defaults and vars."""
    text = jinja2.Template((ROLE / "templates" / template).read_text()).render(**_role_variables())
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
    downward = {
        "spec.nodeName": node,
        "metadata.namespace": _role_defaults()["install_namespace"],
        # No Pod runs the container here: its objects are owner-less, as in host mode.
        "metadata.name": "",
        "metadata.uid": "",
    }
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
        podman(
            "run", "--detach", f"--name={name}",
            f"--network=ns:/run/netns/{self.lab.hosts[node]['netns']}",
            *login, *_podman_flags(pod, node), self.ref, *pod["containers"][0]["args"], *args,
        )  # fmt: skip
        return name

    def ready(self, name: str, node: str) -> bool:
        """True when the daemon's /readyz (the role's health port, in the node's namespace)
        answers 200; fails with the container's logs when it stopped."""
        state = podman("inspect", "--format={{.State.Status}}", name).stdout.strip()
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
        pid = podman("inspect", "--format={{.State.Pid}}", name).stdout.strip()
        children = subprocess.run(
            ["pgrep", "-P", pid], capture_output=True, text=True, check=False
        ).stdout.split()
        return [(_status_field(each, "Uid"), _cmdline(each)) for each in [pid, *children]]

    def capabilities(self, name: str) -> int:
        """The effective capability set of the container's main process."""
        pid = podman("inspect", "--format={{.State.Pid}}", name).stdout.strip()
        return _status_field(pid, "CapEff", base=16)

    def logs(self, name: str) -> str:
        """What the container logged."""
        out = podman("logs", name, check=False)
        return out.stdout + out.stderr


def _remove_containers(names: list[str]) -> None:
    """Stop and remove a test's containers, and the cgroups podman left for them.

    Other labs on the machine may run containers under the same cgroup parent at the same time,
    so only the cgroups named after this test's containers must go.
    """
    ids = [podman("inspect", "--format={{.Id}}", name, check=False).stdout.strip() for name in names]
    for name in names:
        podman("rm", "--force", "--time=5", name, check=False)
    leftover = podman("ps", "--all", "--quiet", "--filter=name=bmlb-test-", check=False).stdout
    assert not leftover.strip(), f"containers left behind: {leftover}"

    def ours_gone() -> bool:
        busy = remove_cgroups()
        return not [path for path in busy for each in ids if each and each in path.name]

    # conmon may still be leaving its cgroup when `podman rm` returns.
    wait_for("the test containers' cgroups to go", ours_gone, timeout=10)


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
        _remove_containers(group.names)


def _started(
    containers: Containers, template: str, node: str, kubeconfig: Path | None = None
) -> tuple[str, float]:
    """Run the role's container on ``node``, wait until it is ready; its name and the seconds it took."""
    started = time.monotonic()
    name = containers.run(template, node, kubeconfig)
    wait_for(f"{name} to be ready", lambda: containers.ready(name, node), timeout=120, interval=0.1)
    return name, time.monotonic() - started


_CAP_NET_RAW, _CAP_SYS_NICE = 13, 23  # raw sockets; the layer-2 engine's real-time priority


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
    assert containers.capabilities(speaker) == 1 << _CAP_NET_RAW | 1 << _CAP_SYS_NICE
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
