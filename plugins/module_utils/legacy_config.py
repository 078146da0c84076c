"""Convert MetalLB's pre-0.13 ConfigMap configuration into metallb.io objects.

Before MetalLB 0.13 the whole configuration was one YAML document in ConfigMap
``metallb-system/config``, key ``config``: ``address-pools``, ``peers``, ``bgp-communities`` and
``bfd-profiles``. :func:`convert` turns the parsed document into the objects MetalLB's own
converter (``configmaptocrs``) writes:

* one IPAddressPool per pool (``autoAssign`` only when ``auto-assign`` is set, ``avoidBuggyIPs``
  only when true); names that are not Kubernetes names are made into ones as MetalLB does
  (cut to 63 characters, lower case, ``_`` -> ``-``, everything before the first letter dropped);
* one L2Advertisement ``l2advertisement<N>`` per layer2 pool;
* one BGPAdvertisement ``bgpadvertisement<N>`` per ``bgp-advertisements`` entry, or one without
  options for a bgp pool that has none (N counts over all pools);
* one BGPPeer (v1beta2) ``peer<N>`` per peer; ``holdTime`` is always written (90s when unset,
  cut to whole seconds); the password stays in ``spec.password`` in clear, as MetalLB keeps it;
* one BFDProfile per profile (``echoMode`` and ``passiveMode`` always written);
* one Community ``communities`` holding every alias, sorted by name.

Where we differ on purpose: MetalLB 0.12 read the ConfigMap strictly, so unknown keys, a missing or
unknown ``protocol`` and ``bgp-advertisements`` on a layer2 pool are reported here instead of being
dropped silently (the converter turns a pool with a misspelt protocol into a pool that nobody
announces); ``keepaliveTime`` is written only when ``keepalive-time`` is set (the converter writes
``0s``, which means "derive it from holdTime"), and the empty ``passwordSecret: {}`` is left out.

Problems are reported with the legacy field path (``address-pools[1].addresses[0]``), both the
ones found while converting and, through :meth:`Conversion.legacy_path`, the ones the
whole-configuration validation finds in the converted objects.

Standard library only, except the YAML loader which needs PyYAML (always there with Ansible).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    yaml = None  # type: ignore[assignment]

from .config_errors import ConfigError
from .durations import parse_duration
from .metallb_kinds import (
    BFD_PROFILE,
    BGP_ADVERTISEMENT,
    BGP_PEER,
    COMMUNITY,
    IP_ADDRESS_POOL,
    L2_ADVERTISEMENT,
    MetallbKind,
)

Object = dict[str, Any]

COMMUNITY_NAME = "communities"
DEFAULT_HOLD_TIME = 90
LAYER2, BGP = "layer2", "bgp"

_K8S_NAME = re.compile(r"^[a-z][-a-z0-9]{0,61}[a-z0-9]$")
_MAX_NAME = 63

_TOP_KEYS = ("peers", "bgp-communities", "address-pools", "bfd-profiles")
_POOL_KEYS = ("name", "protocol", "addresses", "auto-assign", "avoid-buggy-ips", "bgp-advertisements")
_BGP_AD_KEYS = ("aggregation-length", "aggregation-length-v6", "localpref", "communities")
_PEER_KEYS = (
    "my-asn",
    "peer-asn",
    "peer-address",
    "source-address",
    "peer-port",
    "hold-time",
    "keepalive-time",
    "router-id",
    "node-selectors",
    "password",
    "bfd-profile",
    "ebgp-multihop",
)
_SELECTOR_KEYS = ("match-labels", "match-expressions")
_EXPRESSION_KEYS = ("key", "operator", "values")
# BFD profile fields: legacy name -> CR field; the intervals are optional numbers.
_BFD_NUMBERS = {
    "receive-interval": "receiveInterval",
    "transmit-interval": "transmitInterval",
    "detect-multiplier": "detectMultiplier",
    "echo-interval": "echoInterval",
    "minimum-ttl": "minimumTtl",
}
_BFD_KEYS = ("name", *_BFD_NUMBERS, "echo-mode", "passive-mode")

# CR field -> legacy key, for naming the legacy field of an error found in a converted object.
_LEGACY_FIELDS = {
    "autoAssign": "auto-assign",
    "avoidBuggyIPs": "avoid-buggy-ips",
    "aggregationLength": "aggregation-length",
    "aggregationLengthV6": "aggregation-length-v6",
    "localPref": "localpref",
    "myASN": "my-asn",
    "peerASN": "peer-asn",
    "peerAddress": "peer-address",
    "sourceAddress": "source-address",
    "peerPort": "peer-port",
    "holdTime": "hold-time",
    "keepaliveTime": "keepalive-time",
    "routerID": "router-id",
    "nodeSelectors": "node-selectors",
    "matchLabels": "match-labels",
    "matchExpressions": "match-expressions",
    "bfdProfile": "bfd-profile",
    "ebgpMultiHop": "ebgp-multihop",
    "echoMode": "echo-mode",
    "passiveMode": "passive-mode",
    **{crd: legacy for legacy, crd in _BFD_NUMBERS.items()},
}
_PATH_PART = re.compile(r"[^.\[]+|\[[^\]]*\]")


class LegacyConfigError(ValueError):
    """The legacy configuration cannot be read or converted; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[LegacyProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass(frozen=True)
class LegacyProblem:
    """A problem in one field of the legacy configuration and how to fix it."""

    path: str
    problem: str
    fix: str

    def __str__(self) -> str:
        where = self.path or "config"
        return f"{where}: {self.problem}; {self.fix}"


@dataclass(frozen=True)
class Origin:
    """Where a converted object comes from: a legacy path, and special paths for some fields.

    ``fields`` maps a CR field path prefix (``spec.ipAddressPools``) to the legacy path that
    holds it (``address-pools[0].name``) when the generic translation would be wrong.
    """

    path: str
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Conversion:
    """The converted objects, where each came from, and the names MetalLB's rule changed."""

    objects: list[Object] = field(default_factory=list)
    origins: dict[tuple[str, str], Origin] = field(default_factory=dict)
    renamed: list[dict[str, str]] = field(default_factory=list)
    passwords: list[str] = field(default_factory=list)

    def legacy_path(self, kind: str, name: str, path: str) -> str | None:
        """The legacy field an error at ``path`` of converted object ``kind``/``name`` points to.

        ``None`` when the object is not one of the converted ones.
        """
        origin = self.origins.get((kind, name))
        if origin is None:
            return None
        for prefix in sorted(origin.fields, key=len, reverse=True):
            if path == prefix or path.startswith((prefix + ".", prefix + "[")):
                rest = path[len(prefix) :]
                if origin.fields[prefix].startswith("bgp-communities"):
                    rest = ""  # an alias is one key: value line
                return origin.fields[prefix] + _translate(rest)
        if path == "metadata.name":
            return _join(origin.path, "name")
        if path.startswith("metadata."):
            return origin.path
        return _join(origin.path, _translate(path.removeprefix("spec")).lstrip("."))

    def describe(self, error: ConfigError) -> str:
        """One line for ``error``, naming the legacy field first when it is in a converted object."""
        legacy = self.legacy_path(error.kind, error.name, error.path)
        if legacy is None:
            return f"{error} (an existing object the converted configuration conflicts with)"
        converted = f"converted to {error.kind} {error.name!r} {error.path}"
        return f"{legacy or 'config'}: {error.problem}; {error.fix} ({converted})"


def load_yaml(text: str) -> Any:
    """Parse the legacy configuration text as MetalLB did (``64512:1`` stays a string).

    PyYAML follows YAML 1.1, where ``64512:1`` is a base-60 number; Go's YAML reader gave
    MetalLB the string, so this loader does not resolve base-60 numbers.
    Raises :class:`LegacyConfigError` when the text is not YAML.
    """
    if yaml is None:  # pragma: no cover
        raise LegacyConfigError([LegacyProblem("", "PyYAML is not installed", "install PyYAML")])
    try:
        return yaml.load(text, Loader=go_yaml_loader())  # a SafeLoader subclass
    except yaml.YAMLError as error:
        raise LegacyConfigError(
            [LegacyProblem("", f"is not valid YAML: {error}", "fix the YAML syntax")]
        ) from None


def go_yaml_loader() -> Any:
    """A PyYAML SafeLoader class that reads numbers as Go's YAML reader (and kubectl) does.

    YAML 1.1 reads ``1234:1`` (a BGP community, unquoted in MetalLB's examples) as a base-60
    number; Go and Kubernetes read the string. Use with ``yaml.load(text, Loader=...)``.
    """

    class _LegacyLoader(yaml.SafeLoader):
        pass

    resolvers = {
        first: [(tag, regexp) for tag, regexp in entries if tag not in _NUMBER_TAGS]
        for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _LegacyLoader.yaml_implicit_resolvers = resolvers
    _LegacyLoader.add_implicit_resolver(
        "tag:yaml.org,2002:int",
        re.compile(r"^[-+]?(0|[1-9][0-9_]*|0x[0-9a-fA-F_]+|0o?[0-7_]+)$"),
        list("-+0123456789"),
    )
    _LegacyLoader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(
            r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?|\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        list("-+0123456789."),
    )
    return _LegacyLoader


_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


def k8s_name(name: str) -> str | None:
    """``name`` as MetalLB's converter makes it a Kubernetes name; None if it has no letter."""
    if _K8S_NAME.match(name):
        return name
    lowered = name[:_MAX_NAME].lower().replace("_", "-")
    first = re.search(r"[a-z]", lowered)
    return lowered[first.start() :] if first else None


def go_duration(seconds: int) -> str:
    """Whole seconds written as Go writes a duration: ``90`` -> ``1m30s``, ``3600`` -> ``1h0m0s``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def convert(data: Any, namespace: str) -> Conversion:
    """Convert the parsed legacy configuration into metallb.io objects in ``namespace``.

    Raises :class:`LegacyConfigError` listing every problem found while reading it; problems
    in the converted objects themselves (overlaps, bad addresses ...) are left to the
    whole-configuration validation, whose errors :meth:`Conversion.describe` words in legacy terms.
    """
    return _Converter(namespace).run(data)


class _Converter:
    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.problems: list[LegacyProblem] = []
        self.result = Conversion()

    def run(self, data: Any) -> Conversion:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            self._fail(
                "", "is not a mapping", "write the keys address-pools, peers, bgp-communities, bfd-profiles"
            )
            raise LegacyConfigError(self.problems)
        self._unknown_keys(data, "", _TOP_KEYS)
        bfd_names = self._bfd_profiles(self._list(data, "bfd-profiles", ""))
        self._communities(data.get("bgp-communities"))
        self._peers(self._list(data, "peers", ""), bfd_names)
        self._pools(self._list(data, "address-pools", ""))
        if self.problems:
            raise LegacyConfigError(self.problems)
        # MetalLB's converter lists the objects in this order.
        order = [
            kind.kind
            for kind in (
                BGP_PEER,
                IP_ADDRESS_POOL,
                BGP_ADVERTISEMENT,
                L2_ADVERTISEMENT,
                BFD_PROFILE,
                COMMUNITY,
            )
        ]
        self.result.objects.sort(key=lambda obj: order.index(obj["kind"]))
        return self.result

    # -- helpers ---------------------------------------------------------------------------------

    def _fail(self, path: str, problem: str, fix: str) -> None:
        self.problems.append(LegacyProblem(path, problem, fix))

    def _unknown_keys(self, data: Mapping[Any, Any], path: str, known: Sequence[str]) -> None:
        for key in data:
            if key not in known:
                self._fail(
                    _join(path, str(key)),
                    "is not a field of MetalLB's legacy configuration",
                    f"remove it or use one of: {', '.join(known)}",
                )

    def _list(self, data: Mapping[str, Any], key: str, path: str) -> list[tuple[str, Mapping[str, Any]]]:
        """The entries of list ``data[key]`` that are mappings, each with its path."""
        items = data.get(key)
        where = _join(path, key)
        if items is None:
            return []
        if not isinstance(items, list):
            self._fail(where, "is not a list", f"write {key} as a YAML list (- ...)")
            return []
        entries = []
        for index, item in enumerate(items):
            if isinstance(item, Mapping):
                entries.append((f"{where}[{index}]", item))
            else:
                self._fail(f"{where}[{index}]", "is not a mapping", "write the entry's fields as key: value")
        return entries

    def _text(self, data: Mapping[str, Any], key: str, path: str, required: bool = False) -> str:
        value = data.get(key)
        if value is None or value == "":
            if required:
                self._fail(_join(path, key), "is missing", f"set {key}")
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int):
            self._fail(_join(path, key), f"{value!r} is not text", "write a string")
            return ""
        return str(value)

    def _number(self, data: Mapping[str, Any], key: str, path: str, high: int) -> int | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
            self._fail(
                _join(path, key), f"{value!r} is not a whole number from 0 to {high}", f"use 0..{high}"
            )
            return None
        return value

    def _flag(self, data: Mapping[str, Any], key: str, path: str) -> bool | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            self._fail(_join(path, key), f"{value!r} is not true or false", "write true or false")
            return None
        return value

    def _strings(self, data: Mapping[str, Any], key: str, path: str) -> list[str]:
        values = data.get(key)
        if values is None:
            return []
        if not isinstance(values, list):
            self._fail(_join(path, key), "is not a list", f"write {key} as a YAML list of strings")
            return []
        texts = []
        for index, value in enumerate(values):
            if isinstance(value, bool) or not isinstance(value, str | int):
                self._fail(f"{_join(path, key)}[{index}]", f"{value!r} is not text", "write a string")
            else:
                texts.append(str(value))
        return texts

    def _name(self, kind: str, name: str, path: str) -> str:
        converted = k8s_name(name)
        if converted is None:
            self._fail(
                _join(path, "name"), f"{name!r} has no letter", "give it a name with at least one letter"
            )
            return name
        if converted != name:
            self.result.renamed.append({"kind": kind, "from": name, "to": converted})
        return converted

    def _add(self, kind: MetallbKind, name: str, spec: Object, origin: Origin) -> None:
        self.result.objects.append(
            {
                "apiVersion": kind.api_version,
                "kind": kind.kind,
                "metadata": {"name": name, "namespace": self.namespace},
                "spec": spec,
            }
        )
        self.result.origins[(kind.kind, name)] = origin

    # -- the sections ----------------------------------------------------------------------------

    def _bfd_profiles(self, entries: list[tuple[str, Mapping[str, Any]]]) -> dict[str, str]:
        names: dict[str, str] = {}
        for path, entry in entries:
            self._unknown_keys(entry, path, _BFD_KEYS)
            raw = self._text(entry, "name", path, required=True)
            if not raw:
                continue
            name = self._name("BFDProfile", raw, path)
            names[raw] = name
            spec: Object = {}
            for legacy, crd in _BFD_NUMBERS.items():
                number = self._number(entry, legacy, path, 2**32 - 1)
                if number is not None:
                    spec[crd] = number
            spec["echoMode"] = bool(self._flag(entry, "echo-mode", path))
            spec["passiveMode"] = bool(self._flag(entry, "passive-mode", path))
            self._add(BFD_PROFILE, name, spec, Origin(path))
        return names

    def _communities(self, data: Any) -> None:
        if data is None:
            return
        if not isinstance(data, Mapping):
            self._fail("bgp-communities", "is not a mapping", "write each alias as alias: AA:NN")
            return
        aliases: dict[str, str] = {}
        for alias, value in data.items():
            path = f"bgp-communities.{alias}"
            if isinstance(value, bool) or not isinstance(value, str | int):
                self._fail(path, f"{value!r} is not a community", "write the value as AA:NN")
                continue
            aliases[str(alias)] = str(value)
        if aliases:
            items = sorted(aliases.items())
            fields = {
                f"spec.communities[{index}]": f"bgp-communities.{alias}"
                for index, (alias, _v) in enumerate(items)
            }
            spec = {"communities": [{"name": alias, "value": value} for alias, value in items]}
            self._add(COMMUNITY, COMMUNITY_NAME, spec, Origin("bgp-communities", fields))

    def _peers(self, entries: list[tuple[str, Mapping[str, Any]]], bfd_names: Mapping[str, str]) -> None:
        for number, (path, entry) in enumerate(entries, start=1):
            self._unknown_keys(entry, path, _PEER_KEYS)
            spec: Object = {}
            for key, crd in (("my-asn", "myASN"), ("peer-asn", "peerASN")):
                asn = self._number(entry, key, path, 2**32 - 1)
                if asn:
                    spec[crd] = asn
                elif asn == 0 or key not in entry:
                    self._fail(_join(path, key), "is missing (or 0)", f"set {key} to the AS number")
            spec["peerAddress"] = self._text(entry, "peer-address", path, required=True)
            for key, crd in (("source-address", "sourceAddress"), ("router-id", "routerID")):
                if text := self._text(entry, key, path):
                    spec[crd] = text
            port = self._number(entry, "peer-port", path, 65535)
            if port:
                spec["peerPort"] = port
            spec.update(self._timers(entry, path))
            selectors = [
                self._selector(item_path, item)
                for item_path, item in self._list(entry, "node-selectors", path)
            ]
            if selectors:
                spec["nodeSelectors"] = selectors
            if password := self._text(entry, "password", path):
                spec["password"] = password
                self.result.passwords.append(password)
            if bfd := self._text(entry, "bfd-profile", path):
                spec["bfdProfile"] = bfd_names.get(bfd) or k8s_name(bfd) or bfd
            if self._flag(entry, "ebgp-multihop", path):
                spec["ebgpMultiHop"] = True
            self._add(BGP_PEER, f"peer{number}", spec, Origin(path))

    def _timers(self, entry: Mapping[str, Any], path: str) -> Object:
        """The timers: holdTime (always, 90s by default) and keepaliveTime (when set), whole seconds."""
        hold = self._seconds(entry, "hold-time", path)
        if hold is not None and hold != 0 and hold < 3:
            self._fail(
                _join(path, "hold-time"),
                f"{entry['hold-time']!r} is neither 0 nor at least 3s",
                "use 0s, or 3s and more",
            )
        timers = {"holdTime": go_duration(DEFAULT_HOLD_TIME if hold is None else hold)}
        keepalive = self._seconds(entry, "keepalive-time", path)
        if keepalive is not None:
            timers["keepaliveTime"] = go_duration(keepalive)
        return timers

    def _seconds(self, entry: Mapping[str, Any], key: str, path: str) -> int | None:
        value = entry.get(key)
        if value is None or value == "":
            return None
        if value == 0:
            return 0
        if isinstance(value, bool) or not isinstance(value, str):
            fix = (
                f"write it with a unit, like '{value}s'" if isinstance(value, int) else "write it like '90s'"
            )
            self._fail(_join(path, key), f"{value!r} is not a duration", fix)
            return None
        try:
            return int(parse_duration(value))
        except ValueError as error:
            self._fail(_join(path, key), str(error), "write it like '90s' or '1m30s'")
            return None

    def _selector(self, path: str, item: Mapping[str, Any]) -> Object:
        self._unknown_keys(item, path, _SELECTOR_KEYS)
        selector: Object = {}
        labels = item.get("match-labels")
        if labels is not None:
            if isinstance(labels, Mapping):
                selector["matchLabels"] = {str(key): str(value) for key, value in labels.items()}
            else:
                self._fail(_join(path, "match-labels"), "is not a mapping", "write labels as key: value")
        expressions = []
        for expression_path, expression in self._list(item, "match-expressions", path):
            self._unknown_keys(expression, expression_path, _EXPRESSION_KEYS)
            requirement: Object = {
                "key": self._text(expression, "key", expression_path, required=True),
                "operator": self._text(expression, "operator", expression_path, required=True),
            }
            values = self._strings(expression, "values", expression_path)
            if values:
                requirement["values"] = values
            expressions.append(requirement)
        if expressions:
            selector["matchExpressions"] = expressions
        return selector

    def _pools(self, entries: list[tuple[str, Mapping[str, Any]]]) -> None:
        l2_count = bgp_count = 0
        for path, entry in entries:
            self._unknown_keys(entry, path, _POOL_KEYS)
            raw = self._text(entry, "name", path, required=True)
            name = self._name("IPAddressPool", raw, path) if raw else ""
            protocol = self._text(entry, "protocol", path)
            if protocol not in (LAYER2, BGP):
                problem = "is missing" if not protocol else f"{protocol!r} is not a protocol"
                self._fail(_join(path, "protocol"), problem, "use layer2 or bgp")
            spec: Object = {"addresses": self._strings(entry, "addresses", path)}
            auto_assign = self._flag(entry, "auto-assign", path)
            if auto_assign is not None:
                spec["autoAssign"] = auto_assign
            if self._flag(entry, "avoid-buggy-ips", path):
                spec["avoidBuggyIPs"] = True
            if not name:
                continue
            self._add(IP_ADDRESS_POOL, name, spec, Origin(path))
            pool_field = {"spec.ipAddressPools": _join(path, "name")}
            advertisements = self._list(entry, "bgp-advertisements", path)
            if protocol == LAYER2:
                for ad_path, _ad in advertisements:
                    self._fail(
                        ad_path,
                        "is a BGP advertisement of a layer2 pool",
                        f"remove it or make the pool protocol: {BGP}",
                    )
                l2_count += 1
                self._add(
                    L2_ADVERTISEMENT,
                    f"l2advertisement{l2_count}",
                    {"ipAddressPools": [name]},
                    Origin(path, pool_field),
                )
            elif protocol == BGP:
                for ad_path, ad in advertisements:
                    bgp_count += 1
                    self._add(
                        BGP_ADVERTISEMENT,
                        f"bgpadvertisement{bgp_count}",
                        self._bgp_ad(ad_path, ad, name),
                        Origin(ad_path, pool_field),
                    )
                if not entry.get("bgp-advertisements"):
                    bgp_count += 1
                    self._add(
                        BGP_ADVERTISEMENT,
                        f"bgpadvertisement{bgp_count}",
                        {"ipAddressPools": [name]},
                        Origin(path, pool_field),
                    )

    def _bgp_ad(self, path: str, ad: Mapping[str, Any], pool: str) -> Object:
        self._unknown_keys(ad, path, _BGP_AD_KEYS)
        spec: Object = {}
        for key, crd, high in (
            ("aggregation-length", "aggregationLength", 32),
            ("aggregation-length-v6", "aggregationLengthV6", 128),
        ):
            length = self._number(ad, key, path, high)
            if length is not None:
                spec[crd] = length
        localpref = self._number(ad, "localpref", path, 2**32 - 1)
        if localpref:
            spec["localPref"] = localpref
        communities = self._strings(ad, "communities", path)
        if communities:
            spec["communities"] = communities
        spec["ipAddressPools"] = [pool]
        return spec


def _join(path: str, key: str) -> str:
    if not key:
        return path
    if not path:
        return key
    return f"{path}{key}" if key.startswith("[") else f"{path}.{key}"


def _translate(path: str) -> str:
    """A CR field path (``.nodeSelectors[0].matchLabels``) in legacy words (``.node-selectors[0]...``)."""
    parts = []
    for part in _PATH_PART.findall(path):
        parts.append(part if part.startswith("[") else "." + _LEGACY_FIELDS.get(part, part))
    return "".join(parts)
