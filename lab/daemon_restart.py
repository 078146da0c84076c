"""Stop recorded lab daemons by PID and start them again with the same command line.

For faults a test or bench puts on the lab itself: the API server stopped for a minute, a router
restarted. Each daemon is found by the name lab.json records for it (``kube-apiserver``,
``bird``, ``frr-bgpd``, ...); its command line is read from ``/proc`` before it is stopped, so it
comes back exactly as the lab started it, in the same namespace and appending to the same log.
The new PID is recorded in lab.json, so ``lab down`` and :func:`lifecycle.healthy` see it.
:func:`stopped` always starts what it stopped again, also when the body fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import controlplane, lifecycle, netns, process, rib, routers
from .state import LabState

STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL
API_READY_TIMEOUT = 120.0  # seconds a restarted API server has to answer /readyz (as at lab start)
ROUTER_READY_TIMEOUT = 30.0  # seconds a restarted router has to answer its CLI


@dataclass(frozen=True)
class StoppedDaemon:
    """What it takes to start a stopped daemon again."""

    name: str
    argv: tuple[str, ...]
    netns: str


def command_line(pid: int) -> tuple[str, ...]:
    """The command line of a running process (``ip netns exec`` replaced itself with the daemon)."""
    return tuple(Path(f"/proc/{pid}/cmdline").read_bytes().decode().rstrip("\0").split("\0"))


def names_in(state: LabState, namespace: str) -> list[str]:
    """The recorded lab daemons that run in ``namespace``, in the order the lab started them.

    That order is the PIDs' order: lab.json keeps its keys sorted by name.
    """
    recorded = state.data.get("processes", {})
    return sorted(
        (name for name, facts in recorded.items() if facts["netns"] == namespace),
        key=lambda name: int(recorded[name]["pid"]),
    )


def describe(state: LabState, names: list[str]) -> list[StoppedDaemon]:
    """How to start the recorded daemons ``names`` again, read while they run."""
    recorded = state.data["processes"]
    return [
        StoppedDaemon(name, command_line(int(recorded[name]["pid"])), str(recorded[name]["netns"]))
        for name in names
    ]


def stop(state: LabState, daemons: list[StoppedDaemon]) -> None:
    """Stop the recorded daemons by PID, last started first."""
    for daemon in reversed(daemons):
        process.stop([int(state.data["processes"][daemon.name]["pid"])], grace=STOP_GRACE)


def start(state: LabState, daemons: list[StoppedDaemon]) -> None:
    """Start stopped daemons again in their order and record their new PIDs."""
    log_dir = state.state_dir / "logs"
    for daemon in daemons:
        if netns.alive(int(state.data["processes"][daemon.name]["pid"])):
            continue  # never two of one daemon
        started = process.start(daemon.name, daemon.netns, list(daemon.argv), log_dir)
        state.record_process(started.name, started.pid, started.netns, started.log)


@contextmanager
def stopped(state: LabState, names: list[str], ready: Callable[[], bool], timeout: float) -> Iterator[None]:
    """Keep the recorded daemons ``names`` stopped for the body, then start them again.

    They are started again also when the body fails; then this waits up to ``timeout`` seconds
    until ``ready()``.
    """
    daemons = describe(state, names)
    try:
        stop(state, daemons)  # inside the try: a stop cut short still starts what it stopped
        yield
    finally:
        start(state, daemons)
        process.wait_until(f"{', '.join(names)} to be ready again", ready, timeout)


def restart(state: LabState, names: list[str], ready: Callable[[], bool], timeout: float) -> None:
    """Stop the daemons ``names`` and start them again at once (a process restart)."""
    with stopped(state, names, ready, timeout):
        pass


def api_server_stopped(state: LabState) -> AbstractContextManager[None]:
    """The lab's kube-apiserver stopped for the body, then started again and ready (/readyz)."""
    return stopped(state, [controlplane.API_SERVER], lambda: lifecycle.api_ready(state), API_READY_TIMEOUT)


def restart_router(state: LabState, router: str) -> None:
    """Restart every process of the lab router ``router`` (FRR: zebra, bgpd, bfdd).

    Returns once its CLI answers again; its BGP sessions start over.
    """
    facts = state.routers[router]
    restart(
        state,
        names_in(state, str(facts["netns"])),
        lambda: routers.answers(str(facts["netns"]), rib.table_argv(facts)),
        ROUTER_READY_TIMEOUT,
    )
