"""Parse durations written as Kubernetes (Go) writes them: ``90s``, ``1m30s``, ``500ms``."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Return the number of seconds in a Go duration string; raise ValueError if malformed."""
    if not text:
        raise ValueError("an empty duration; write it like '90s'")
    if text == "0":
        return 0.0
    position, total = 0, 0.0
    while position < len(text):
        match = _PART.match(text, position)
        if match is None:
            raise ValueError(f"{text!r} is not a duration; write it like '90s', '1m30s' or '500ms'")
        total += float(match.group(1)) * _SECONDS[match.group(2)]
        position = match.end()
    return total
