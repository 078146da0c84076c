"""The child side of :mod:`.engine_process`: how an engine process starts, listens and ends.

An engine reads its start order from the first line of stdin, then feeds every later order to
``submit(kind, value)`` from a reader thread; the end of stdin (the parent is gone), SIGTERM and
SIGINT all become ``submit("stop", None)``. The engine also asks the kernel for SIGTERM when
its parent dies (PR_SET_PDEATHSIG), so it never outlives the speaker.

A start order may ask for a real-time priority (``realtime_priority``, 1-99): the process then
runs under SCHED_FIFO before its first thread starts, so every thread of the engine is ahead of
ordinary busy processes (as keepalived's VRRP process is); the kernel's real-time throttling
still leaves ordinary processes 5 % of each CPU. Without CAP_SYS_NICE it stays at normal priority
and says so.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO, Protocol

from ..kube.logs import configure_logs
from .engine_process import encode

_PR_SET_PDEATHSIG = 1

log = logging.getLogger(__name__)


class Engine(Protocol):
    """What :func:`serve` drives."""

    def submit(self, kind: str, value: Any) -> None:
        """Take an order (or ``stop``); thread-safe."""

    def run(self) -> None:
        """Serve until a ``stop`` order; emit ``{"ready": true}`` once serving."""


class Reports:
    """An engine's report channel (its stdout); thread-safe. ``on_gone`` runs when the parent is gone."""

    def __init__(self, out: BinaryIO, on_gone: Callable[[], None]) -> None:
        self._out = out
        self._on_gone = on_gone
        self._lock = threading.Lock()

    def emit(self, message: Mapping[str, Any]) -> None:
        """Write one report line."""
        with self._lock:
            try:
                self._out.write(encode(message))
                self._out.flush()
            except (BrokenPipeError, ValueError):  # the Kubernetes half is gone
                self._on_gone()


def die_with_parent() -> None:
    """Ask the kernel for SIGTERM when the parent process dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the end of stdin still stops us
        log.debug("no PR_SET_PDEATHSIG here")


def run_realtime(priority: int) -> bool:
    """Run this process (and the threads it starts later) under SCHED_FIFO ``priority``; 0: leave it.

    True when it does; a refusal (no CAP_SYS_NICE) is logged as a warning and returns False.
    """
    if priority <= 0:
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, OSError) as error:
        log.warning(
            "cannot run at real-time priority %d (%s; %s): running at normal priority, so answers "
            "and failure detection may be late while the CPUs are busy",
            priority,
            error.strerror or error,
            _refusal_reason(),
        )
        return False
    log.info("running at real-time priority %d (SCHED_FIFO)", priority)
    return True


def _refusal_reason() -> str:
    """Why the kernel refuses SCHED_FIFO here: no CAP_SYS_NICE, or no real-time budget in our cgroup."""
    if not rt_budget_is_zero(os.getpid()):
        return "needs CAP_SYS_NICE"
    return (
        "this process's cgroup has no real-time budget: cpu.rt_runtime_us is 0, as container runtimes "
        "leave it on kernels with real-time group scheduling under cgroup v1"
    )


def rt_budget_is_zero(pid: int) -> bool:
    """Whether ``pid``'s cgroup v1 cpu controller grants it no real-time time (cpu.rt_runtime_us 0).

    False on cgroup v2 and on kernels without real-time group scheduling (no such file).
    """
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    for line in lines:
        _number, controllers, path = line.split(":", 2)
        if "cpu" not in controllers.split(","):
            continue
        # The cgroup's path under the mount, or (in a container without its own cgroup namespace,
        # whose mount shows only its own cgroup) the mount itself.
        for mount in ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"):
            for directory in (f"{mount}{path.rstrip('/')}", mount):
                budget = Path(directory, "cpu.rt_runtime_us")
                try:
                    return int(budget.read_text(encoding="utf-8")) == 0
                except (OSError, ValueError):
                    continue
    return False


def read_orders(submit: Callable[[str, Any], None], source: BinaryIO) -> None:
    """Feed ``submit`` every order read from ``source`` until it ends; the end means the parent is gone."""
    for line in source:
        try:
            message = json.loads(line)
        except ValueError:
            log.warning("ignoring a malformed order")
            continue
        for kind, value in message.items():
            submit(kind, value)
    submit("stop", None)


def serve(make_engine: Callable[[Mapping[str, Any], BinaryIO], Engine]) -> int:
    """Run an engine process: ``make_engine(start order body, stdout)`` builds the engine."""
    configure_logs("info")  # until the start order gives the speaker's level
    die_with_parent()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    first = stdin.readline()
    if not first:
        return 0
    order = json.loads(first)["start"]
    configure_logs(str(order.get("log_level", "info")))
    run_realtime(int(order.get("realtime_priority", 0)))  # before any thread of the engine starts
    engine = make_engine(order, stdout)

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        engine.submit("stop", None)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    threading.Thread(target=read_orders, args=(engine.submit, stdin), name="orders", daemon=True).start()
    engine.run()
    sys.stdout.flush()
    os._exit(0)  # the stdin reader may be blocked in a read; do not wait for it
