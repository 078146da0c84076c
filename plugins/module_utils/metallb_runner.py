"""The Ansible side of the metallb.io configuration modules: validate, then server-side apply.

Every module is ``run(<module name>)``. One run:

1. lists the namespace's metallb.io objects of all kinds;
2. validates the desired object together with them (``validate_resources(strict=True)``) and
   fails, before anything is written, on errors in the desired object and on errors it causes
   in others (a pool overlapping another pool, an advertisement naming a missing pool ...);
3. applies it server-side as a dry run and compares the result with the object in the cluster,
   ignoring the order of lists; only a real difference is applied for real (never in check mode).

``state: absent`` deletes the object (a dry run in check mode) and warns about objects that
the deletion leaves broken, such as an advertisement naming the deleted pool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

try:
    from kubernetes import client
except ImportError:  # modules report the missing library through kubernetes.core's requires()
    client = None

from .ansible_k8s import api_client, new_module
from .api_reach import refused_message
from .config_errors import ConfigError
from .metallb_cluster import MetallbCluster
from .metallb_kinds import cluster_resources
from .metallb_resources import (
    RESOURCES,
    Object,
    Resource,
    build_object,
    configuration_with,
    error_messages,
    new_errors,
    redact,
    same_content,
    shown,
)
from .validation import validate_resources


def run(module_name: str) -> None:
    """Run the module ``module_name`` (a key of :data:`.metallb_resources.RESOURCES`)."""
    resource = RESOURCES[module_name]
    module = new_module(resource.argument_spec(), **resource.module_kwargs)
    params = module.params
    cluster = MetallbCluster(api_client(module), params["namespace"])
    try:
        existing = cluster.list_all()
        if params["state"] == "absent":
            result = _absent(module, resource, cluster, existing)
        else:
            result = _present(module, resource, cluster, existing)
    except client.ApiException as err:
        module.fail_json(
            msg=refused_message(err, f"{resource.kind} {params['namespace']}/{params['name']}"),
            status=err.status,
        )
    module.exit_json(**result)


def _present(
    module: Any, resource: Resource, cluster: MetallbCluster, existing: list[Object]
) -> dict[str, Any]:
    name = module.params["name"]
    desired = build_object(resource, module.params)
    errors = _blocking_errors(resource, name, existing, desired)
    if errors:
        lines = error_messages(resource, name, errors)
        module.fail_json(
            msg=f"{resource.kind} {name!r} is not valid, nothing was changed:\n" + "\n".join(lines),
            errors=lines,
        )
    current = _find(existing, resource.kind, name)
    predicted = cluster.apply(resource.definition, desired, dry_run=True)
    changed = current is None or not same_content(resource, current, predicted)
    after = predicted if changed else current
    if changed and not module.check_mode:
        after = cluster.apply(resource.definition, desired, dry_run=False)
    return _result(resource, changed, current, after)


def _absent(
    module: Any, resource: Resource, cluster: MetallbCluster, existing: list[Object]
) -> dict[str, Any]:
    name = module.params["name"]
    current = _find(existing, resource.kind, name)
    if current is None:
        return _result(resource, False, None, None)
    remaining = configuration_with(existing, None, resource.kind, name)
    for error in new_errors(_validate(existing), _validate(remaining)):
        module.warn(f"after deleting {resource.kind} {name!r}: {error}")
    cluster.delete(resource.definition, name, dry_run=module.check_mode)
    return _result(resource, True, current, None)


def _blocking_errors(
    resource: Resource, name: str, existing: list[Object], desired: Object
) -> list[ConfigError]:
    """Errors of the desired object, and errors it causes in objects that were valid."""
    after = _validate(configuration_with(existing, desired, resource.kind, name))
    own = [error for error in after if (error.kind, error.name) == (resource.kind, name)]
    caused = [
        error
        for error in new_errors(_validate(existing), after)
        if (error.kind, error.name) != (resource.kind, name)
    ]
    return own + caused


def _validate(objects: Sequence[Mapping[str, Any]]) -> list[ConfigError]:
    return validate_resources(cluster_resources(objects), strict=True)


def _find(objects: list[Object], kind: str, name: str) -> Object | None:
    return next(
        (obj for obj in objects if obj["kind"] == kind and (obj.get("metadata") or {}).get("name") == name),
        None,
    )


def _result(resource: Resource, changed: bool, before: Object | None, after: Object | None) -> dict[str, Any]:
    return {
        "changed": changed,
        "result": redact(resource, after),
        "diff": {
            "before": shown(resource, before),
            "after": shown(resource, after),
        },
    }
