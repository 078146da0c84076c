"""Edit kube-proxy's `config.conf` (a KubeProxyConfiguration) without disturbing the rest of it.

Only `mode` and `ipvs.strictARP` are ever changed (and `mode` put back after a failed switch).
The edit is made on the text, one line at a
time, so comments, key order and formatting survive byte for byte; the result is parsed again
and compared with the intended configuration, and only if a line edit cannot express the change
(flow-style YAML, say) is the document re-serialised as a whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

try:
    import yaml
except ImportError:  # modules report the missing library through kubernetes.core's requires()
    yaml = None  # type: ignore[assignment]

MODES = ("ipvs", "iptables", "nftables")
CONFIG_KEY = "config.conf"

_TOP_LEVEL_KEY = re.compile(r"^[A-Za-z0-9_\"']")


class KubeProxyConfigError(ValueError):
    """The ConfigMap's config.conf is not a KubeProxyConfiguration this module can edit."""


@dataclass(frozen=True)
class Change:
    """One setting that differs: its dotted path, current and wanted value."""

    path: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Edit:
    """The edited document and what changed; `rewritten` when formatting could not be kept."""

    text: str
    changes: tuple[Change, ...]
    rewritten: bool


def parse(text: str) -> dict[str, Any]:
    """Parse config.conf, insisting on a mapping of kind KubeProxyConfiguration."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise KubeProxyConfigError(f"{CONFIG_KEY} is not valid YAML: {err}") from err
    if not isinstance(doc, dict):
        raise KubeProxyConfigError(f"{CONFIG_KEY} must be a YAML mapping, found {type(doc).__name__}")
    kind = doc.get("kind")
    if kind not in (None, "KubeProxyConfiguration"):
        raise KubeProxyConfigError(f"{CONFIG_KEY} has kind {kind!r}, expected KubeProxyConfiguration")
    return doc


def current(doc: dict[str, Any]) -> dict[str, Any]:
    """The settings this module manages, as kube-proxy would read them ('' mode means iptables)."""
    ipvs = doc.get("ipvs") or {}
    return {"mode": doc.get("mode") or "", "ipvs.strictARP": bool(ipvs.get("strictARP", False))}


def edit(text: str, mode: str | None = None, strict_arp: bool | None = None) -> Edit:
    """Set `mode` and/or `ipvs.strictARP` (None leaves a setting alone); see the module docstring."""
    if mode is not None and mode not in MODES:
        raise KubeProxyConfigError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    return _edit(text, mode, strict_arp)


def restore_mode(text: str, mode: str) -> Edit:
    """Put `mode` back to what it was before an edit, whatever it was ("" included)."""
    return _edit(text, mode, None)


def _edit(text: str, mode: str | None, strict_arp: bool | None) -> Edit:
    doc = parse(text)
    now = current(doc)
    changes = []
    if mode is not None and now["mode"] != mode:
        changes.append(Change("mode", now["mode"], mode))
    if strict_arp is not None and now["ipvs.strictARP"] != strict_arp:
        changes.append(Change("ipvs.strictARP", now["ipvs.strictARP"], strict_arp))
    if not changes:
        return Edit(text, (), False)

    wanted = _wanted(doc, mode, strict_arp)
    lines = text.splitlines(keepends=True)
    for change in changes:
        if change.path == "mode":
            lines = _set_top_level(lines, "mode", str(mode) or '""')
        else:
            lines = _set_nested(lines, "ipvs", "strictARP", "true" if strict_arp else "false")
    edited = "".join(lines)
    try:
        if yaml.safe_load(edited) == wanted:
            return Edit(edited, tuple(changes), False)
    except yaml.YAMLError:
        pass
    return Edit(yaml.safe_dump(wanted, sort_keys=False, default_flow_style=False), tuple(changes), True)


def _wanted(doc: dict[str, Any], mode: str | None, strict_arp: bool | None) -> dict[str, Any]:
    wanted = dict(doc)
    if mode is not None:
        wanted["mode"] = mode
    if strict_arp is not None:
        wanted["ipvs"] = {**(doc.get("ipvs") or {}), "strictARP": strict_arp}
    return wanted


def _set_top_level(lines: list[str], key: str, value: str) -> list[str]:
    pattern = re.compile(rf"^{re.escape(key)}:[^\n]*")
    for i, line in enumerate(lines):
        if pattern.match(line):
            return [*lines[:i], pattern.sub(f"{key}: {value}", line, count=1), *lines[i + 1 :]]
    return [*_with_final_newline(lines), f"{key}: {value}\n"]


def _set_nested(lines: list[str], parent: str, key: str, value: str) -> list[str]:
    start = next((i for i, line in enumerate(lines) if re.match(rf"^{re.escape(parent)}:\s*$", line)), None)
    if start is None:
        return [*_with_final_newline(lines), f"{parent}:\n", f"  {key}: {value}\n"]
    end = next(
        (i for i in range(start + 1, len(lines)) if _TOP_LEVEL_KEY.match(lines[i])),
        len(lines),
    )
    indent = "  "
    pattern = re.compile(rf"^(\s+){re.escape(key)}:[^\n]*")
    for i in range(start + 1, end):
        match = pattern.match(lines[i])
        if match:
            return [
                *lines[:i],
                pattern.sub(f"{match.group(1)}{key}: {value}", lines[i], count=1),
                *lines[i + 1 :],
            ]
        child = re.match(r"^(\s+)\S", lines[i])
        if child:
            indent = child.group(1)
    return [*lines[: start + 1], f"{indent}{key}: {value}\n", *lines[start + 1 :]]


def _with_final_newline(lines: list[str]) -> list[str]:
    if lines and not lines[-1].endswith("\n"):
        return [*lines[:-1], lines[-1] + "\n"]
    return lines
