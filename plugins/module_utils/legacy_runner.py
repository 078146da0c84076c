"""The Ansible side of module ``legacy_config``: read, convert, validate, then apply.

One run:

1. reads the legacy configuration (the ConfigMap's ``config`` key, or the ``config`` option);
2. converts it (:mod:`.legacy_config`) and fails on any problem, naming the legacy field;
3. validates the converted objects together with the namespace's metallb.io objects and fails,
   before anything is written, on errors in them or errors they cause in others;
4. applies every object server-side as a dry run (so the API server's own checks run on all of
   them before any is written) and compares with the cluster, ignoring the order of lists;
5. only then applies the objects that differ, and removes the ConfigMap when asked.

Applying and comparing are the configuration modules' own (:mod:`.metallb_runner`,
:mod:`.metallb_resources`), so the converted objects look exactly as if those modules wrote them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

try:
    from kubernetes import client
except ImportError:  # modules report the missing library through kubernetes.core's requires()
    client = None

from .ansible_k8s import api_client, dry_run, new_module
from .api_reach import refused_message
from .config_errors import ConfigError
from .legacy_config import Conversion, LegacyConfigError, convert, load_yaml
from .metallb_cluster import MetallbCluster
from .metallb_kinds import BY_KIND, cluster_resources
from .metallb_resources import RESOURCES, Object, new_errors, redact, same_content, shown
from .validation import validate_resources

CONFIG_KEY = "config"
ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "configmap": {"type": "str", "default": "config"},
    "namespace": {"type": "str", "default": "metallb-system"},
    "config": {"type": "str", "no_log": True},
    "state": {"type": "str", "default": "present", "choices": ["present"]},
    "remove_configmap": {"type": "bool", "default": False},
}
_BY_KIND = {resource.kind: resource for resource in RESOURCES.values()}


def run() -> None:
    """Run module ``legacy_config``."""
    module = new_module(ARGUMENT_SPEC)
    params = module.params
    if params["config"] is not None and params["remove_configmap"]:
        module.fail_json(
            msg="remove_configmap removes the ConfigMap the configuration is read from; leave out config"
        )
    api = api_client(module)
    try:
        result = _run(module, api)
    except client.ApiException as err:
        module.fail_json(msg=refused_message(err), status=err.status)
    module.exit_json(**result)


def _run(module: Any, api: Any) -> dict[str, Any]:
    params = module.params
    namespace, name = params["namespace"], params["configmap"]
    core = client.CoreV1Api(api)
    configmap = None
    text = params["config"]
    if text is None:
        configmap = _read_configmap(core, namespace, name)
        if configmap is None:
            return {
                "changed": False,
                "resources": [],
                "objects": [],
                "renamed": [],
                "configmap_removed": False,
                "msg": f"ConfigMap {namespace}/{name} does not exist: nothing to convert",
            }
        data = configmap.data or {}
        if CONFIG_KEY not in data:
            module.fail_json(
                msg=f"ConfigMap {namespace}/{name} has no key {CONFIG_KEY!r}: not a MetalLB configuration"
            )
        text = data[CONFIG_KEY]
    try:
        conversion = convert(load_yaml(text), namespace)
    except LegacyConfigError as error:
        lines = [str(problem) for problem in error.problems]
        module.fail_json(msg=_refused(lines), errors=lines)
    # AnsibleK8SModule wraps an AnsibleModule, whose no_log_values mask secrets in all output.
    no_log_values = getattr(module, "_module", module).no_log_values
    no_log_values.update(conversion.passwords)

    cluster = MetallbCluster(api, namespace)
    existing = cluster.list_all()
    lines = [conversion.describe(error) for error in _blocking_errors(conversion, existing)]
    if lines:
        module.fail_json(msg=_refused(lines), errors=lines)

    planned = [_plan(module, cluster, conversion, existing, obj) for obj in conversion.objects]
    if not module.check_mode:
        for step in planned:
            if step["action"] != "unchanged":
                step["after"] = cluster.apply(BY_KIND[step["kind"]], step["object"], dry_run=False)

    removed = False
    if params["remove_configmap"] and configmap is not None:
        core.delete_namespaced_config_map(name, namespace, dry_run=dry_run(module))
        removed = True
    return _result(planned, conversion, removed=removed, configmap=configmap, namespace=namespace, name=name)


def _read_configmap(core: Any, namespace: str, name: str) -> Any:
    try:
        return core.read_namespaced_config_map(name, namespace)
    except client.ApiException as err:
        if err.status == 404:
            return None
        raise


def _blocking_errors(conversion: Conversion, existing: Sequence[Object]) -> list[ConfigError]:
    """Errors in the converted objects, and errors they cause in objects that were valid.

    Converted objects replace existing objects of the same kind and name (a second run).
    Addresses are checked as MetalLB read them (a CIDR with host bits set means its network), so
    a configuration MetalLB accepted converts unchanged.
    """
    converted = {(obj["kind"], obj["metadata"]["name"]) for obj in conversion.objects}
    others = [obj for obj in existing if (obj.get("kind"), _name(obj)) not in converted]
    after = _validate([*others, *conversion.objects])
    own = [error for error in after if (error.kind, error.name) in converted]
    caused = [
        error for error in new_errors(_validate(existing), after) if (error.kind, error.name) not in converted
    ]
    return own + caused


def _plan(
    module: Any, cluster: MetallbCluster, conversion: Conversion, existing: Sequence[Object], obj: Object
) -> dict[str, Any]:
    """Dry-run apply one object: what would change. An API refusal fails naming the legacy field."""
    kind, name = obj["kind"], obj["metadata"]["name"]
    resource = _BY_KIND[kind]
    current = next((item for item in existing if item.get("kind") == kind and _name(item) == name), None)
    try:
        predicted = cluster.apply(resource.definition, obj, dry_run=True)
    except client.ApiException as err:
        origin = conversion.origins[(kind, name)].path or "config"
        module.fail_json(
            msg=_refused([f"{origin}: converted to {kind} {name!r}, {refused_message(err)}"]),
            status=err.status,
        )
    if current is None:
        action = "created"
    elif same_content(resource, current, predicted):
        action = "unchanged"
    else:
        action = "updated"
    return {
        "kind": kind,
        "name": name,
        "object": obj,
        "before": current,
        "after": predicted,
        "action": action,
    }


def _result(
    planned: Sequence[Mapping[str, Any]],
    conversion: Conversion,
    *,
    removed: bool,
    configmap: Any,
    namespace: str,
    name: str,
) -> dict[str, Any]:
    changed_steps = [step for step in planned if step["action"] != "unchanged"]
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for step in changed_steps:
        resource = _BY_KIND[step["kind"]]
        key = f"{step['kind']}/{step['name']}"
        if step["before"] is not None:
            before[key] = shown(resource, step["before"])
        after[key] = shown(resource, step["after"])
    if removed:
        before[f"ConfigMap/{name}"] = {
            "metadata": {"name": name, "namespace": namespace},
            "data": configmap.data,
        }
    return {
        "changed": bool(changed_steps) or removed,
        "resources": [
            {"kind": step["kind"], "name": step["name"], "namespace": namespace, "action": step["action"]}
            for step in planned
        ],
        "objects": [redact(_BY_KIND[step["kind"]], step["after"]) for step in planned],
        "renamed": conversion.renamed,
        "configmap_removed": removed,
        "diff": {"before": before, "after": after},
    }


def _validate(objects: Sequence[Mapping[str, Any]]) -> list[ConfigError]:
    return validate_resources(cluster_resources(objects))


def _refused(lines: Sequence[str]) -> str:
    return "the legacy MetalLB configuration cannot be converted, nothing was changed:\n" + "\n".join(lines)


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")
