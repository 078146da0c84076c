"""Wake the speaker when a link or an address of its network namespace changes (rtnetlink).

The plan names the interfaces this node answers on, and only links that are up qualify; a plan
made while a link was down must be redone the moment it comes back, or the node would win an
IP and answer for it nowhere. A periodic re-plan still runs as a safety net.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

_NETLINK_ROUTE = 0
_RTMGRP_LINK = 0x1
_RTMGRP_IPV4_IFADDR = 0x10
_RTMGRP_IPV6_IFADDR = 0x100
GROUPS = _RTMGRP_LINK | _RTMGRP_IPV4_IFADDR | _RTMGRP_IPV6_IFADDR

log = logging.getLogger(__name__)


def watch_links(on_change: Callable[[], None], stop: threading.Event, poll: float = 1.0) -> None:
    """Call ``on_change`` after every batch of link or address notifications until ``stop`` is set.

    Runs in the caller's thread; ``poll`` bounds how long a set ``stop`` goes unnoticed. A
    receive-buffer overflow (ENOBUFS) means notifications were lost, which also counts as a change.
    """
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_ROUTE) as sock:
        sock.bind((0, GROUPS))
        sock.settimeout(poll)
        while not stop.is_set():
            try:
                sock.recv(65536)
            except TimeoutError:
                continue
            except OSError as err:  # ENOBUFS: the kernel dropped notifications
                log.debug("link notifications: %s", err)
            _drain(sock)
            on_change()


def _drain(sock: socket.socket) -> None:
    """Read what else is queued so one burst (a link going up brings several) wakes us once."""
    try:
        while True:
            sock.recv(65536, socket.MSG_DONTWAIT)
    except OSError:  # empty (EAGAIN), or overflowed again: either way the caller re-plans
        pass
