"""The ``name==version`` pins of a pip requirements file, for tests that compare them."""

from __future__ import annotations

import re
from pathlib import Path


def distribution(name: str) -> str:
    """A distribution's name as pip compares them (PEP 503): ``prometheus_client``, ``prometheus-client``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """name (as :func:`distribution` spells it) -> version of every ``name==version`` line of a file."""
    found = {}
    for line in path.read_text().splitlines():
        pin = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line.strip())
        if pin:
            found[distribution(pin[1])] = pin[2]
    return found
