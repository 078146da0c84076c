"""The Ansible side of module ``metallb_config``: one namespace's whole metallb.io configuration.

One writing run (``merged``, ``replaced``, ``overridden``, ``deleted``):

1. checks every ``config`` entry against the options of its kind's module;
2. lists the namespace's metallb.io objects and works out the configuration the state leads to
   (:mod:`.metallb_config`); fails, before anything is written, when that configuration is not
   valid as a whole (errors of declared objects, and errors caused in the objects kept);
3. applies every object to write as a server-side dry run, in dependency order, and keeps those
   whose result differs from the cluster (ignoring the order of lists); in check mode that is
   the prediction, and nothing more is sent but dry-run deletions;
4. otherwise deletes (reverse dependency order) and applies those objects for real.

The dry run and the real run send the same objects in the same order, so check mode's
``commands``, ``before`` and ``after`` are the real run's. Applying is the per-object modules'
own (:class:`.metallb_cluster.MetallbCluster`, server-side apply as field manager
``baremetal.lb``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

try:
    from kubernetes import client
except ImportError:  # modules report the missing library through kubernetes.core's requires()
    client = None

try:
    import yaml
except ImportError:  # kubernetes.core requires PyYAML too
    yaml = None  # type: ignore[assignment]

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from .ansible_k8s import api_client, new_module
from .api_reach import refused_message
from .metallb_cluster import MetallbCluster
from .metallb_config import (
    APPLY_ORDER,
    STATES,
    Key,
    absent_keys,
    blocking_errors,
    config_fields,
    config_from_objects,
    declared_objects,
    duplicate_names,
    entry_constraints,
    entry_spec,
    error_lines,
    is_absent,
    key,
    kind_of_field,
    plan,
    resource_of,
)
from .metallb_kinds import BY_KIND, cluster_resources
from .metallb_resources import DEFAULT_NAMESPACE, Object, Resource, redact, same_content, shown
from .validation import validate_resources

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "namespace": {"type": "str", "default": DEFAULT_NAMESPACE},
    "state": {"type": "str", "default": "merged", "choices": list(STATES)},
    "config": {
        "type": "dict",
        "options": {field: {"type": "list", "elements": "dict"} for field in config_fields()},
    },
    "running_config": {"type": "str"},
}


def run() -> None:
    """Run module ``metallb_config``."""
    module = new_module(
        ARGUMENT_SPEC,
        module_class=ConfigModule,
        required_if=[
            ("state", "merged", ("config",)),
            ("state", "replaced", ("config",)),
            ("state", "overridden", ("config",)),
            ("state", "rendered", ("config",)),
            ("state", "parsed", ("running_config",)),
        ],
    )
    params = module.params
    module._module.no_log_values.update(secret_values(params.get("config")))  # also when the task sets no_log
    state, namespace = params["state"], params["namespace"]
    if state == "parsed":
        module.exit_json(changed=False, parsed=_parsed(module, params["running_config"]))
    config = _checked_config(module, params["config"], names_only=state == "deleted")
    declared = declared_objects(config, namespace)
    absent = absent_keys(config) if state != "deleted" else []
    repeated = duplicate_names(declared, absent)
    if repeated:
        module.fail_json(msg=f"config declares {', '.join(repeated)} more than once; nothing was changed")
    if state == "rendered":
        _refuse_errors(module, declared, blocking_errors("overridden", [], declared))
        module.exit_json(changed=False, rendered=[redact(_resource(key(o)), o) for o in declared])
    cluster = MetallbCluster(api_client(module), namespace)
    try:
        existing = cluster.list_all()
        if state == "gathered":
            module.exit_json(changed=False, gathered=config_from_objects(existing))
        _refuse_errors(module, declared, blocking_errors(state, existing, declared, absent))
        result = _write(module, cluster, state, existing, declared, absent=absent)
    except client.ApiException as err:
        module.fail_json(msg=refused_message(err, f"namespace {namespace}"), status=err.status)
    module.exit_json(**result)


def _checked_config(
    module: Any, config: Mapping[str, Any] | None, names_only: bool
) -> dict[str, list[dict[str, Any]]]:
    """Every entry of ``config`` checked and typed as its kind's module would; fails on errors.

    With ``names_only`` (state ``deleted``), and for entries with ``state: absent``, the options a
    present object needs are not required. Each error names the entry's position and name.
    """
    checked: dict[str, list[dict[str, Any]]] = {}
    problems = []
    for field in config_fields():
        kind = kind_of_field(field)
        spec = entry_spec(kind)
        present = ArgumentSpecValidator(spec, **entry_constraints(kind))
        names = ArgumentSpecValidator(spec)
        for index, entry in enumerate((config or {}).get(field) or []):
            absent = names_only or (isinstance(entry, Mapping) and is_absent(entry))
            result = (names if absent else present).validate(entry)
            where = f"config.{field}[{index}] ({kind.kind} {_entry_name(entry)!r})"
            problems += [f"{where}: {message}" for message in result.error_messages]
            checked.setdefault(field, []).append(result.validated_parameters)
    if problems:
        module.fail_json(
            msg="config is not valid, nothing was changed:\n" + "\n".join(problems), errors=problems
        )
    return checked


def _entry_name(entry: Any) -> str:
    return str(entry.get("name")) if isinstance(entry, Mapping) and entry.get("name") else "?"


def secret_values(config: Any) -> set[str]:
    """The values of the ``no_log`` options (BGP passwords) of every ``config`` entry."""
    found: set[str] = set()
    if not isinstance(config, Mapping):
        return found
    for field in config_fields():
        spec = entry_spec(kind_of_field(field))
        for entry in config.get(field) or []:
            if isinstance(entry, Mapping):
                found.update(
                    str(entry[o]) for o, o_spec in spec.items() if o_spec.get("no_log") and entry.get(o)
                )
    return found


class ConfigModule(AnsibleModule):  # type: ignore[misc]  # ansible-core ships no types
    """An AnsibleModule that treats the ``no_log`` options inside ``config`` entries as its own.

    Ansible masks the values of ``no_log`` options of the argument spec; ``config``'s entries
    are free-form dicts to it, so their BGP passwords are added to the masked values before the
    invocation is logged (the managed host's journal or syslog): every result, message and log
    line the module writes then shows ``********`` in their place, with or without ``no_log``
    on the task.
    """

    def _log_invocation(self) -> None:
        self.no_log_values.update(secret_values(self.params.get("config")))
        super()._log_invocation()


def _refuse_errors(module: Any, declared: Sequence[Object], errors: Sequence[Any]) -> None:
    if errors:
        lines = error_lines(declared, errors)
        module.fail_json(
            msg="the configuration would not be valid, nothing was changed:\n" + "\n".join(lines),
            errors=lines,
        )


def _write(
    module: Any,
    cluster: MetallbCluster,
    state: str,
    existing: Sequence[Object],
    declared: Sequence[Object],
    *,
    absent: Sequence[Key],
) -> dict[str, Any]:
    writes = plan(state, existing, declared, absent)
    current = {key(obj): obj for obj in existing}
    changed_applies = []
    predicted: dict[Key, Object] = {}
    for obj in writes.applies:
        try:
            result = cluster.apply(BY_KIND[obj["kind"]], obj, dry_run=True)
        except client.ApiException as err:  # before any real write: name the object refused
            where = f"{obj['kind']} {key(obj)[1]!r}"
            module.fail_json(msg=f"{refused_message(err, where)}; nothing was changed", status=err.status)
        if not same_content(_resource(key(obj)), current.get(key(obj)), result):
            changed_applies.append(obj)
            predicted[key(obj)] = result
    commands = [f"delete {kind} {name}" for kind, name in writes.deletes]
    commands += [
        f"{'update' if key(obj) in current else 'create'} {obj['kind']} {key(obj)[1]}"
        for obj in changed_applies
    ]
    after = {k: v for k, v in current.items() if k not in set(writes.deletes)}
    for kind, name in writes.deletes:
        cluster.delete(BY_KIND[kind], name, dry_run=module.check_mode)
    for obj in changed_applies:
        written = predicted[key(obj)]
        if not module.check_mode:
            written = cluster.apply(BY_KIND[obj["kind"]], obj, dry_run=False)
        after[key(obj)] = written
    before_config = config_from_objects(existing)
    after_config = config_from_objects(after.values())
    changed = bool(commands)
    return {
        "changed": changed,
        "commands": commands,
        "before": before_config,
        "after": after_config,
        "diff": _diff(existing, list(after.values())),
    }


def _diff(before: Sequence[Object], after: Sequence[Object]) -> dict[str, Any]:
    """Name, labels and spec of every object that changes, keyed ``Kind/name``."""
    old = {key(obj): obj for obj in before}
    new = {key(obj): obj for obj in after}
    rank = {kind.kind: index for index, kind in enumerate(APPLY_ORDER)}
    keys = sorted(set(old) | set(new), key=lambda item: (rank[item[0]], item[1]))
    changed = [k for k in keys if not same_content(_resource(k), old.get(k), new.get(k))]
    return {
        "before": {f"{k[0]}/{k[1]}": shown(_resource(k), old.get(k)) for k in changed if k in old},
        "after": {f"{k[0]}/{k[1]}": shown(_resource(k), new.get(k)) for k in changed if k in new},
    }


def _resource(item: Key) -> Resource:
    """The per-object module description of the kind of ``item``."""
    return resource_of(BY_KIND[item[0]])


def _parsed(module: Any, text: str) -> dict[str, list[dict[str, Any]]]:
    """``config`` describing the metallb.io objects of a YAML text (documents, lists or Lists)."""
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc]
    except yaml.YAMLError as err:
        module.fail_json(msg=f"running_config is not YAML: {err}")
    objects: list[Mapping[str, Any]] = []
    for doc in documents:
        items: Any = doc.get("items") if isinstance(doc, Mapping) and "items" in doc else doc
        for item in items if isinstance(items, list) else [items]:
            if isinstance(item, Mapping) and item.get("kind") in _CONFIG_KIND_NAMES:
                objects.append(item)
    for error in validate_resources(cluster_resources(objects), strict=True):
        module.warn(f"running_config: {error}")
    return config_from_objects(objects)


_CONFIG_KIND_NAMES = frozenset(kind.kind for kind in APPLY_ORDER)
