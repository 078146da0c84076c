"""What every module of this collection shares on its Ansible side.

Connection options, their `K8S_AUTH_*` variables and the configuration they make come from
kubernetes.core, so a playbook (or an AWX Kubernetes credential) that works with kubernetes.core
works here unchanged. On top of them, every request is bounded by `request_timeout`, and the
client is proven to talk to a Kubernetes API server (`GET /version`) before a module uses it: a
server that cannot be reached, or is not Kubernetes, fails the module with one line that names it.
A request the server refuses with 429 (not ready yet, or shedding load) is sent again after the
wait the server asks for, as kubectl does, within the same bound.
"""

from __future__ import annotations

import os
import time
from typing import Any

from ansible.module_utils.basic import env_fallback
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s import client as core_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule

from .api_reach import (
    VERSION_PATH,
    Attempt,
    missing_kubeconfig_message,
    retry_delay,
    unreachable_message,
    version_problem,
)

try:
    import kubernetes
    from urllib3.exceptions import HTTPError as TransportError
except ImportError:  # AnsibleK8SModule reports the missing library
    kubernetes = None
    TransportError = OSError  # type: ignore[assignment,misc]

# Server-side apply and patches made by this collection carry this field manager.
FIELD_MANAGER = "baremetal.lb"
DRY_RUN_ALL = "All"
# kubernetes.core has no request timeout (ansible-collections/kubernetes.core#897); this option is
# named after kubectl's --request-timeout, and its variable follows kubernetes.core's K8S_AUTH_*.
REQUEST_TIMEOUT_ENV = "K8S_AUTH_REQUEST_TIMEOUT"
KUBECONFIG_ENV = "K8S_AUTH_KUBECONFIG"
CONNECTION_SPEC: dict[str, Any] = {
    "request_timeout": {"type": "int", "default": 30, "fallback": (env_fallback, [REQUEST_TIMEOUT_ENV])},
}


def new_module(argument_spec: dict[str, Any], **kwargs: Any) -> Any:
    """An AnsibleK8SModule taking kubernetes.core's connection options besides `argument_spec`."""
    spec = {**AUTH_ARG_SPEC, **CONNECTION_SPEC, **argument_spec}
    return AnsibleK8SModule(argument_spec=spec, supports_check_mode=True, **kwargs)


def api_client(module: Any) -> Any:
    """A kubernetes.client.ApiClient configured from the module's connection options.

    Every request it makes is bounded by `request_timeout`; one that gets no HTTP answer fails the
    module with a line naming the server and the request, and is not retried. Only a 429 answer
    is, after the server's Retry-After, while the bound allows (:func:`.api_reach.retry_delay`).
    The server is asked `GET /version` first, so a wrong address fails here, not mid-change.
    """
    timeout = module.params.get("request_timeout") or CONNECTION_SPEC["request_timeout"]["default"]
    if timeout <= 0:
        module.fail_json(msg=f"request_timeout: {timeout} is not a positive number of seconds")
    auth = core_client._create_auth_spec(module)
    _check_kubeconfig(module, auth.get("kubeconfig"))
    try:
        configuration = core_client._create_configuration(auth)
        headers = core_client._create_headers(module)
    except (kubernetes.config.ConfigException, OSError, ValueError, TypeError) as err:
        module.fail_json(msg=f"cannot configure a Kubernetes client: {err}")
    configuration.retries = False  # no transport retries: a dead server fails within request_timeout
    api = kubernetes.client.ApiClient(configuration)
    for header, value in headers.items():
        core_client._set_header(api, header, value)
    _bound_requests(module, api, timeout)
    _probe(module, api, timeout)
    return api


def _check_kubeconfig(module: Any, kubeconfig: Any) -> None:
    """Fail with the path when the kubeconfig named by the option or K8S_AUTH_KUBECONFIG is missing."""
    if not isinstance(kubeconfig, str):
        return
    path = os.path.expanduser(kubeconfig)
    if os.path.exists(path):
        return
    given = module.params.get("kubeconfig") is not None
    origin = "kubeconfig" if given else f"kubeconfig (from {KUBECONFIG_ENV})"
    directory_exists = os.path.isdir(os.path.dirname(path) or ".")
    module.fail_json(msg=missing_kubeconfig_message(path, origin, directory_exists))


def _bound_requests(module: Any, api: Any, timeout: float) -> None:
    """Bound every request of `api` by the timeout; resend one refused with 429 as asked.

    A request without an HTTP answer becomes one line naming the server and the request.
    """
    request = api.rest_client.request
    server = api.configuration.host

    def bounded(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        kwargs["_request_timeout"] = kwargs.get("_request_timeout") or timeout
        deadline = time.monotonic() + timeout
        retries = 0
        while True:
            try:
                return request(method, url, *args, **kwargs)
            except TransportError as err:
                path = url[len(server) :] if url.startswith(server) else url
                module.fail_json(msg=unreachable_message(Attempt(server, method, path, timeout), err))
                raise  # fail_json exits; this keeps type checkers aware of it
            except kubernetes.client.ApiException as err:
                headers = err.headers or {}
                delay = retry_delay(
                    err.status or 0, headers.get("Retry-After"), retries, deadline - time.monotonic()
                )
                if delay is None:
                    raise
                retries += 1
                time.sleep(delay)

    api.rest_client.request = bounded


def _probe(module: Any, api: Any, timeout: float) -> None:
    """Fail unless the server answers `GET /version` as a Kubernetes API server does."""
    attempt = Attempt(api.configuration.host, "GET", VERSION_PATH, timeout)
    try:
        response: Any = kubernetes.client.VersionApi(api).get_code(_preload_content=False)
        status, body = response.status, response.data
    except kubernetes.client.ApiException as err:
        status, body = err.status, err.body
    if not isinstance(body, bytes):
        body = str(body or "").encode()
    problem = version_problem(attempt, int(status or 0), body)
    if problem:
        module.fail_json(msg=problem)


def dry_run(module: Any) -> str | None:
    """The `dry_run` argument for API writes: a server-side dry run in check mode."""
    return DRY_RUN_ALL if module.check_mode else None
