"""The metallb.io configuration modules' pure part: options, objects, comparison and messages.

Each module (``ip_address_pool``, ``l2_advertisement`` ...) is described by one :class:`Resource`:
its kind and API version, and typed snake_case options that mirror the CRD's camelCase fields.
The object sent to the cluster is derived from the options by walking their argument spec, so
an option and its field cannot drift apart (``auto_assign`` -> ``autoAssign``,
``service_allocation.namespace_selectors`` -> ``serviceAllocation.namespaceSelectors``); values
of free-form dicts such as ``match_labels`` are user data and are passed through unchanged.

Some options set an annotation of the object instead of a spec field (:class:`AnnotationOption`:
``failback`` sets :data:`.failback.FAILBACK_ANNOTATION`). They are written, compared, shown in
the diff and read back like spec fields, and left out of the object when unset, so server-side
apply removes an annotation this field manager set before.

Comparison is order-insensitive: every list in a metallb.io spec is a set or a list of label
selectors that match if any matches, so reordering addresses or selectors is not a change.

Standard library only; the Ansible side (API calls) is in :mod:`.metallb_runner`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .config_errors import ConfigError
from .declared import content
from .failback import FAILBACK_ANNOTATION, POLICIES
from .metallb_kinds import (
    BFD_PROFILE,
    BGP_ADVERTISEMENT,
    BGP_PEER,
    COMMUNITY,
    IP_ADDRESS_POOL,
    L2_ADVERTISEMENT,
    MetallbKind,
)

Options = dict[str, dict[str, Any]]
Object = dict[str, Any]

DEFAULT_NAMESPACE = "metallb-system"
REDACTED = "********"

# Options every resource module has besides the connection options; they are not spec fields.
COMMON_OPTIONS: Options = {
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str", "default": DEFAULT_NAMESPACE},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "labels": {"type": "dict"},
}

_MATCH_EXPRESSION: Options = {
    "key": {"type": "str", "required": True, "no_log": False},
    "operator": {"type": "str", "required": True, "choices": ["In", "NotIn", "Exists", "DoesNotExist"]},
    "values": {"type": "list", "elements": "str"},
}
_SELECTOR: Options = {
    "match_labels": {"type": "dict"},
    "match_expressions": {"type": "list", "elements": "dict", "options": _MATCH_EXPRESSION},
}


def _selectors() -> dict[str, Any]:
    return {"type": "list", "elements": "dict", "options": _SELECTOR}


def _strings() -> dict[str, Any]:
    return {"type": "list", "elements": "str"}


# Field names that the generic snake_case -> camelCase rule does not produce.
_FIELD_NAMES = {
    "avoid_buggy_ips": "avoidBuggyIPs",
    "my_asn": "myASN",
    "peer_asn": "peerASN",
    "local_asn": "localASN",
    "dynamic_asn": "dynamicASN",
    "router_id": "routerID",
    "aggregation_length_v6": "aggregationLengthV6",
    "ebgp_multihop": "ebgpMultiHop",
    "disable_mp": "disableMP",
}


@dataclass(frozen=True)
class AnnotationOption:
    """A module option that sets an annotation of the object rather than a spec field.

    ``key`` is the annotation, ``spec`` the option's argument spec (a string option: Kubernetes
    annotation values are strings).
    """

    key: str
    spec: Mapping[str, Any]


@dataclass(frozen=True)
class Resource:
    """One metallb.io kind as a module sees it.

    ``definition`` is the kind's entry in :mod:`.metallb_kinds` (kind, version, plural, module);
    ``options`` are the spec options (their argument spec); ``annotation_options`` the options
    that set annotations of the object instead; ``module_kwargs`` the extra AnsibleModule
    constraints (``mutually_exclusive``, ``required_if`` ...) mirroring the CRD's CEL rules;
    ``secret_fields`` are spec fields never returned in clear.
    """

    definition: MetallbKind
    options: Options
    module_kwargs: Mapping[str, Any] = field(default_factory=dict)
    secret_fields: tuple[str, ...] = ()
    annotation_options: Mapping[str, AnnotationOption] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """The kind, e.g. ``IPAddressPool``."""
        return self.definition.kind

    @property
    def version(self) -> str:
        """The version the module reads and writes (the storage version)."""
        return self.definition.version

    @property
    def plural(self) -> str:
        """The plural resource name, e.g. ``ipaddresspools``."""
        return self.definition.plural

    @property
    def api_version(self) -> str:
        """``apiVersion`` of the objects, e.g. ``metallb.io/v1beta1``."""
        return self.definition.api_version

    @property
    def annotation_keys(self) -> tuple[str, ...]:
        """The annotations the module's options set (and its comparison and diff look at)."""
        return tuple(option.key for option in self.annotation_options.values())

    def object_options(self) -> Options:
        """The argument spec of the options that describe the object: spec and annotation options."""
        annotations = {name: dict(option.spec) for name, option in self.annotation_options.items()}
        return {**copy.deepcopy(self.options), **copy.deepcopy(annotations)}

    def argument_spec(self) -> Options:
        """The module's own argument spec: the common options and the object's options."""
        return {**copy.deepcopy(COMMON_OPTIONS), **self.object_options()}


def _by_module(*resources: Resource) -> dict[str, Resource]:
    return {str(resource.definition.module): resource for resource in resources}


# ``failback``: the layer-2 failback policy of the IPs an L2Advertisement announces (:mod:`.failback`).
_FAILBACK = AnnotationOption(FAILBACK_ANNOTATION, {"type": "str", "choices": list(POLICIES)})

RESOURCES: dict[str, Resource] = _by_module(
    Resource(
        IP_ADDRESS_POOL,
        {
            "addresses": _strings(),
            "auto_assign": {"type": "bool"},
            "avoid_buggy_ips": {"type": "bool"},
            "service_allocation": {
                "type": "dict",
                "options": {
                    "priority": {"type": "int"},
                    "namespaces": _strings(),
                    "namespace_selectors": _selectors(),
                    "service_selectors": _selectors(),
                },
            },
        },
        {"required_if": [("state", "present", ("addresses",))]},
    ),
    Resource(
        L2_ADVERTISEMENT,
        {
            "ip_address_pools": _strings(),
            "ip_address_pool_selectors": _selectors(),
            "node_selectors": _selectors(),
            "interfaces": _strings(),
            "service_selectors": _selectors(),
            "preferred_node_selectors": {
                "type": "list",
                "elements": "dict",
                "options": {
                    "weight": {"type": "int", "required": True},
                    "preference": {"type": "dict", "required": True, "options": _SELECTOR},
                },
            },
        },
        annotation_options={"failback": _FAILBACK},
    ),
    Resource(
        BGP_ADVERTISEMENT,
        {
            "aggregation_length": {"type": "int"},
            "aggregation_length_v6": {"type": "int"},
            "local_pref": {"type": "int"},
            "communities": _strings(),
            "ip_address_pools": _strings(),
            "ip_address_pool_selectors": _selectors(),
            "node_selectors": _selectors(),
            "peers": _strings(),
            "service_selectors": _selectors(),
        },
    ),
    Resource(
        BGP_PEER,
        {
            "my_asn": {"type": "int"},
            "peer_asn": {"type": "int"},
            "local_asn": {"type": "int"},
            "dynamic_asn": {"type": "str", "choices": ["internal", "external"]},
            "peer_address": {"type": "str"},
            "interface": {"type": "str"},
            "source_address": {"type": "str"},
            "peer_port": {"type": "int"},
            "hold_time": {"type": "str"},
            "keepalive_time": {"type": "str"},
            "connect_time": {"type": "str"},
            "router_id": {"type": "str"},
            "node_selectors": _selectors(),
            "password": {"type": "str", "no_log": True},
            "password_secret": {
                "type": "dict",
                "no_log": False,
                "options": {"name": {"type": "str", "required": True}, "namespace": {"type": "str"}},
            },
            "bfd_profile": {"type": "str"},
            "enable_graceful_restart": {"type": "bool"},
            "ebgp_multihop": {"type": "bool"},
            "vrf": {"type": "str"},
            "disable_mp": {"type": "bool"},
            "dual_stack_address_family": {"type": "bool"},
        },
        {
            "mutually_exclusive": [
                ("peer_asn", "dynamic_asn"),
                ("peer_address", "interface"),
                ("password", "password_secret"),
            ],
            "required_if": [
                ("state", "present", ("my_asn",)),
                ("state", "present", ("peer_asn", "dynamic_asn"), True),
                ("state", "present", ("peer_address", "interface"), True),
            ],
        },
        secret_fields=("password",),
    ),
    Resource(
        COMMUNITY,
        {
            "communities": {
                "type": "list",
                "elements": "dict",
                "options": {
                    "name": {"type": "str", "required": True},
                    "value": {"type": "str", "required": True},
                },
            },
        },
    ),
    Resource(
        BFD_PROFILE,
        {
            "receive_interval": {"type": "int"},
            "transmit_interval": {"type": "int"},
            "detect_multiplier": {"type": "int"},
            "echo_interval": {"type": "int"},
            "echo_mode": {"type": "bool"},
            "passive_mode": {"type": "bool"},
            "minimum_ttl": {"type": "int"},
        },
    ),
)


def field_name(option: str) -> str:
    """The camelCase field an option sets: ``auto_assign`` -> ``autoAssign``."""
    if option in _FIELD_NAMES:
        return _FIELD_NAMES[option]
    first, *rest = option.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def build_object(resource: Resource, params: Mapping[str, Any]) -> Object:
    """The object the module's ``params`` describe, as sent with server-side apply.

    Options left out (``None``) are left out of the object, so the API server's defaults apply
    and server-side apply drops fields (and annotations) this field manager set before but no
    longer sets.
    """
    metadata: Object = {"name": params["name"], "namespace": params.get("namespace") or DEFAULT_NAMESPACE}
    if params.get("labels"):
        metadata["labels"] = {str(key): str(value) for key, value in params["labels"].items()}
    annotations = {
        option.key: str(params[name])
        for name, option in resource.annotation_options.items()
        if params.get(name) is not None
    }
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "metadata": metadata,
        "spec": _fields(resource.options, params),
    }


def _fields(options: Options, params: Mapping[str, Any]) -> Object:
    spec: Object = {}
    for option, option_spec in options.items():
        value = params.get(option)
        if value is None:
            continue
        suboptions = option_spec.get("options")
        if suboptions is not None and option_spec["type"] == "dict":
            value = _fields(suboptions, value)
        elif suboptions is not None:
            value = [_fields(suboptions, item) for item in value]
        spec[field_name(option)] = value
    return spec


def normalise(value: Any) -> Any:
    """``value`` with every list sorted (recursively), for order-insensitive comparison."""
    if isinstance(value, Mapping):
        return {key: normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        items = [normalise(item) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return value


def same_content(
    resource: Resource, first: Mapping[str, Any] | None, second: Mapping[str, Any] | None
) -> bool:
    """Whether two objects have the same labels, managed annotations and spec, ignoring the order of lists.

    Secret fields are compared in clear: a new password is a change.
    """
    keys = resource.annotation_keys
    same: bool = normalise(content(first, keys)) == normalise(content(second, keys))
    return same


def shown(resource: Resource, obj: Mapping[str, Any] | None) -> Object:
    """What a diff shows of ``obj``: name, namespace, labels, the managed annotations and the spec.

    Secret spec fields masked; an absent object is ``{}``.
    """
    return content(redact(resource, obj), resource.annotation_keys)


def redact(resource: Resource, obj: Mapping[str, Any] | None) -> Object:
    """A copy of ``obj`` without server bookkeeping and with secret spec fields masked."""
    if not obj:
        return {}
    cleaned = copy.deepcopy(dict(obj))
    (cleaned.get("metadata") or {}).pop("managedFields", None)
    spec = cleaned.get("spec") or {}
    for name in resource.secret_fields:
        if spec.get(name):
            spec[name] = REDACTED
    return cleaned


def option_path(resource: Resource, path: str) -> str:
    """The option a field path of the module's object comes from.

    ``spec.serviceAllocation.namespaceSelectors[0].matchLabels[app]`` becomes
    ``service_allocation.namespace_selectors[0].match_labels[app]``; ``metadata.name`` is ``name``.
    Parts that are not options (user-chosen label keys) are kept as they are.
    """
    if path.startswith("metadata."):
        return path.removeprefix("metadata.")
    options: Options | None = {**resource.options}
    parts = []
    for part in re.findall(r"[^.\[]+|\[[^\]]*\]", path.removeprefix("spec.")):
        if part.startswith("["):
            parts.append(part)
            continue
        option = next((name for name in options or {} if field_name(name) == part), None)
        if option is None:
            parts.append(f".{part}")
            options = None
            continue
        parts.append(f".{option}")
        options = (options or {})[option].get("options")
    return "".join(parts).lstrip(".")


def error_messages(resource: Resource, name: str, errors: Iterable[ConfigError]) -> list[str]:
    """One line per error; errors of the module's own object name the option to fix."""
    lines = []
    for error in errors:
        if (error.kind, error.name) == (resource.kind, name):
            lines.append(
                f"{option_path(resource, error.path)}: {error.problem}; {error.fix} "
                f"({error.kind} {error.name!r} {error.path})"
            )
        else:
            lines.append(f"{error} (caused by this {resource.kind})")
    return lines


def configuration_with(
    existing: Sequence[Mapping[str, Any]], desired: Mapping[str, Any] | None, kind: str, name: str
) -> list[Mapping[str, Any]]:
    """The cluster's objects with object ``kind``/``name`` replaced by ``desired`` (None: removed).

    ``desired`` goes last, so checks that blame the later of two objects (a duplicate alias)
    blame it.
    """
    others = [obj for obj in existing if (obj.get("kind"), _name(obj)) != (kind, name)]
    return [*others, desired] if desired is not None else others


def new_errors(before: Sequence[ConfigError], after: Sequence[ConfigError]) -> list[ConfigError]:
    """Errors in ``after`` that ``before`` did not have: the ones a change causes."""
    known = set(before)
    return [error for error in after if error not in known]


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")
