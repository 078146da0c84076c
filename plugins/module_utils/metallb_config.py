"""The ``metallb_config`` resource module's pure part: one declared configuration, one plan.

The module manages a namespace's whole metallb.io configuration in the vocabulary of the network
resource modules. ``config`` holds one list per kind (``pools``, ``l2_advertisements`` ...; the
:class:`.metallb_kinds.MetallbKind` ``resources_field``), each entry taking the options of the
kind's own module (``name``, ``labels`` and the spec options). This module turns that into
objects (:func:`declared_objects`), works out the configuration a state leads to
(:func:`target`), refuses it when it is not valid as one configuration
(:func:`blocking_errors`, with the project's single parser) and orders the writes
(:func:`plan`): what others refer to first, deletions in reverse. Objects read back are turned
into the same vocabulary by :func:`config_from_objects`, so ``gathered`` can be fed back as
``config``.

Standard library only; the Ansible side (API calls, check mode) is in
:mod:`.metallb_config_runner`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .config_errors import ConfigError
from .metallb_kinds import (
    BFD_PROFILE,
    BGP_ADVERTISEMENT,
    BGP_PEER,
    COMMUNITY,
    IP_ADDRESS_POOL,
    L2_ADVERTISEMENT,
    MetallbKind,
    cluster_resources,
)
from .metallb_resources import (
    RESOURCES,
    Object,
    Options,
    Resource,
    build_object,
    field_name,
    new_errors,
    option_path,
    redact,
)
from .validation import validate_resources

# States that write, and states that only read or convert.
WRITING_STATES = ("merged", "replaced", "overridden", "deleted")
STATES = (*WRITING_STATES, "gathered", "rendered", "parsed")

# Apply order: what other objects name (BFD profiles, community aliases, pools, peers) before
# what names them (peers name BFD profiles; advertisements name pools, aliases and peers).
APPLY_ORDER: tuple[MetallbKind, ...] = (
    BFD_PROFILE,
    COMMUNITY,
    IP_ADDRESS_POOL,
    BGP_PEER,
    L2_ADVERTISEMENT,
    BGP_ADVERTISEMENT,
)

Key = tuple[str, str]  # (kind, name)


def resource_of(kind: MetallbKind) -> Resource:
    """The per-object module description of ``kind``."""
    return RESOURCES[str(kind.module)]


def entry_spec(kind: MetallbKind) -> Options:
    """The argument spec of one ``config`` entry of ``kind``.

    Its module's options but the connection options and ``namespace`` (the resource module's own).

    ``state: absent`` deletes the named object in the same run (only its name counts); the
    module's constraints for a present object (:func:`entry_constraints`) hold for the others.
    """
    resource = resource_of(kind)
    return {
        "name": {"type": "str", "required": True},
        "labels": {"type": "dict"},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        **resource.object_options(),
    }


def entry_constraints(kind: MetallbKind) -> Mapping[str, Any]:
    """The per-entry constraints of ``kind`` (``mutually_exclusive``, ``required_if`` ...)."""
    return resource_of(kind).module_kwargs


def kind_of_field(field: str) -> MetallbKind:
    """The kind a ``config`` key (``pools``, ``bgp_peers`` ...) holds."""
    return next(kind for kind in APPLY_ORDER if kind.resources_field == field)


def config_fields() -> list[str]:
    """The keys of ``config``, in apply order."""
    return [str(kind.resources_field) for kind in APPLY_ORDER]


def key(obj: Mapping[str, Any]) -> Key:
    """``(kind, name)`` of an object."""
    return str(obj.get("kind")), str((obj.get("metadata") or {}).get("name") or "")


def is_absent(entry: Mapping[str, Any]) -> bool:
    """True for a ``config`` entry that asks for its object's deletion (``state: absent``)."""
    return entry.get("state") == "absent"


def declared_objects(config: Mapping[str, Any] | None, namespace: str) -> list[Object]:
    """The objects ``config`` declares present, in apply order, as the per-object modules build them."""
    objects = []
    for kind in APPLY_ORDER:
        for entry in (config or {}).get(str(kind.resources_field)) or []:
            if not is_absent(entry):
                objects.append(build_object(resource_of(kind), {**entry, "namespace": namespace}))
    return objects


def absent_keys(config: Mapping[str, Any] | None) -> list[Key]:
    """``(kind, name)`` of every ``config`` entry with ``state: absent``, in apply order."""
    return [
        (kind.kind, str(entry.get("name")))
        for kind in APPLY_ORDER
        for entry in (config or {}).get(str(kind.resources_field)) or []
        if is_absent(entry)
    ]


def options_from_object(kind: MetallbKind, obj: Mapping[str, Any]) -> dict[str, Any]:
    """The ``config`` entry an object corresponds to (the inverse of ``build_object``).

    Secret fields are masked; fields and annotations the module has no option for are left out.
    """
    resource = resource_of(kind)
    cleaned = redact(resource, obj)
    metadata = cleaned.get("metadata") or {}
    entry: dict[str, Any] = {"name": metadata.get("name")}
    if metadata.get("labels"):
        entry["labels"] = dict(metadata["labels"])
    annotations = metadata.get("annotations") or {}
    for option, annotation in resource.annotation_options.items():
        if annotations.get(annotation.key) is not None:
            entry[option] = annotations[annotation.key]
    entry.update(_options(resource.options, cleaned.get("spec") or {}))
    return entry


def _options(options: Options, fields: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for option, option_spec in options.items():
        value = fields.get(field_name(option))
        if value is None:
            continue
        suboptions = option_spec.get("options")
        if suboptions is not None and option_spec["type"] == "dict" and isinstance(value, Mapping):
            value = _options(suboptions, value)
        elif suboptions is not None and isinstance(value, list):
            value = [_options(suboptions, item) if isinstance(item, Mapping) else item for item in value]
        values[option] = copy.deepcopy(value)
    return values


def config_from_objects(objects: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """``config`` describing ``objects``: one list per kind present, entries sorted by name."""
    config: dict[str, list[dict[str, Any]]] = {}
    for kind in APPLY_ORDER:
        ofkind = sorted((obj for obj in objects if obj.get("kind") == kind.kind), key=key)
        if ofkind:
            config[str(kind.resources_field)] = [options_from_object(kind, obj) for obj in ofkind]
    return config


def merge(current: Mapping[str, Any] | None, declared: Object) -> Object:
    """``declared`` merged into ``current``: declared labels, annotations and spec fields win, others stay.

    Of the current annotations only those the kind's options set are kept (others, such as
    ``kubectl``'s, are not this collection's to apply).
    """
    if not current:
        return declared
    merged = copy.deepcopy(declared)
    metadata = current.get("metadata") or {}
    labels = {**(metadata.get("labels") or {}), **(declared["metadata"].get("labels") or {})}
    if labels:
        merged["metadata"]["labels"] = labels
    managed = resource_of(_kind(declared)).annotation_keys
    annotations = {
        **{name: value for name, value in (metadata.get("annotations") or {}).items() if name in managed},
        **(declared["metadata"].get("annotations") or {}),
    }
    if annotations:
        merged["metadata"]["annotations"] = annotations
    merged["spec"] = {**copy.deepcopy(current.get("spec") or {}), **declared["spec"]}
    return merged


def target(
    state: str, existing: Sequence[Object], declared: Sequence[Object], absent: Iterable[Key] = ()
) -> list[Object]:
    """The namespace's configuration once ``state`` is reached (before the API server's defaults).

    ``merged`` merges each declared object into its current one; ``replaced`` replaces the
    declared objects; ``overridden`` replaces the whole configuration; ``deleted`` removes the
    declared objects (only their names count), or every object when none is declared. The
    ``absent`` objects (entries with ``state: absent``) go in every state.
    """
    by_key = {key(obj): obj for obj in declared}
    gone = set(absent)
    if state == "overridden":
        return list(declared)
    if state == "deleted":
        return [
            obj for obj in existing if (by_key or gone) and key(obj) not in by_key and key(obj) not in gone
        ]
    current = {key(obj): obj for obj in existing}
    written = [merge(current.get(key(obj)), obj) if state == "merged" else obj for obj in declared]
    return [*(obj for obj in existing if key(obj) not in by_key and key(obj) not in gone), *written]


@dataclass(frozen=True)
class Plan:
    """The writes of one run: objects to apply (in apply order) and objects to delete (reverse)."""

    applies: tuple[Object, ...]
    deletes: tuple[Key, ...]


def plan(
    state: str, existing: Sequence[Object], declared: Sequence[Object], absent: Iterable[Key] = ()
) -> Plan:
    """Which objects ``state`` applies and deletes (``absent`` as in :func:`target`).

    The API server's dry run tells which of the applies really change something.
    """
    after = target(state, existing, declared, absent)
    after_keys = {key(obj) for obj in after}
    rank = {kind.kind: index for index, kind in enumerate(APPLY_ORDER)}
    deletes = sorted(
        (key(obj) for obj in existing if key(obj) not in after_keys),
        key=lambda item: (-rank[item[0]], item[1]),
    )
    declared_keys = {key(obj) for obj in declared}
    applies = [obj for obj in after if key(obj) in declared_keys] if state != "deleted" else []
    applies.sort(key=lambda obj: rank[key(obj)[0]])
    return Plan(tuple(applies), tuple(deletes))


def blocking_errors(
    state: str, existing: Sequence[Object], declared: Sequence[Object], absent: Iterable[Key] = ()
) -> list[ConfigError]:
    """Errors that refuse the run (``absent`` as in :func:`target`).

    Every error of a declared object in the target configuration, and errors the run causes in
    the objects it keeps (an advertisement naming a deleted pool).
    """
    before = _validate(existing)
    after = _validate(target(state, existing, declared, absent))
    declared_keys = {key(obj) for obj in declared} if state != "deleted" else set()
    own = [error for error in after if (error.kind, error.name) in declared_keys]
    caused = [error for error in new_errors(before, after) if (error.kind, error.name) not in declared_keys]
    return own + caused


def error_lines(declared: Sequence[Object], errors: Iterable[ConfigError]) -> list[str]:
    """One line per error; errors of declared objects name the ``config`` entry and option."""
    positions: dict[Key, str] = {}
    counters: dict[str, int] = {}
    for obj in declared:
        field = str(_kind(obj).resources_field)
        positions[key(obj)] = f"config.{field}[{counters.get(field, 0)}]"
        counters[field] = counters.get(field, 0) + 1
    lines = []
    for error in errors:
        where = positions.get((error.kind, error.name))
        if where is None:
            lines.append(f"{error} (caused by this change)")
            continue
        option = option_path(resource_of(_kind_named(error.kind)), error.path)
        lines.append(f"{where}.{option} ({error.kind} {error.name!r}): {error.problem}; {error.fix}")
    return lines


def _kind(obj: Mapping[str, Any]) -> MetallbKind:
    return _kind_named(str(obj.get("kind")))


def _kind_named(name: str) -> MetallbKind:
    return next(kind for kind in APPLY_ORDER if kind.kind == name)


def duplicate_names(declared: Sequence[Object], absent: Iterable[Key] = ()) -> list[str]:
    """``Kind 'name'`` of every object declared more than once (present or ``absent``)."""
    seen: set[Key] = set()
    repeated = []
    for item in [key(obj) for obj in declared] + list(absent):
        if item in seen:
            repeated.append(f"{item[0]} {item[1]!r}")
        seen.add(item)
    return repeated


def _validate(objects: Sequence[Mapping[str, Any]]) -> list[ConfigError]:
    return validate_resources(cluster_resources(objects), strict=True)


def by_namespace(
    lists: Mapping[str, Sequence[Mapping[str, Any]]], default_namespace: str, prune: bool = False
) -> list[dict[str, Any]]:
    """The config role's lists as one ``metallb_config`` run per namespace.

    The lists hold entries of the per-object modules' options, each with an optional
    ``namespace`` and ``state``. Returns ``[{namespace, state, config}]``, one ``replaced`` run
    per namespace in order of first appearance (the default namespace first) with its entries:
    the present ones without ``namespace`` and ``state``, the absent ones as ``{name, state:
    absent}``, so one run validates and writes the namespace's additions and deletions together.

    With ``prune`` each namespace named (the default one always) gets one ``overridden`` run
    with its present entries instead: what is no longer declared there is deleted, absent
    entries included.
    """
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {default_namespace: {}}
    for field in config_fields():
        for entry in lists.get(field) or []:
            namespace = str(entry.get("namespace") or default_namespace)
            if is_absent(entry):
                kept = {"name": entry.get("name"), "state": "absent"}
            else:
                kept = {
                    option: value for option, value in entry.items() if option not in ("namespace", "state")
                }
            if prune and is_absent(entry):
                runs.setdefault(namespace, {})
                continue
            runs.setdefault(namespace, {}).setdefault(field, []).append(kept)
    state = "overridden" if prune else "replaced"
    return [
        {"namespace": namespace, "state": state, "config": config}
        for namespace, config in runs.items()
        if prune or config
    ]
