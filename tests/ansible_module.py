"""Run one of the collection's modules the way a playbook does, and return its result.

``ansible localhost -m baremetal.lb.NAME`` with the JSON callback, optionally inside a network
namespace; the result carries how long the run took, so tests can bound it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from lab.ansible_env import VENV_BIN, ansible_env

REPO = Path(__file__).resolve().parents[1]
ANSIBLE = VENV_BIN / "ansible"
COLLECTIONS = REPO / ".build" / "collections"


@dataclass
class ModuleRun:
    """What one module run returned, how long `ansible` took, and how long the task itself took."""

    result: dict[str, Any]
    seconds: float
    task_seconds: float
    output: str

    @property
    def failed(self) -> bool:
        return bool(self.result.get("failed"))

    @property
    def msg(self) -> str:
        return str(self.result.get("msg", ""))


def run_module(
    name: str,
    args: dict[str, Any],
    *,
    env: dict[str, str] | None = None,
    netns: str | None = None,
    check: bool = False,
    diff: bool = False,
    timeout: float = 120,
) -> ModuleRun:
    """Run module ``baremetal.lb.NAME`` with ``args`` on localhost; never raises on its failure."""
    clean = ansible_env(
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        **(env or {}),
    )
    argv = [str(ANSIBLE), "localhost", "-m", f"baremetal.lb.{name}"]
    argv += ["-a", json.dumps(args)] if args else []
    argv += ["--check"] * check + ["--diff"] * diff
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    start = time.monotonic()
    done = subprocess.run(
        argv, cwd=REPO, env=clean, capture_output=True, text=True, timeout=timeout, check=False
    )
    seconds = time.monotonic() - start
    output = f"{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    try:
        task = json.loads(done.stdout)["plays"][0]["tasks"][0]
        result = task["hosts"]["localhost"]
        duration = task["task"]["duration"]
    except (ValueError, KeyError, IndexError) as err:
        raise AssertionError(f"no module result from ansible (rc={done.returncode}): {output}") from err
    start_end = [datetime.fromisoformat(duration[key].replace("Z", "+00:00")) for key in ("start", "end")]
    return ModuleRun(result, seconds, (start_end[1] - start_end[0]).total_seconds(), output)
