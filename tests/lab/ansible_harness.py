"""Run collection modules against the lab the way users do: ansible-playbook on localhost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from lab.ansible_env import VENV_BIN, ansible_env
from lab.state import LabState
from tests.lab.controller_harness import REPO


def run_tasks(lab: LabState, tmp_path: Path, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run ``tasks`` on localhost against the lab; return each task's result (json callback)."""
    done = run_playbook(lab, tmp_path, tasks)
    assert done.returncode == 0, f"playbook failed:\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    return [task["hosts"]["localhost"] for task in json.loads(done.stdout)["plays"][0]["tasks"]]


def run_playbook(
    lab: LabState,
    tmp_path: Path,
    tasks: list[dict[str, Any]],
    *flags: str,
    callback: str = "ansible.builtin.json",
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``tasks`` on localhost against the lab with ansible-playbook ``flags`` (``-vvv``,
    ``--diff`` ...) and the stdout ``callback``; return the finished process, whatever its status."""
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump(play))
    extra = {"ANSIBLE_STDOUT_CALLBACK": callback, "K8S_AUTH_KUBECONFIG": str(lab.kubeconfig), **(env or {})}
    return run_local_playbook(path, *flags, env=extra)


def run_local_playbook(
    path: Path, *flags: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the playbook at ``path`` on localhost (local connection, this venv's Python) from the
    checkout, without the caller's K8S_AUTH_* and KUBECONFIG but with ``env``; return the finished
    process, whatever its status."""
    environ = ansible_env(**(env or {}))
    argv = [
        str(VENV_BIN / "ansible-playbook"),
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        *flags,
        str(path),
    ]
    return subprocess.run(
        argv, cwd=REPO, env=environ, capture_output=True, text=True, timeout=300, check=False
    )
