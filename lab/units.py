"""Start a systemd service unit's command inside a lab namespace, as systemd would start it.

The lab has no systemd (nor a kubelet): this reads the unit's ``Environment=`` and
``ExecStart=`` lines and runs that command line, unchanged, in the node's namespace, so the
install role's host mode is tested with the very venv, code, kubeconfig and flags it installed.
What systemd adds around the command (capability bounds, sandboxing, restarts) is not applied;
``systemd-analyze verify`` checks the unit itself.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from . import process
from .state import LabState


@dataclass(frozen=True)
class ServiceCommand:
    """What a unit's [Service] section runs: the command line and its environment."""

    argv: list[str]
    env: dict[str, str]


def service_command(unit: Path) -> ServiceCommand:
    """Parse ``unit``'s [Service] section: one ``ExecStart=``, any number of ``Environment=``."""
    section = ""
    argv: list[str] = []
    env: dict[str, str] = {}
    for raw in unit.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        key, _sep, value = line.partition("=")
        if section != "[Service]":
            continue
        if key == "ExecStart":
            if argv:
                raise ValueError(f"{unit}: more than one ExecStart=")
            argv = shlex.split(value)
        elif key == "Environment":
            for assignment in shlex.split(value):
                name, _sep, setting = assignment.partition("=")
                env[name] = setting
    if not argv:
        raise ValueError(f"{unit}: no ExecStart= in [Service]")
    return ServiceCommand(argv, env)


def start(state: LabState, unit: Path, host: str) -> process.Started:
    """Start ``unit``'s command in lab host ``host``'s namespace; recorded so `lab down` stops it.

    The record is added to lab.json as it is on disk now (other processes may have changed it
    since ``state`` was loaded).
    """
    command = service_command(unit)
    name = f"{unit.stem}-{host}"
    started = process.start(
        name, state.hosts[host]["netns"], command.argv, state.state_dir / "logs", env=command.env
    )
    current = LabState.load(state.state_dir)
    if current is None:
        process.stop([started.pid])
        raise RuntimeError(f"no lab recorded in {state.state_dir}")
    current.record_process(started.name, started.pid, started.netns, started.log, group="daemons")
    return started
