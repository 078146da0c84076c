"""Kubernetes label selectors (``matchLabels`` and ``matchExpressions``): check and match."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .config_errors import FieldProblem

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_LABEL_NAME = re.compile(f"^{_NAME}$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class Operator(StrEnum):
    """The operators of a ``matchExpressions`` requirement."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


@dataclass(frozen=True)
class Requirement:
    """One ``matchExpressions`` entry."""

    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Return True when ``labels`` satisfy this requirement."""
        present = self.key in labels
        if self.operator is Operator.IN:
            return present and labels[self.key] in self.values
        if self.operator is Operator.NOT_IN:
            return not present or labels[self.key] not in self.values
        return present if self.operator is Operator.EXISTS else not present


@dataclass(frozen=True)
class LabelSelector:
    """A label selector; the empty selector matches every object."""

    match_labels: Mapping[str, str] = field(default_factory=dict)
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Return True when ``labels`` satisfy every part of the selector."""
        return all(labels.get(key) == value for key, value in self.match_labels.items()) and all(
            requirement.matches(labels) for requirement in self.requirements
        )

    @property
    def is_empty(self) -> bool:
        """Return True for the selector that matches everything."""
        return not self.match_labels and not self.requirements


def matches_any(selectors: tuple[LabelSelector, ...], labels: Mapping[str, str]) -> bool:
    """Return True when at least one of ``selectors`` matches ``labels``."""
    return any(selector.matches(labels) for selector in selectors)


def label_selector_problems(data: Any) -> list[FieldProblem]:
    """Return every problem in a label selector given as a plain dict (paths are relative)."""
    if not isinstance(data, Mapping):
        return [
            FieldProblem(
                "", "a label selector must be a mapping", "write matchLabels and/or matchExpressions"
            )
        ]
    problems: list[FieldProblem] = []
    unknown = sorted(set(data) - {"matchLabels", "matchExpressions"})
    problems += [
        FieldProblem(key, "is not a label selector field", "use matchLabels or matchExpressions")
        for key in unknown
    ]
    match_labels = data.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping):
        problems.append(FieldProblem("matchLabels", "must be a mapping", "write key: value pairs"))
    else:
        for key, value in match_labels.items():
            problems += _label_key_problems(f"matchLabels[{key}]", key)
            problems += _label_value_problems(f"matchLabels[{key}]", value)
    expressions = data.get("matchExpressions") or []
    if not isinstance(expressions, list):
        return [*problems, FieldProblem("matchExpressions", "must be a list", "write a list of requirements")]
    identities = [_expression_identity(expression) for expression in expressions]
    for index, expression in enumerate(expressions):
        if identities[index] in identities[:index]:
            problems.append(
                FieldProblem(
                    f"matchExpressions[{index}]",
                    f"repeats matchExpressions[{identities.index(identities[index])}]",
                    "list each requirement once",
                )
            )
            continue
        problems += _expression_problems(f"matchExpressions[{index}]", expression)
    return problems


def selector_identity(data: Any) -> str:
    """What makes two label selectors (plain dicts) the same entry of a list.

    As the API server compares them (and MetalLB, which sorts values first): the same
    matchLabels and the same requirements in the same order, each requirement's values as a set.
    """
    if not isinstance(data, Mapping):
        return repr(data)
    expressions = data.get("matchExpressions")
    if isinstance(expressions, list):
        data = {**data, "matchExpressions": [_expression_identity(item) for item in expressions]}
    return json.dumps(data, sort_keys=True, default=repr)


def _expression_identity(expression: Any) -> str:
    if isinstance(expression, Mapping) and isinstance(expression.get("values"), list):
        expression = {**expression, "values": sorted(map(str, expression["values"]))}
    return json.dumps(expression, sort_keys=True, default=repr)


def parse_label_selector(data: Mapping[str, Any] | None) -> LabelSelector:
    """Build a :class:`LabelSelector` from a plain dict that passed :func:`label_selector_problems`."""
    if not data:
        return LabelSelector()
    requirements = tuple(
        Requirement(
            str(item["key"]), Operator(item["operator"]), frozenset(map(str, item.get("values") or ()))
        )
        for item in data.get("matchExpressions") or ()
    )
    labels = {str(key): str(value) for key, value in (data.get("matchLabels") or {}).items()}
    return LabelSelector(labels, requirements)


def _expression_problems(path: str, expression: Any) -> list[FieldProblem]:
    if not isinstance(expression, Mapping):
        return [FieldProblem(path, "must be a mapping", "write key, operator and values")]
    problems = _label_key_problems(f"{path}.key", expression.get("key"))
    operator = expression.get("operator")
    values = expression.get("values") or []
    operators = ", ".join(op.value for op in Operator)
    if not isinstance(operator, str) or operator not in set(Operator):
        return [
            *problems,
            FieldProblem(f"{path}.operator", f"unknown operator {operator!r}", f"use one of {operators}"),
        ]
    if not isinstance(values, list):
        return [*problems, FieldProblem(f"{path}.values", "must be a list", "write a list of label values")]
    if operator in (Operator.IN, Operator.NOT_IN) and not values:
        problems.append(FieldProblem(f"{path}.values", f"{operator} needs values", "list at least one value"))
    if operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
        problems.append(FieldProblem(f"{path}.values", f"{operator} takes no values", "remove values"))
    if len(set(map(str, values))) != len(values):
        problems.append(FieldProblem(f"{path}.values", "lists a value twice", "list each value once"))
    for index, value in enumerate(values):
        problems += _label_value_problems(f"{path}.values[{index}]", value)
    return problems


def _label_key_problems(path: str, key: Any) -> list[FieldProblem]:
    fix = "write a label key like 'app' or 'example.com/tier' (name of at most 63 characters)"
    if not isinstance(key, str) or not key:
        return [FieldProblem(path, "label key is missing or not a string", fix)]
    prefix, _unused, name = key.rpartition("/")
    if (prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix))) or (
        len(name) > 63 or not _LABEL_NAME.match(name)
    ):
        return [FieldProblem(path, f"{key!r} is not a valid label key", fix)]
    return []


def _label_value_problems(path: str, value: Any) -> list[FieldProblem]:
    if not isinstance(value, str) or (value and (len(value) > 63 or not _LABEL_NAME.match(value))):
        return [
            FieldProblem(
                path,
                f"{value!r} is not a valid label value",
                "use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
            )
        ]
    return []
