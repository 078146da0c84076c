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
from functools import partial
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import (
    BFD_PROFILE,
    BGP_ADVERTISEMENT,
    BGP_PEER,
    COMMUNITY,
    GROUP,
    IP_ADDRESS_POOL,
    L2_ADVERTISEMENT,
    MetallbKind,
)
from lab import build, lifecycle, netns, process
from lab.state import LabState
from tests.lab import api_proxy, bgp_harness, controller_harness, speaker_harness
from tests.lab import uncached_apiserver as uncached_harness

# The harnesses' fixtures, for any lab test that names them: a controller and speakers run as
# processes, the cluster's pools, Node labels and L2 or BGP configuration, a served Service over BGP.
controller_config = controller_harness.controller_config
cluster = controller_harness.cluster
label_node = controller_harness.label_node
start_controller = controller_harness.start_controller
speaker_config = speaker_harness.speaker_config
speakers = speaker_harness.speakers
l2 = speaker_harness.l2
bgp = bgp_harness.bgp
serve_web = bgp_harness.serve_web
# A controller behind a proxy the test controls, and an API server without watch cache (for 410).
controller_behind_proxy = api_proxy.controller_behind_proxy
uncached_apiserver_url = uncached_harness.uncached_apiserver_url

REPO = Path(__file__).resolve().parents[2]
CRD_DIR = REPO / "roles" / "install" / "files" / "crds"


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


DAEMON_MARK = "baremetal.lb.daemons"


def daemons_in_lab(state: LabState) -> dict[int, str]:
    """The project's daemon processes (speakers, their engines, hostNetwork pods) in the lab's
    host namespaces: "node: command line" by PID."""
    found = {}
    for host, facts in state.hosts.items():
        for pid in netns.pids_in(facts["netns"]):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            except OSError:  # ended meanwhile
                continue
            if DAEMON_MARK in argv:
                found[pid] = f"{host}: {argv}"
    return found


@pytest.fixture(autouse=True)
def no_daemon_outlives_its_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test that leaves a daemon running in the session lab's namespaces: a leftover
    speaker answers ARP beside the next test's and breaks it, far from the cause."""
    if "lab" not in request.fixturenames:
        yield
        return
    state: LabState = request.getfixturevalue("lab")
    before = set(daemons_in_lab(state))
    yield
    left: dict[int, str] = {}

    def all_gone() -> bool:
        left.clear()
        left.update({pid: what for pid, what in daemons_in_lab(state).items() if pid not in before})
        return not left

    try:
        process.wait_until("the test's daemons to end", all_gone, 15)
    except TimeoutError:  # say what is left, and remove it so the next test starts clean
        process.stop(list(left))
        listing = "\n".join(f"{pid} {what}" for pid, what in left.items())
        pytest.fail(f"daemons outlived the test (now stopped):\n{listing}")


@pytest.fixture(scope="session")
def kube(lab: LabState) -> client.ApiClient:
    """A Kubernetes API client logged in as the lab's admin."""
    return lifecycle.api_client(lab)


@pytest.fixture(scope="module")
def crds(kubectl) -> dict[str, dict]:
    """Apply every metallb.io CRD (server-side, idempotent, never deleted: they are shared) and
    wait until all are Established; returns each CRD document by kind."""
    kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=bmlb-tests", "-f", str(CRD_DIR))
    docs = [d for path in sorted(CRD_DIR.glob("*.yaml")) for d in yaml.safe_load_all(path.read_text()) if d]
    names = [f"crd/{d['metadata']['name']}" for d in docs]
    kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
    return {d["spec"]["names"]["kind"]: d for d in docs}


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


# What `make demo` converges, minus the variables that point at the demo lab's files.
LAB_VARS = {
    k: v
    for k, v in yaml.safe_load((REPO / "inventories" / "lab" / "group_vars" / "all.yml").read_text()).items()
    if k not in ("baremetal_lb_kubeconfig", "lab_state_dir")
}
CONFIG_NAMESPACE = "metallb-system"
# The config role's lists, in the order their objects can be deleted (what refers to others first).
_CONFIG_KINDS: tuple[tuple[MetallbKind, str], ...] = (
    (L2_ADVERTISEMENT, "config_l2_advertisements"),
    (BGP_ADVERTISEMENT, "config_bgp_advertisements"),
    (BGP_PEER, "config_bgp_peers"),
    (COMMUNITY, "config_communities"),
    (BFD_PROFILE, "config_bfd_profiles"),
    (IP_ADDRESS_POOL, "config_pools"),
)


@pytest.fixture(scope="session")
def metallb_namespace(kube: client.ApiClient) -> Iterator[str]:
    """The lab's metallb-system namespace; when the lab has none, created for the session (a
    deleted namespace lingers while it terminates, so it is not made and removed per module)."""
    core = client.CoreV1Api(kube)
    try:
        core.read_namespace(CONFIG_NAMESPACE)
        created = False
    except client.ApiException as missing:
        if missing.status != 404:
            raise
        core.create_namespace({"metadata": {"name": CONFIG_NAMESPACE}})
        created = True
    yield CONFIG_NAMESPACE
    if created:
        core.delete_namespace(CONFIG_NAMESPACE)


@pytest.fixture()
def lab_daemons_stopped_afterwards(lab: LabState) -> Iterator[None]:
    """Stop the daemons a playbook started in the session lab, so later tests run their own."""
    recorded = LabState.load(lab.state_dir)
    assert recorded is not None, f"no lab recorded in {lab.state_dir}"
    before = set(recorded.data.get("daemons", {}))
    yield
    state = LabState.load(lab.state_dir)
    assert state is not None, f"the lab's record in {lab.state_dir} disappeared"
    daemons = state.data.get("daemons", {})
    started = [name for name in daemons if name not in before]
    process.stop([int(daemons[name]["pid"]) for name in started])
    for name in started:
        del daemons[name]
    state.save()


@pytest.fixture()
def installed_daemons_removed_afterwards(kube: client.ApiClient) -> Iterator[None]:
    """Delete the controller Deployment and speaker DaemonSet a playbook installed in the session lab
    and wait (bounded) until their pods are gone, so later tests run their own daemons."""
    yield
    apps, core = client.AppsV1Api(kube), client.CoreV1Api(kube)
    delete_if_present(partial(apps.delete_namespaced_deployment, "controller", CONFIG_NAMESPACE))
    delete_if_present(partial(apps.delete_namespaced_daemon_set, "speaker", CONFIG_NAMESPACE))
    selector = "app=metallb"
    process.wait_until(
        "the installed daemons' pods to be gone",
        lambda: not core.list_namespaced_pod(CONFIG_NAMESPACE, label_selector=selector).items,
        120,
    )


@pytest.fixture()
def lab_config_removed_afterwards(kube: client.ApiClient) -> Iterator[None]:
    """Remove the Services and metallb.io objects the job declares, so later tests start clean."""
    yield
    core = client.CoreV1Api(kube)
    custom = client.CustomObjectsApi(kube)
    for svc in LAB_VARS.get("expose_services", []):
        delete_if_present(
            partial(
                core.delete_namespaced_service,
                svc.get("name", svc["deployment"]),
                svc.get("namespace", "default"),
            )
        )
    for kind, key in _CONFIG_KINDS:
        for obj in LAB_VARS.get(key, []):
            delete_if_present(
                partial(
                    custom.delete_namespaced_custom_object,
                    GROUP,
                    kind.version,
                    CONFIG_NAMESPACE,
                    kind.plural,
                    obj["name"],
                )
            )


def delete_if_present(call: Callable[[], object]) -> None:
    """Run an API delete call; an object already gone (404) is fine."""
    try:
        call()
    except client.ApiException as gone:
        if gone.status != 404:
            raise
