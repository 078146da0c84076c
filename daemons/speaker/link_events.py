"""Wake the speaker when a link or an address of its network namespace changes (rtnetlink).

The plan names the interfaces this node answers on, and only links that are up qualify; a plan
made while a link was down must be redone the moment it comes back, or the node would win an
IP and answer for it nowhere. A periodic re-plan still runs as a safety net.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable

_NETLINK_ROUTE = 0
_RTMGRP_LINK = 0x1
_RTMGRP_IPV4_IFADDR = 0x10
_RTMGRP_IPV6_IFADDR = 0x100
GROUPS = _RTMGRP_LINK | _RTMGRP_IPV4_IFADDR | _RTMGRP_IPV6_IFADDR
SETTLE = 0.1  # seconds after a batch when the state is read once more

log = logging.getLogger(__name__)


def watch_links(
    on_change: Callable[[], None], stop: threading.Event, poll: float = 1.0, settle: float = SETTLE
) -> None:
    """Call ``on_change`` after every batch of link or address notifications until ``stop`` is set.

    Runs in the caller's thread; ``poll`` bounds how long a set ``stop`` goes unnoticed. A
    receive-buffer overflow (ENOBUFS) means notifications were lost, which also counts as a change.
    A notification can arrive before sysfs shows the new state (measured: a carrier loss was
    notified 4 ms before ``operstate`` said ``down``), so every batch is followed by a second
    ``on_change`` ``settle`` seconds later, when the state read back is the new one.
    """
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_ROUTE) as sock:
        sock.bind((0, GROUPS))
        again_at: float | None = None
        while not stop.is_set():
            wait = poll if again_at is None else max(0.0, min(poll, again_at - time.monotonic()))
            sock.settimeout(wait)
            try:
                sock.recv(65536)
            except TimeoutError:
                if again_at is not None and time.monotonic() >= again_at:
                    again_at = None
                    on_change()
                continue
            except OSError as err:  # ENOBUFS: the kernel dropped notifications
                log.debug("link notifications: %s", err)
            _drain(sock)
            on_change()
            again_at = time.monotonic() + settle


def _drain(sock: socket.socket) -> None:
    """Read what else is queued so one burst (a link going up brings several) wakes us once."""
    try:
        while True:
            sock.recv(65536, socket.MSG_DONTWAIT)
    except OSError:  # empty (EAGAIN), or overflowed again: either way the caller re-plans
        pass
