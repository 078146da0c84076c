"""Run collection modules against the lab the way users do: ansible-playbook on localhost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from lab.state import LabState
from tests.lab.controller_harness import REPO

VENV_BIN = Path(sys.executable).parent


def run_tasks(lab: LabState, tmp_path: Path, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run ``tasks`` on localhost against the lab; return each task's result (json callback)."""
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump(play))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("K8S_AUTH_", "KUBECONFIG"))}
    env.update(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", K8S_AUTH_KUBECONFIG=str(lab.kubeconfig))
    argv = [
        str(VENV_BIN / "ansible-playbook"),
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        str(path),
    ]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"playbook failed:\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    return [task["hosts"]["localhost"] for task in json.loads(done.stdout)["plays"][0]["tasks"]]
