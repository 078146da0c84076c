"""Read typed fields out of one Kubernetes object given as a plain dict, collecting problems.

Every reader returns a usable value (the default when the field is wrong) and records a
:class:`~.config_errors.ConfigError` naming the object, the field path and the fix, so a
whole configuration is checked in one pass and every error is reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .addresses import AddressError, IPAddress, parse_address
from .config_errors import ConfigError
from .durations import parse_duration
from .label_selectors import LabelSelector, label_selector_problems, parse_label_selector, selector_identity

Spec = Mapping[str, Any]


class ObjectReader:
    """Reads the ``spec`` of one object (``kind``/``name``) and collects its problems."""

    def __init__(self, kind: str, obj: Mapping[str, Any], errors: list[ConfigError]) -> None:
        metadata = obj.get("metadata") or {}
        self.kind = kind
        self.name = str(metadata.get("name") or "")
        labels = metadata.get("labels") or {}
        good_labels = isinstance(labels, Mapping) and all(
            isinstance(key, str) and isinstance(value, str) for key, value in labels.items()
        )
        self.labels: Mapping[str, str] = labels if good_labels else {}
        annotations = metadata.get("annotations")
        self.annotations: Mapping[str, Any] = annotations if isinstance(annotations, Mapping) else {}
        spec = obj.get("spec")
        self.spec: Spec = spec if isinstance(spec, Mapping) else {}
        self._errors = errors
        if not self.name:
            self.fail("metadata.name", "is missing", "give the object a name")
        if not good_labels:
            self.fail(
                "metadata.labels", "must be a mapping of text to text", "write each label as key: value"
            )
        if spec is not None and not isinstance(spec, Mapping):
            self.fail("spec", "must be a mapping", "write the spec fields as key: value")

    def fail(self, path: str, problem: str, fix: str) -> None:
        """Record a problem in field ``path`` (e.g. ``spec.addresses[1]``)."""
        self._errors.append(ConfigError(self.kind, self.name, path, problem, fix))

    def integer(
        self, key: str, low: int, high: int, default: int, *, spec: Spec | None = None, path: str = "spec"
    ) -> int:
        """Return ``spec[key]`` as an int within ``low..high`` (``default`` when absent or null)."""
        value = (self.spec if spec is None else spec).get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(
                f"{path}.{key}", f"{value!r} is not a whole number from {low} to {high}", f"use {low}..{high}"
            )
            return default
        return value

    def boolean(self, key: str, default: bool) -> bool:
        """Return ``spec[key]`` as a bool (``default`` when absent or null)."""
        value = self.spec.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(f"spec.{key}", f"{value!r} is not true or false", "write true or false")
            return default
        return value

    def text(self, key: str) -> str:
        """Return ``spec[key]`` as a string without line breaks ('' when absent)."""
        value = self.spec.get(key) or ""
        if not isinstance(value, str) or "\n" in value or "\r" in value:
            self.fail(f"spec.{key}", "must be one line of text", "remove line breaks")
            return ""
        return value

    def strings(self, key: str, spec: Spec | None = None, path: str = "spec") -> tuple[str, ...]:
        """Return a list of distinct strings from ``spec[key]``."""
        values = (self.spec if spec is None else spec).get(key) or []
        if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
            self.fail(f"{path}.{key}", "must be a list of strings", "write a list of names")
            return ()
        for index, value in enumerate(values):
            if value in values[:index]:
                self.fail(f"{path}.{key}[{index}]", f"{value!r} is listed twice", "list it once")
        return tuple(dict.fromkeys(values))

    def selectors(self, key: str, spec: Spec | None = None, path: str = "spec") -> tuple[LabelSelector, ...]:
        """Return the label selectors listed in ``spec[key]``."""
        items = (self.spec if spec is None else spec).get(key) or []
        if not isinstance(items, list):
            self.fail(f"{path}.{key}", "must be a list of label selectors", "write a list")
            return ()
        selectors = []
        identities = [selector_identity(item) for item in items]
        for index, item in enumerate(items):
            # As the API server (a CEL rule) and MetalLB: each selector is listed once.
            if identities[index] in identities[:index]:
                self.fail(
                    f"{path}.{key}[{index}]",
                    f"repeats {key}[{identities.index(identities[index])}]",
                    "list each label selector once",
                )
                continue
            selector = self.selector(item, f"{path}.{key}[{index}]")
            if selector is not None:
                selectors.append(selector)
        return tuple(selectors)

    def selector(self, data: Any, path: str) -> LabelSelector | None:
        """Return the label selector ``data`` found at ``path``; None (problems recorded) when invalid."""
        problems = label_selector_problems(data)
        for problem in problems:
            self._errors.append(ConfigError.of(self.kind, self.name, problem.under(path)))
        return None if problems else parse_label_selector(data)

    def address(self, key: str) -> IPAddress | None:
        """Return ``spec[key]`` as an IP address (None when absent)."""
        value = self.spec.get(key)
        if not value:
            return None
        try:
            return parse_address(str(value))
        except AddressError as error:
            self.fail(f"spec.{key}", str(error), "write one IPv4 or IPv6 address")
            return None

    def duration(self, key: str) -> float | None:
        """Return ``spec[key]`` in seconds (None when absent)."""
        value = self.spec.get(key)
        if value is None:
            return None
        try:
            return parse_duration(str(value))
        except ValueError as error:
            self.fail(f"spec.{key}", str(error), "write a duration like '90s'")
            return None
