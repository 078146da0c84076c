"""Link state of a network interface of the namespace this process runs in, read from sysfs."""

from __future__ import annotations

from pathlib import Path

_SYS_NET = Path("/sys/class/net")


def link_is_up(ifname: str) -> bool:
    """True when the interface exists and can carry traffic (operstate up, or unknown with carrier).

    A link whose cable (or veth peer) is gone reports ``down``/``lowerlayerdown``; interfaces
    without carrier reporting (``unknown``) count as up while they have carrier.
    """
    try:
        state = (_SYS_NET / ifname / "operstate").read_text().strip()
        if state == "up":
            return True
        return state == "unknown" and (_SYS_NET / ifname / "carrier").read_text().strip() == "1"
    except OSError:  # no such interface, or reading carrier of a downed link (EINVAL)
        return False
