"""The resident memory of a process, now and at peak, as the kernel counts it (``/proc``).

Shared by the benches that print a memory figure (the speaker's and the controller's).
"""

from __future__ import annotations


def memory_mb(pid: int | str = "self") -> tuple[float, float]:
    """The resident set of process ``pid`` (default: this one) now and at peak (VmRSS, VmHWM), in MB."""
    found = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key, _colon, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) / 1024
    return found["VmRSS"], found["VmHWM"]
