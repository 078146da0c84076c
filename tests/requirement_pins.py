"""The ``name==version`` pins of a pip requirements file, for tests that compare two of them."""

from __future__ import annotations

import re
from pathlib import Path


def pins(path: Path) -> dict[str, str]:
    """name (lower case) -> version of every ``name==version`` line of a pip requirements file."""
    found = {}
    for line in path.read_text().splitlines():
        pin = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line.strip())
        if pin:
            found[pin[1].lower()] = pin[2]
    return found
