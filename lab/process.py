"""Start the lab's daemons inside namespaces and stop them again by PID."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import netns


@dataclass(frozen=True)
class Started:
    """A daemon the lab started: enough to find its log and stop it."""

    name: str
    pid: int
    netns: str
    log: str


def start(
    name: str,
    namespace: str,
    argv: Sequence[str],
    log_dir: Path,
    env: Mapping[str, str] | None = None,
) -> Started:
    """Start `argv` inside `namespace` in its own session, output appended to LOG_DIR/NAME.log.

    `ip netns exec` replaces itself with the command, so the PID returned is the daemon's.
    """
    return start_argv(name, namespace, ["ip", "netns", "exec", namespace, *argv], log_dir, env)


def start_argv(
    name: str,
    namespace: str,
    argv: Sequence[str],
    log_dir: Path,
    env: Mapping[str, str] | None = None,
) -> Started:
    """Start a command line that enters `namespace` itself (e.g. through nsenter); as `start`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    return Started(name, proc.pid, namespace, str(log))


def wait_until(what: str, check: Callable[[], bool], timeout: float, started: Started | None = None) -> None:
    """Poll `check()` every 0.2 s until it is true; fail with the daemon's log tail if it dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if started and not netns.alive(started.pid):
            raise RuntimeError(f"{started.name} exited while waiting for {what}:\n{log_tail(started.log)}")
        time.sleep(0.2)
    tail = f"\n{log_tail(started.log)}" if started else ""
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{tail}")


def log_tail(path: str, lines: int = 25) -> str:
    """The last lines of a log file, for error messages."""
    try:
        with open(path, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(pids: Sequence[int], grace: float = 5.0) -> None:
    """Stop processes by PID: SIGTERM, then SIGKILL after `grace` seconds."""
    netns.kill_pids([p for p in pids if netns.alive(p)], grace)
