"""Kubeconfigs that log in as the daemons' ServiceAccounts, for tests that run the daemons as processes.

The tests' harnesses start the controller and speakers from the checkout inside the lab's
namespaces (host mode, and where a test needs to kill, signal or time a daemon directly); each
logs in with its own ServiceAccount's token, so the RBAC the install role applies is what they get.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from kubernetes import client

from .state import LabState

NAMESPACE = "metallb-system"
_TOKEN_SECONDS = 7 * 24 * 3600


def service_account_kubeconfig(
    api: client.ApiClient, state: LabState, account: str, path: Path, inside_lab: bool = True
) -> Path:
    """Write a kubeconfig that logs in with a token of ServiceAccount metallb-system/ACCOUNT.

    `inside_lab` picks the API server address reachable from the lab's namespaces; otherwise the
    one reachable from the root namespace.
    """
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=_TOKEN_SECONDS)
    )
    answer = client.CoreV1Api(api).create_namespaced_service_account_token(account, NAMESPACE, request)
    assert answer.status is not None, "the API server answered a TokenRequest without a token"
    token = answer.status.token
    admin = yaml.safe_load(Path(state.data["kubeconfig_in_lab" if inside_lab else "kubeconfig"]).read_text())
    cluster = admin["clusters"][0]
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [cluster],
                "users": [{"name": account, "user": {"token": token}}],
                "contexts": [{"name": account, "context": {"cluster": cluster["name"], "user": account}}],
                "current-context": account,
            }
        )
    )
    path.chmod(0o600)
    return path
