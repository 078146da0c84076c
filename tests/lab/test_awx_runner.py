"""The collection's playbooks run the way AWX runs a job template: in the execution environment.

AWX gives a job a private data directory: the project checkout, an inventory, `env/extravars`
and `env/envvars`, into which a credential injects its environment variables and files; then
ansible-runner runs the playbook inside the job's execution environment with podman
(`--process-isolation --container-image`), the private data directory mounted at /runner. Here
the image is the lab's build of execution-environment.yml (lab/ee.py: ansible-core,
ansible-runner, kubernetes.core and this checkout's baremetal.lb), and the container joins the
lab's client namespace, so the job reaches the API server over the lab's LAN, as a machine outside
the cluster does; nothing of the host's network is involved. The container runs as root: podman
runs as root here and ansible-runner makes the private data directory's folders 0700.

No kubeconfig variable exists anywhere here: the cluster is reached only through the
`K8S_AUTH_*` variables, exactly as two kinds of AWX credential inject them, with files written
into the private data directory and named by their path inside the container:

* AWX's built-in "OpenShift or Kubernetes API Bearer Token" credential (awx/main/models/
  credential/injectors.py, kubernetes_bearer_token): K8S_AUTH_HOST, K8S_AUTH_API_KEY,
  K8S_AUTH_VERIFY_SSL and K8S_AUTH_SSL_CA_CERT; the token here is a ServiceAccount's, as an AWX
  admin would create one;
* a custom credential type carrying a kubeconfig file: K8S_AUTH_KUBECONFIG (and K8S_AUTH_CONTEXT).

The job's playbook is the collection's own site playbook (``baremetal.lb.site``: install, then
configure), with the lab inventory's configuration (its layer-2 pool and the demo applications
exposed from it) as the job template's extra vars, so every role does real work: the lab's
kubelets run the controller and speaker pods the job installs, and the expose step waits for
their IPs. The bearer-token job runs twice, and the second run must change nothing; what a run
changes does not depend on how it authenticates, so the kubeconfig job runs once. The daemons
are removed afterwards.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from lab import images
from lab.ansible_env import VENV_BIN, ansible_env
from lab.containers import CGROUP_PARENT, podman, podman_env, remove_cgroups
from lab.state import LabState
from tests.lab.conftest import LAB_VARS, delete_if_present

RUNNER_DIR = "/runner"  # where the container sees the private data directory


@pytest.fixture(scope="module")
def ee_image() -> str:
    """The execution environment's image, built now or found in the cache."""
    return images.ensure_all().images["ee"].ref


def _bearer_token_credential(
    kube: client.ApiClient, namespace: str, lab: LabState, pdd: Path
) -> dict[str, str]:
    """A cluster-admin ServiceAccount token, injected as AWX's bearer token credential does."""
    core = client.CoreV1Api(kube)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="awx"))
    )
    client.RbacAuthorizationV1Api(kube).create_cluster_role_binding(
        client.V1ClusterRoleBinding(
            metadata=client.V1ObjectMeta(name=f"awx-{namespace}"),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="cluster-admin"
            ),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name="awx", namespace=namespace)],
        )
    )
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
    )
    answer = core.create_namespaced_service_account_token("awx", namespace, request)
    assert answer.status is not None, "the API server answered a TokenRequest without a token"
    cluster = _lab_kubeconfig(lab)["clusters"][0]["cluster"]
    ca = pdd / "env" / "k8s-ca.crt"
    ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    ca.chmod(0o600)
    return {
        "K8S_AUTH_HOST": cluster["server"],
        "K8S_AUTH_API_KEY": answer.status.token,
        "K8S_AUTH_VERIFY_SSL": "True",
        "K8S_AUTH_SSL_CA_CERT": f"{RUNNER_DIR}/env/{ca.name}",
    }


def _kubeconfig_credential(lab: LabState, pdd: Path) -> dict[str, str]:
    """A custom credential type that injects a kubeconfig file."""
    kubeconfig = pdd / "env" / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(_lab_kubeconfig(lab)))
    kubeconfig.chmod(0o600)
    context = _lab_kubeconfig(lab)["current-context"]
    return {"K8S_AUTH_KUBECONFIG": f"{RUNNER_DIR}/env/{kubeconfig.name}", "K8S_AUTH_CONTEXT": context}


def _lab_kubeconfig(lab: LabState) -> dict[str, Any]:
    """The admin kubeconfig whose server address is reachable from the lab's namespaces."""
    kubeconfig: dict[str, Any] = yaml.safe_load(Path(lab.data["kubeconfig_in_lab"]).read_text())
    return kubeconfig


def _private_data_dir(pdd: Path) -> None:
    """Project, inventory and extra vars, as AWX lays them out."""
    project = pdd / "project"
    project.mkdir(parents=True)
    (project / "site.yml").write_text(
        yaml.safe_dump(
            [
                {
                    "name": "The collection's site playbook",
                    "ansible.builtin.import_playbook": "baremetal.lb.site",
                }
            ]
        )
    )
    (pdd / "inventory").mkdir()
    # A plain localhost inventory, as AWX's "localhost" inventory: no kubeconfig anywhere.
    (pdd / "inventory" / "hosts.yml").write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "localhost": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                        }
                    }
                }
            }
        )
    )
    (pdd / "env").mkdir()
    (pdd / "env" / "extravars").write_text(json.dumps(LAB_VARS))


def _run(pdd: Path, ident: str, home: Path, image: str, lab: LabState) -> tuple[str, list[dict[str, Any]]]:
    """`ansible-runner run` once in the execution environment; return its status and its job events."""
    runner = VENV_BIN / "ansible-runner"
    assert runner.is_file(), f"{runner} is missing: run `make venv`"
    # Nothing from this shell may reach the job: no kubeconfig, no Ansible settings, a fresh HOME.
    env = ansible_env(base=podman_env(), drop=("ANSIBLE_", "MOLECULE_"), HOME=str(home))
    container = [
        f"--network=ns:/run/netns/{lab.hosts['client']['netns']}",
        f"--cgroup-parent={CGROUP_PARENT}",
        "--user=root",
    ]
    argv = [str(runner), "run", str(pdd), "--playbook", "site.yml", "--ident", ident]
    argv += ["--process-isolation", "--process-isolation-executable=podman", f"--container-image={image}"]
    argv += [f"--container-option={option}" for option in container]
    try:
        subprocess.run(argv, env=env, check=False, timeout=900)
    finally:
        podman("rm", "--force", "--time=5", f"ansible_runner_{ident}", check=False)
        remove_cgroups()
    artifacts = pdd / "artifacts" / ident
    status = (artifacts / "status").read_text().strip() if (artifacts / "status").exists() else "no status"
    events = [json.loads(p.read_text()) for p in sorted((artifacts / "job_events").glob("*.json"))]
    return status, events


def _changed_tasks(events: list[dict[str, Any]]) -> list[str]:
    return [
        e["event_data"].get("task", "?")
        for e in events
        if e.get("event") == "runner_on_ok" and e["event_data"].get("res", {}).get("changed")
    ]


# Each credential, and whether its job runs a second time, which must change nothing.
JOBS = [("bearer-token", True), ("kubeconfig", False)]


@pytest.mark.parametrize(("credential", "rerun"), JOBS, ids=[credential for credential, _rerun in JOBS])
def test_site_playbook_as_an_awx_job_in_the_execution_environment(
    lab: LabState,
    kube: client.ApiClient,
    namespace: str,
    tmp_path: Path,
    credential: str,
    rerun: bool,
    ee_image: str,
    lab_config_removed_afterwards: None,
    installed_daemons_removed_afterwards: None,
) -> None:
    pdd = tmp_path / "runner"
    _private_data_dir(pdd)
    home = tmp_path / "home"
    home.mkdir()
    try:
        if credential == "bearer-token":
            envvars = _bearer_token_credential(kube, namespace, lab, pdd)
        else:
            envvars = _kubeconfig_credential(lab, pdd)
        (pdd / "env" / "envvars").write_text(json.dumps(envvars))

        status, events = _run(pdd, "first", home, ee_image, lab)
        assert status == "successful", f"first run: {status} (ansible-runner's output is above)"
        command = json.loads((pdd / "artifacts" / "first" / "command").read_text())["command"]
        assert command[:2] == ["podman", "run"] and ee_image in command, f"not run in the EE: {command}"
        if not rerun:
            return
        status, events = _run(pdd, "second", home, ee_image, lab)
        assert status == "successful", f"second run: {status} (ansible-runner's output is above)"
        stats = [e for e in events if e.get("event") == "playbook_on_stats"]
        assert stats, "the second run reported no play recap"
        assert not stats[-1]["event_data"].get("changed"), f"second run changed: {_changed_tasks(events)}"
    finally:
        if credential == "bearer-token":
            delete_if_present(
                lambda: client.RbacAuthorizationV1Api(kube).delete_cluster_role_binding(f"awx-{namespace}")
            )
