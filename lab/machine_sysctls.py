"""The machine-wide sysctls kubelet changes when it starts, recorded first and restored after.

kubelet sets these to the values it wants on every start (protectKernelDefaults is off); they are
not per network namespace, so the lab puts the machine's own values back once its kubelets are up
and again when the lab goes down.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

KEYS = ("vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops")
_PROC = Path("/proc/sys")


def _path(key: str) -> Path:
    return _PROC / key.replace(".", "/")


def read() -> dict[str, str]:
    """The current values of KEYS."""
    return {key: _path(key).read_text().strip() for key in KEYS}


def restore(values: Mapping[str, str]) -> list[str]:
    """Write back recorded values that differ from the current ones; return the keys changed."""
    changed = []
    for key, value in values.items():
        if key in KEYS and _path(key).read_text().strip() != value:
            _path(key).write_text(value)
            changed.append(key)
    return changed
