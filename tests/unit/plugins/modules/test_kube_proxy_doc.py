"""The kube_proxy module's documentation gives the waits its code uses.

ansible-doc text cannot name a constant, so the figures are written out there; this keeps them
equal to :data:`SETTLE_SECONDS` and :data:`GUARD_SECONDS` of kube_proxy_rollout.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from ansible_collections.baremetal.lb.plugins.module_utils.kube_proxy_rollout import (
    GUARD_SECONDS,
    SETTLE_SECONDS,
)

MODULE = Path(__file__).resolve().parents[4] / "plugins" / "modules" / "kube_proxy.py"


def _description() -> str:
    """The module's DOCUMENTATION description, its lines joined into one text."""
    tree = ast.parse(MODULE.read_text())
    text = next(
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "DOCUMENTATION" for t in node.targets)
        and isinstance(node.value, ast.Constant)
    )
    return " ".join(yaml.safe_load(text)["description"])


@pytest.mark.parametrize(
    "phrase",
    [
        f"they have stayed Ready for {SETTLE_SECONDS:g} seconds",
        f"C(minReadySeconds) raised to {GUARD_SECONDS}",
    ],
)
def test_the_documentation_states_the_waits_the_code_uses(phrase: str) -> None:
    assert phrase in _description()
