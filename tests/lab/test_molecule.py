"""`molecule test` of the default scenario: its own lab, site.yml, idempotence, verify, teardown.

The scenario (molecule/default) starts a lab of its own, so this test does not use the session
lab; it needs what the lab needs (root, the built binaries) and fails when they are missing.
Every run gets its own MOLECULE_EPHEMERAL_DIRECTORY, so runs in parallel never share a lab.
If molecule dies half way, the lab is still taken down here from the state it recorded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lab import lifecycle

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def test_molecule_default_scenario(tmp_path: Path) -> None:
    molecule = VENV_BIN / "molecule"
    assert molecule.is_file(), f"{molecule} is missing: run `make venv`"
    link = REPO / ".build" / "collections" / "ansible_collections" / "baremetal" / "lb"
    assert link.resolve() == REPO, f"{link} must link to this checkout: run `make venv`"
    ephemeral = tmp_path / "molecule"
    # Only the scenario's inventory may point at a cluster.
    dropped = ("K8S_AUTH_", "MOLECULE_", "KUBECONFIG")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update(
        MOLECULE_EPHEMERAL_DIRECTORY=str(ephemeral),
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        ANSIBLE_FORCE_COLOR="0",
        NO_COLOR="1",
    )
    try:
        result = subprocess.run(
            [str(molecule), "test", "--scenario-name", "default"],
            cwd=REPO,
            env=env,
            check=False,
            timeout=1200,
        )
    finally:
        lifecycle.down(ephemeral / "lab")
    assert result.returncode == 0, "molecule test failed (its output is above)"
