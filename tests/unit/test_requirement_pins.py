"""Packages the unit tests pin that the daemons and modules pin too are pinned at the same version.

``ansible-test units`` installs tests/unit/requirements.txt from its own directory, so that file
cannot include requirements/runtime.txt; it repeats the pins it needs, and this keeps them equal.
"""

from __future__ import annotations

from pathlib import Path

from tests.requirement_pins import pins

REPO = Path(__file__).resolve().parents[2]


def test_the_unit_tests_use_the_runtime_pins():
    runtime = pins(REPO / "requirements" / "runtime.txt")
    units = pins(REPO / "tests" / "unit" / "requirements.txt")
    shared = runtime.keys() & units.keys()
    assert "kubernetes" in shared, "the 429 retry test raises the Kubernetes client's own ApiException"
    assert {name: units[name] for name in shared} == {name: runtime[name] for name in shared}
