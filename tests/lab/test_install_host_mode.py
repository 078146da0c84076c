"""The install role's host mode against the lab: a venv, the daemons' code, kubeconfigs and
systemd units on every node, and the daemons run from them serve a LoadBalancer IP.

The lab's nodes are network namespaces on this machine, so each "host" is reached with the local
connection and gets its own install prefix. There is no systemd here: the units are written
(`install_host_service_manager: none`), checked with `systemd-analyze verify`, and their
ExecStart lines are run in the nodes' namespaces by the lab (lab/units.py), as systemd would run
them. The playbook is site.yml, run three times: install; then with the lab's pool and its
applications exposed (the expose role waits for the IP the host-mode controller assigns); then
once more, which must change nothing, and once in check mode, which must predict no change.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from lab import units
from lab.ansible_env import VENV_BIN, ansible_env
from lab.probe import who_answers
from lab.state import LabState
from tests.lab.conftest import CONFIG_NAMESPACE, LAB_VARS, REPO
from tests.lab.controller_harness import wait_for
from tests.lab.speaker_harness import predicted_owner

LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}


def _inventory(lab: LabState, root: Path) -> Path:
    in_lab = yaml.safe_load(Path(lab.data["kubeconfig_in_lab"]).read_text())
    nodes = {
        node: {
            **LOCAL,
            "install_host_prefix": str(root / node),
            "install_host_unit_dir": str(root / node / "units"),
        }
        for node in lab.nodes
    }
    inventory = {
        "all": {
            "hosts": {"localhost": LOCAL},
            "vars": {
                "baremetal_lb_kubeconfig": str(lab.kubeconfig),
                "install_mode": "host",
                "install_host_api_server": in_lab["clusters"][0]["cluster"]["server"],
                "install_host_service_manager": "none",
            },
            "children": {"baremetal_lb_nodes": {"hosts": nodes}},
        }
    }
    path = root / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def _site(inventory: Path, extra: dict[str, Any] | None = None, *flags: str) -> dict[str, Any]:
    """Run site.yml; return the play recap's per-host stats (fails with Ansible's output)."""
    env = ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), "playbooks/site.yml", *flags]
    if extra:
        argv += ["--extra-vars", json.dumps(extra)]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
    output = f"{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0, f"site.yml failed ({done.returncode}):\n{output}"
    stats: dict[str, Any] = json.loads(done.stdout)["stats"]
    return stats


def _changed_anywhere(stats: dict[str, Any]) -> dict[str, int]:
    return {host: s["changed"] for host, s in stats.items() if s["changed"]}


def test_host_mode_installs_units_that_serve_a_loadbalancer_ip(
    lab: LabState,
    kube: client.ApiClient,
    tmp_path: Path,
    lab_daemons_stopped_afterwards: None,
    lab_config_removed_afterwards: None,
) -> None:
    inventory = _inventory(lab, tmp_path)
    first = _site(inventory)
    assert set(lab.nodes) <= {h for h, s in first.items() if s["changed"]}, first
    apps = client.AppsV1Api(kube)
    assert not [
        d for d in apps.list_namespaced_deployment(CONFIG_NAMESPACE).items if d.metadata.name == "controller"
    ]
    assert not [
        d for d in apps.list_namespaced_daemon_set(CONFIG_NAMESPACE).items if d.metadata.name == "speaker"
    ]

    controller_units = []
    for node in lab.nodes:
        prefix = tmp_path / node
        assert (prefix / "venv" / "bin" / "python").exists()
        for secret in ("speaker", *(["controller"] if node == lab.nodes[0] else [])):
            assert (prefix / "etc" / f"{secret}.kubeconfig").stat().st_mode & 0o777 == 0o600
        unit_files = sorted((prefix / "units").glob("*.service"))
        verified = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", *map(str, unit_files)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert verified.returncode == 0, verified.stderr
        controller_units += [u for u in unit_files if "controller" in u.name]
        units.start(lab, prefix / "units" / "baremetal-lb-speaker.service", node)
    assert len(controller_units) == 1, f"one controller for the cluster, found {controller_units}"
    units.start(lab, controller_units[0], lab.nodes[0])

    exposed = _site(inventory, LAB_VARS)
    first = LAB_VARS["expose_services"][0]
    name, namespace = first.get("name", first["deployment"]), first["namespace"]
    assert exposed["localhost"]["changed"], f"the pool and {namespace}/{name} were not created"
    status = client.CoreV1Api(kube).read_namespaced_service_status(name, namespace).status
    assert status and status.load_balancer and status.load_balancer.ingress, f"{namespace}/{name} has no IP"
    ips = [str(entry.ip) for entry in status.load_balancer.ingress]
    owner = predicted_owner(ips, set(lab.nodes))
    wait_for(f"{ips[0]} answered by {owner}", lambda: who_answers(lab, ips[0])[1] == owner, timeout=20)

    again = _site(inventory, LAB_VARS)
    assert not _changed_anywhere(again), f"the third run changed something: {again}"
    checked = _site(inventory, LAB_VARS, "--check", "--diff")
    assert not _changed_anywhere(checked), f"check mode predicts changes on a converged cluster: {checked}"
