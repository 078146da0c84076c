"""Run every ansible-test integration target against the session's lab.

All targets run in one ansible-test call (so the CRD set-up they share runs once); each target
is still its own test, failing with the part of the output that target printed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.run_ansible_test import REPO, IntegrationRun, run_integration

# setup_* and prepare_* targets are hidden: ansible-test runs them only as dependencies.
TARGETS = sorted(
    p.name
    for p in (REPO / "tests" / "integration" / "targets").iterdir()
    if p.is_dir() and not p.name.startswith(("setup_", "prepare_"))
)

# ansible-test announces each target, set-up targets included, with this line.
TARGET_START = re.compile(r"^Running (\S+) integration test (?:role|script)$", re.MULTILINE)


def output_of(run: IntegrationRun, target: str) -> str:
    """What ansible-test printed from TARGET's start to the next target's, or all of it."""
    starts = list(TARGET_START.finditer(run.output))
    ends = [start.start() for start in starts[1:]] + [len(run.output)]
    for start, end in zip(starts, ends, strict=True):
        if start.group(1) == target:
            return run.output[start.start() : end]
    return f"(it never started; ansible-test exited {run.returncode} and printed:)\n{run.output}"


@pytest.fixture(scope="module")
def integration_run(request, lab) -> IntegrationRun:
    """One ansible-test call over the targets whose tests this session selected (e.g. with -k)."""
    selected = sorted(
        item.callspec.params["target"]
        for item in request.session.items
        if item.module is request.module and hasattr(item, "callspec")
    )
    config = f"kubeconfig: {Path(lab.kubeconfig).resolve()}\n"
    run = run_integration(
        selected,
        ["--local", "--python", "3.11", "--color", "no"],
        files={"tests/integration/integration_config.yml": config},
    )
    if run.returncode != 0 and run.passed.issuperset(selected):
        ended = f"every target passed, yet ansible-test exited {run.returncode}"
        pytest.fail(f"{ended}:\n{run.output}", pytrace=False)
    return run


@pytest.mark.parametrize("target", TARGETS)
def test_integration_target(integration_run, target):
    if target not in integration_run.passed:
        output = output_of(integration_run, target)
        pytest.fail(f"integration target {target} failed:\n{output}", pytrace=False)
