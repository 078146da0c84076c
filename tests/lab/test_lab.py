"""The lab itself: a real API server with RBAC and CRD validation, fake nodes that run
Deployments, a LAN that carries packets, routers that speak BGP, and a clean teardown."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from lab import (
    build,
    images,
    lifecycle,
    machine_lock,
    machine_sysctls,
    netns,
    node_runtime,
    process,
    rib,
    routers,
    topology,
)
from lab.state import LabState
from tests.lab.lock_holder import another_lab_holding, release_on_first_wait

REPO = Path(__file__).resolve().parents[2]
# Below net.ipv4.ip_local_port_range (32768-60999): containerd's stream server and every client
# socket in node1 take random ports from that range, and a gobgpd whose port is taken exits.
NODE_GOBGP_API = "127.0.0.1:20052"


def _wait(what: str, check, timeout: float = 30) -> None:
    process.wait_until(what, check, timeout)


# --- control plane -------------------------------------------------------------------------


def test_api_server_is_the_pinned_release(kube, lab):
    assert client.VersionApi(kube).get_code().git_version == "v1.37.2"
    assert lab.data["kubernetes_version"] == "v1.37.2"


def test_rbac_is_enforced(kube, namespace, kubectl):
    core = client.CoreV1Api(kube)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "reader"}})
    token = kubectl("create", "token", "reader", "-n", namespace).stdout.strip()
    as_reader = client.ApiClient(_token_config(kube, token))
    reader = client.CoreV1Api(as_reader)

    with pytest.raises(client.ApiException) as denied:
        reader.list_namespaced_secret(namespace)
    assert denied.value.status == 403

    rbac = client.RbacAuthorizationV1Api(kube)
    rbac.create_namespaced_role(
        namespace,
        {
            "metadata": {"name": "read-secrets"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}],
        },
    )
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "reader-reads-secrets"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-secrets"},
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}],
        },
    )
    _wait("the new RoleBinding to take effect", lambda: _can_list_secrets(reader, namespace))
    with pytest.raises(client.ApiException) as still_denied:
        reader.list_namespaced_config_map(namespace)
    assert still_denied.value.status == 403


def _token_config(kube: client.ApiClient, token: str) -> client.Configuration:
    cfg = client.Configuration()
    cfg.host = kube.configuration.host
    cfg.ssl_ca_cert = kube.configuration.ssl_ca_cert
    cfg.api_key = {"authorization": f"Bearer {token}"}
    return cfg


def _can_list_secrets(api: client.CoreV1Api, namespace: str) -> bool:
    try:
        api.list_namespaced_secret(namespace)
    except client.ApiException:
        return False
    return True


WIDGET_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.labtest.example.com}
spec:
  group: labtest.example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1}
              min: {type: integer}
              max: {type: integer}
            x-kubernetes-validations:
            - rule: "!has(self.min) || !has(self.max) || self.min <= self.max"
              message: "spec.min must not exceed spec.max"
"""


def test_crd_schema_and_cel_are_enforced(kubectl, namespace):
    kubectl("apply", "--server-side", "-f", "-", stdin=WIDGET_CRD)
    kubectl("wait", "--for=condition=Established", "crd/widgets.labtest.example.com", "--timeout=30s")

    def widget(spec: dict) -> str:
        obj = {"apiVersion": "labtest.example.com/v1", "kind": "Widget"}
        obj["metadata"] = {"name": f"w-{uuid.uuid4().hex[:6]}", "namespace": namespace}
        obj["spec"] = spec
        return yaml.safe_dump(obj)

    assert kubectl("create", "-f", "-", stdin=widget({"size": 2, "min": 1, "max": 3})).returncode == 0
    wrong_type = kubectl("create", "-f", "-", stdin=widget({"size": "big"}), check=False)
    assert wrong_type.returncode != 0 and "spec.size" in wrong_type.stderr
    below_minimum = kubectl("create", "-f", "-", stdin=widget({"size": 0}), check=False)
    assert below_minimum.returncode != 0 and "should be greater than or equal to 1" in below_minimum.stderr
    cel = kubectl("create", "-f", "-", stdin=widget({"size": 1, "min": 5, "max": 2}), check=False)
    assert cel.returncode != 0 and "spec.min must not exceed spec.max" in cel.stderr


# --- nodes and workloads -------------------------------------------------------------------


def test_nodes_carry_the_lab_addresses(kube, lab):
    nodes = {n.metadata.name: n for n in client.CoreV1Api(kube).list_node().items}
    assert sorted(nodes) == sorted(lab.nodes)
    for name, node in nodes.items():
        internal = {a.address for a in node.status.addresses if a.type == "InternalIP"}
        assert internal == {lab.hosts[name]["ipv4"], lab.hosts[name]["ipv6"]}
        assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)


def test_deployment_becomes_available_with_endpoint_slices(kubectl, kube, namespace):
    image = images.echo_ref("echo-hname")
    kubectl("create", "deployment", "web", f"--image={image}", "--replicas=3", "--port=8080", "-n", namespace)
    kubectl("expose", "deployment", "web", "--port=80", "-n", namespace)
    kubectl("wait", "--for=condition=Available", "deployment/web", "-n", namespace, "--timeout=60s")

    def ready_endpoints() -> int:
        slices = client.DiscoveryV1Api(kube).list_namespaced_endpoint_slice(
            namespace, label_selector="kubernetes.io/service-name=web"
        )
        return sum(1 for s in slices.items for e in s.endpoints or [] if e.conditions and e.conditions.ready)

    _wait("three ready endpoints", lambda: ready_endpoints() == 3)
    pods = client.CoreV1Api(kube).list_namespaced_pod(namespace).items
    assert {p.spec.node_name for p in pods} <= set(topology_nodes(kube))
    assert all(p.status.pod_ip.startswith("203.0.113.") for p in pods)


def topology_nodes(kube: client.ApiClient) -> list[str]:
    return [n.metadata.name for n in client.CoreV1Api(kube).list_node().items]


# --- network -------------------------------------------------------------------------------


def test_lab_json_matches_the_real_interfaces(lab):
    for name, host in lab.hosts.items():
        assert netns.mac_of(host["netns"], host["interface"]) == host["mac"], name
        addrs = lab.exec(name, ["ip", "-j", "addr", "show", "dev", host["interface"]])
        local = {a["local"] for link in json.loads(addrs) for a in link["addr_info"]}
        assert {host["ipv4"], host["ipv6"]} <= local


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_nodes_reach_each_other_and_the_control_plane(lab, family):
    for source in lab.nodes:
        for target in [*lab.nodes, "cp", "client"]:
            if target == source:
                continue
            address = lab.hosts[target][family]
            lab.exec(source, ["ping", "-c", "1", "-W", "2", address])


def test_nodes_reach_the_api_server(lab):
    ca = Path(lab.state_dir, "pki", "ca.crt")
    for node in lab.nodes:
        out = lab.exec(
            node, ["curl", "-sS", "--cacert", str(ca), f"{lab.data['api_server']['from_lab']}/livez"]
        )
        assert out == "ok"


def test_root_namespace_gets_only_the_host_link(lab):
    """Labs add one interface each to the root namespace, with one IPv4 /30 and nothing else.

    (The machine's own interfaces are not the lab's business and are left out.)
    """
    links = json.loads(
        subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=True).stdout
    )
    lab_links = {link["ifname"]: link for link in links if link["ifname"].startswith("bmlb")}
    ours = lab_links[lab.data["root_interface"]]
    assert [(a["local"], a["prefixlen"]) for a in ours["addr_info"]] == [(lab.data["host_link"]["root"], 30)]
    for name, link in lab_links.items():
        assert all(ipaddress.ip_address(a["local"]) in topology.HOST_LINKS for a in link["addr_info"]), name
    routes = json.loads(
        subprocess.run(["ip", "-j", "route"], capture_output=True, text=True, check=True).stdout
    )
    via_lab = [r["dst"] for r in routes if r.get("dev", "").startswith("bmlb")]
    assert all(ipaddress.ip_network(dst).prefixlen == 30 for dst in via_lab)


# --- routers -------------------------------------------------------------------------------


def test_each_router_answers_queries(lab):
    assert "BIRD" in lab.exec("bird", ["birdc", "-s", _bird_socket(lab), "show", "status"])
    frr = json.loads(lab.exec("frr", _vtysh(lab, "show bgp ipv4 unicast json")))
    assert frr["routerId"] == lab.routers["frr"]["ipv4"]
    gobgp = json.loads(lab.exec("gobgp", ["gobgp", "-u", "127.0.0.1", "-p", "50051", "global", "-j"]))
    assert gobgp["asn"] == topology.ROUTERS["gobgp"][1]


def _bird_socket(lab: LabState) -> str:
    return str(Path(lab.state_dir, "routers", "bird", "bird.ctl"))


def _vtysh(lab: LabState, command: str) -> list[str]:
    return ["vtysh", "--vty_socket", str(Path(lab.data["runtime_dir"], "frr")), "-c", command]


@pytest.fixture()
def bgp_node(lab, tmp_path):
    """A throwaway gobgpd in node1's namespace, peering with every lab router."""
    node = lab.hosts["node1"]
    neighbors = "".join(
        f"""
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{r["ipv4"]}"
    peer-as = {r["asn"]}
  [neighbors.timers.config]
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
"""
        for r in lab.routers.values()
    )
    conf = tmp_path / "node-gobgpd.toml"
    conf.write_text(
        f'[global.config]\n  as = {topology.NODE_ASN}\n  router-id = "{node["ipv4"]}"\n'
        f'  port = -1\n  local-address-list = ["{node["ipv4"]}"]\n{neighbors}'
    )
    started = routers.start_gobgpd("node1-gobgpd", node["netns"], conf, NODE_GOBGP_API, tmp_path)
    try:
        yield started
    finally:
        process.stop([started.pid])


def test_routers_learn_a_route_from_a_node(lab, bgp_node):
    gobgp = rib.gobgp_cli(NODE_GOBGP_API)
    prefix = "203.0.113.1/32"

    lab.exec("node1", [*gobgp, "global", "rib", "add", prefix])

    def learned_by_all() -> bool:
        bird = lab.exec(
            "bird", ["birdc", "-s", _bird_socket(lab), "show", "route", "for", prefix], check=False
        )
        frr = json.loads(lab.exec("frr", _vtysh(lab, "show bgp ipv4 unicast json"), check=False) or "{}")
        gob = json.loads(
            lab.exec("gobgp", ["gobgp", "-u", "127.0.0.1", "-p", "50051", "global", "rib", "-j"], check=False)
            or "{}"
        )
        return prefix in bird and prefix in frr.get("routes", {}) and prefix in gob

    _wait("every router to learn 203.0.113.1/32 from node1", learned_by_all, 60)

    # BIRD and FRR put it into their kernel table: the client reaches the pool through FRR.
    # zebra installs it after bgpd has it, so wait for the kernel route itself.
    def frr_kernel_gateways() -> list[str]:
        routes = json.loads(lab.exec("frr", ["ip", "-j", "route", "show", prefix]))
        return [route.get("gateway") for route in routes]

    _wait("FRR's kernel to route 203.0.113.1/32", lambda: bool(frr_kernel_gateways()), 20)
    assert frr_kernel_gateways() == [lab.hosts["node1"]["ipv4"]]


# --- lifecycle -----------------------------------------------------------------------------


START_LOCK_BOUND = 60.0  # s: the longest the second lab's start is kept waiting (it waits one 0.2-s poll)


@pytest.fixture()
def second_lab(tmp_path, capsys, monkeypatch):
    """Another, one-node lab beside the session's, started while a third lab's start holds the
    machine's start lock until this `up` waits for it (and says so, into capsys, which is
    why this fixture asks for it before starting); always removed."""
    state_dir = tmp_path / "second"
    try:
        with another_lab_holding(machine_lock.STARTING, START_LOCK_BOUND) as holder:
            release_on_first_wait(holder, machine_lock.STARTING, monkeypatch)
            state = lifecycle.up(state_dir, node_count=1)
        yield state
    finally:
        lifecycle.down(state_dir)


def test_two_labs_run_side_by_side_up_replaces_a_crashed_one_and_down_leaves_nothing(lab, second_lab, capsys):
    """One second lab (a start costs half a minute) through its whole life: up beside the session's,
    up again while healthy (no change), every process killed, up again (a new lab replaces it),
    down (nothing of either is left, and the session lab is untouched)."""
    waited = f"lab {second_lab.data['lab_id']}: starting: waiting for another lab"
    assert waited in capsys.readouterr().out, "up did not wait for the start lock"
    machine_sysctls_before = second_lab.data["machine_sysctls"]
    assert second_lab.prefix != lab.prefix
    assert second_lab.data["root_interface"] != lab.data["root_interface"]
    state_dir, crashed_prefix, pids = second_lab.state_dir, second_lab.prefix, second_lab.pids()
    assert netns.list_namespaces(crashed_prefix) and all(netns.alive(p) for p in pids)

    # up again on a healthy lab changes nothing
    again = lifecycle.up(state_dir, node_count=1)
    assert again.data["lab_id"] == second_lab.data["lab_id"] and sorted(again.pids()) == sorted(pids)

    # up on a crashed lab replaces it
    for pid in pids:
        os.kill(pid, 9)
    assert not lifecycle.healthy(LabState.load(state_dir))
    fresh = lifecycle.up(state_dir, node_count=1)
    assert fresh.prefix != crashed_prefix and lifecycle.healthy(fresh)
    assert netns.list_namespaces(crashed_prefix) == []

    prefix, pids, root_if = fresh.prefix, fresh.pids(), fresh.data["root_interface"]
    lifecycle.down(state_dir)
    assert netns.list_namespaces(prefix) == []
    assert not any(netns.alive(p) for p in pids)
    assert netns.ip("link", "show", root_if, check=False) == ""
    assert node_runtime.stray_cgroup_roots(prefix) == [], "the node's pods' cgroups are removed"
    assert machine_sysctls.read() == machine_sysctls_before, "kubelet's machine-wide sysctls are restored"
    assert not state_dir.exists()
    assert lifecycle.healthy(lab), "taking one lab down must not touch another"


def test_down_cleans_up_after_an_interrupted_start(tmp_path):
    """SIGKILL `lab up` while it is creating namespaces; `lab down` must still remove everything."""
    state_dir = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [str(REPO / ".venv/bin/python"), "-m", "lab", "--state-dir", str(state_dir), "up", "--nodes", "2"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait("the interrupted lab to create its first namespaces", lambda: _has_namespaces(state_dir), 60)
    finally:
        proc.kill()
        proc.wait()
    prefix = LabState.load(state_dir).prefix
    lifecycle.down(state_dir)
    assert netns.list_namespaces(prefix) == []


def _has_namespaces(state_dir: Path) -> bool:
    state = LabState.load(state_dir)
    return bool(state and netns.list_namespaces(state.prefix))


# --- prerequisites -------------------------------------------------------------------------


def _run_lab(args: list[str], env: dict[str, str] | None = None, user: str | None = None):
    """Run `python -m lab ARGS`, optionally as another (numeric) user."""
    argv = [str(REPO / ".venv/bin/python"), "-m", "lab", "--state-dir", "/tmp/bmlb-never", *args]
    if user:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_without_go_the_lab_says_what_is_missing():
    env = {**os.environ, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    env.pop("GOROOT", None)
    if Path("/usr/bin/go").exists():
        pytest.fail("this test expects Go outside the system PATH (it is at /usr/local/go here)")
    result = _run_lab(["up"], env=env)
    assert result.returncode != 0
    assert "needs Go >= 1.26" in result.stderr and "existing cluster" in result.stderr


def test_without_root_the_lab_says_so():
    result = _run_lab(["up"], user="65534")
    assert result.returncode != 0
    assert "must run as root" in result.stderr


def test_node_count_is_checked():
    with pytest.raises(ValueError, match="between 1 and"):
        topology.check_node_count(0)


def test_kubeconfig_is_self_contained(lab):
    config = yaml.safe_load(lab.kubeconfig.read_text())
    assert "certificate-authority-data" in config["clusters"][0]["cluster"]
    assert config["clusters"][0]["cluster"]["server"] == lab.data["api_server"]["from_host"]


def test_the_env_file_gives_a_shell_the_labs_kubectl_and_crictl(lab):
    env_file = Path(lab.data["env_file"])
    status = subprocess.run(
        [sys.executable, "-m", "lab", "--state-dir", str(lab.state_dir), "status"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert f"source {env_file}" in status
    clean = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    shell = subprocess.run(
        ["bash", "-c", f". {env_file} && command -v kubectl crictl && kubectl get nodes -o name"],
        env=clean,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    kubectl, crictl, *nodes = shell
    built = build.ensure_all(log=False)
    assert (Path(kubectl), Path(crictl)) == (built["kubectl"], built["crictl"])
    assert sorted(nodes) == sorted(f"node/{name}" for name in lab.nodes)
