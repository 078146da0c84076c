"""A package pinned in more than one requirements file is pinned at the same version in each.

The modules (requirements/modules.txt) and the daemons (requirements/daemons.txt) install apart, and
``ansible-test units`` installs tests/unit/requirements.txt from its own directory, so none of them
can include another; they repeat the pins they share, and this keeps them equal.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pytest

from tests.requirement_pins import pins

REPO = Path(__file__).resolve().parents[2]
FILES = (
    "requirements/modules.txt",
    "requirements/daemons.txt",
    "requirements/dev.txt",
    "requirements/installer.txt",
    "tests/unit/requirements.txt",
)


@pytest.mark.parametrize(("one", "other"), list(combinations(FILES, 2)))
def test_shared_pins_are_equal(one: str, other: str) -> None:
    first, second = pins(REPO / one), pins(REPO / other)
    shared = first.keys() & second.keys()
    assert {name: first[name] for name in shared} == {name: second[name] for name in shared}, (
        f"{one} and {other} pin a package at different versions"
    )


def test_the_unit_tests_use_the_modules_kubernetes_client() -> None:
    units = pins(REPO / "tests" / "unit" / "requirements.txt")
    assert "kubernetes" in units, "the 429 retry test raises the Kubernetes client's own ApiException"
