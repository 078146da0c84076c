"""What every module of this collection shares on its Ansible side.

Connection options, their `K8S_AUTH_*` variables and the client come from kubernetes.core, so a
playbook (or an AWX Kubernetes credential) that works with kubernetes.core works here unchanged.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException

# Server-side apply and patches made by this collection carry this field manager.
FIELD_MANAGER = "baremetal.lb"
DRY_RUN_ALL = "All"


def new_module(argument_spec: dict[str, Any], **kwargs: Any) -> Any:
    """An AnsibleK8SModule taking kubernetes.core's connection options besides `argument_spec`."""
    spec = {**AUTH_ARG_SPEC, **argument_spec}
    return AnsibleK8SModule(argument_spec=spec, supports_check_mode=True, **kwargs)


def api_client(module: Any) -> Any:
    """A kubernetes.client.ApiClient configured from the module's connection options."""
    try:
        return get_api_client(module).client.client
    except CoreException as err:
        module.fail_json(msg=f"cannot connect to the Kubernetes API: {err}")
        raise  # fail_json exits; this keeps type checkers aware of it


def dry_run(module: Any) -> str | None:
    """The `dry_run` argument for API writes: a server-side dry run in check mode."""
    return DRY_RUN_ALL if module.check_mode else None
