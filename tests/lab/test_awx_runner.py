"""The collection's playbooks run by ansible-runner the way AWX runs a job template, in the lab.

AWX gives a job a private data directory: the project checkout, an inventory, `env/extravars`
and `env/envvars`, into which a credential injects its environment variables; then it runs
`ansible-runner` on it. No kubeconfig variable exists anywhere here: the cluster is reached only
through the `K8S_AUTH_*` variables, exactly as two kinds of AWX credential inject them:

* AWX's built-in "OpenShift or Kubernetes API Bearer Token" credential (awx/main/models/
  credential/injectors.py, kubernetes_bearer_token): K8S_AUTH_HOST, K8S_AUTH_API_KEY,
  K8S_AUTH_VERIFY_SSL and K8S_AUTH_SSL_CA_CERT naming a file it writes into the private data
  directory; the token here is a ServiceAccount's, as an AWX admin would create one;
* a custom credential type carrying a kubeconfig file: K8S_AUTH_KUBECONFIG (and K8S_AUTH_CONTEXT).

The job's playbook is the lab's site playbook (lab/playbooks/site.yml: the collection's
install.yml and configure.yml, imported by name, with the lab's daemons started in between, as a
cluster's kubelet would start the pods). The job template's extra vars are the lab inventory's
configuration (its layer-2 pool and demo/web exposed from it), so every role does real work.
Each job runs twice; the second run must change nothing. The project carries the collection
under test in `collections/` beside the playbook (where AWX's project sync installs
`collections/requirements.yml`), so nothing outside the private data directory selects it.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from lab.state import LabState
from tests.lab.conftest import LAB_VARS, REPO, delete_if_present

VENV_BIN = Path(sys.executable).parent


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
    token = answer.status.token
    cluster = yaml.safe_load(lab.kubeconfig.read_text())["clusters"][0]["cluster"]
    ca = pdd / "env" / "k8s-ca.crt"
    ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    ca.chmod(0o600)
    return {
        "K8S_AUTH_HOST": cluster["server"],
        "K8S_AUTH_API_KEY": token,
        "K8S_AUTH_VERIFY_SSL": "True",
        "K8S_AUTH_SSL_CA_CERT": str(ca),
    }


def _kubeconfig_credential(lab: LabState) -> dict[str, str]:
    """A custom credential type that injects a kubeconfig file."""
    context = yaml.safe_load(lab.kubeconfig.read_text())["current-context"]
    return {"K8S_AUTH_KUBECONFIG": str(lab.kubeconfig), "K8S_AUTH_CONTEXT": context}


def _private_data_dir(pdd: Path, lab: LabState) -> None:
    """Project (site.yml and the collection beside it), inventory and extra vars, as AWX lays them out."""
    project = pdd / "project"
    project.mkdir(parents=True)
    (project / "site.yml").write_text((REPO / "lab" / "playbooks" / "site.yml").read_text())
    collections = project / "collections" / "ansible_collections" / "baremetal"
    collections.mkdir(parents=True)
    (collections / "lb").symlink_to(REPO)
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
    # The job template's extra vars, plus the lab playbook's: which lab to start the daemons in,
    # and the checkout `python -m lab` runs from.
    (pdd / "env" / "extravars").write_text(
        json.dumps({**LAB_VARS, "lab_state_dir": str(lab.state_dir), "lab_checkout": str(REPO)})
    )


def _run(pdd: Path, ident: str, home: Path) -> tuple[str, list[dict[str, Any]]]:
    """`ansible-runner run` once; return its status and its job events."""
    runner = VENV_BIN / "ansible-runner"
    assert runner.is_file(), f"{runner} is missing: run `make venv`"
    # Nothing from this shell may reach the job: no kubeconfig, no Ansible settings, a fresh HOME
    # (so no ~/.kube/config and no ~/.ansible/collections either).
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("K8S_AUTH_", "ANSIBLE_", "KUBECONFIG", "MOLECULE_")) and k != "HOME"
    }
    env.update(HOME=str(home), PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}")
    subprocess.run(
        [str(runner), "run", str(pdd), "--playbook", "site.yml", "--ident", ident],
        env=env,
        check=False,
        timeout=900,
    )
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


@pytest.mark.parametrize("credential", ["bearer-token", "kubeconfig"])
def test_site_playbook_as_an_awx_job(
    lab: LabState,
    kube: client.ApiClient,
    namespace: str,
    tmp_path: Path,
    credential: str,
    lab_config_removed_afterwards: None,
    lab_daemons_stopped_afterwards: None,
) -> None:
    pdd = tmp_path / "runner"
    _private_data_dir(pdd, lab)
    home = tmp_path / "home"
    home.mkdir()
    try:
        if credential == "bearer-token":
            envvars = _bearer_token_credential(kube, namespace, lab, pdd)
        else:
            envvars = _kubeconfig_credential(lab)
        (pdd / "env" / "envvars").write_text(json.dumps(envvars))

        status, events = _run(pdd, "first", home)
        assert status == "successful", f"first run: {status} (ansible-runner's output is above)"
        status, events = _run(pdd, "second", home)
        assert status == "successful", f"second run: {status} (ansible-runner's output is above)"
        stats = [e for e in events if e.get("event") == "playbook_on_stats"]
        assert stats, "the second run reported no play recap"
        assert not stats[-1]["event_data"].get("changed"), f"second run changed: {_changed_tasks(events)}"
    finally:
        if credential == "bearer-token":
            delete_if_present(
                lambda: client.RbacAuthorizationV1Api(kube).delete_cluster_role_binding(f"awx-{namespace}")
            )
