"""Run every ansible-test integration target against the session's lab."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.run_ansible_test import REPO, run

# setup_* and prepare_* targets are hidden: ansible-test runs them only as dependencies.
TARGETS = sorted(
    p.name
    for p in (REPO / "tests" / "integration" / "targets").iterdir()
    if p.is_dir() and not p.name.startswith(("setup_", "prepare_"))
)


@pytest.mark.parametrize("target", TARGETS)
def test_integration_target(lab, target):
    config = f"kubeconfig: {Path(lab.kubeconfig).resolve()}\n"
    rc = run(
        ["integration", target, "--local", "--python", "3.11", "--color", "no"],
        files={"tests/integration/integration_config.yml": config},
    )
    assert rc == 0, f"integration target {target} failed (its output is above)"
