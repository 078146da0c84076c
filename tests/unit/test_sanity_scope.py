"""ansible-test sanity checks what the built collection holds: galaxy.yml's build_ignore decides.

tests/run_ansible_test.py copies only those files for sanity, matching each pattern against a
file's path and every folder above it, as `ansible-galaxy collection build` skips a matched folder
whole.
"""

from __future__ import annotations

import pytest

from tests.run_ansible_test import shipped

CASES = [
    ("plugins/modules/expose.py", True),
    ("plugins/module_utils/pools.py", True),
    ("daemons/speaker/__main__.py", True),
    ("roles/install/tasks/main.yml", True),
    ("tests/unit/plugins/module_utils/test_pools.py", True),
    ("tests/integration/targets/module_expose/tasks/main.yml", True),
    ("requirements/daemons.txt", True),
    ("lab/lifecycle.py", False),
    ("bench/chaos/speaker.py", False),
    ("molecule/default/molecule.yml", False),
    ("requirements/dev.txt", False),
    ("Makefile", False),
    ("pyproject.toml", False),
    ("tests/output/junit/python3.11.xml", False),
    ("baremetal-lb-0.1.0.tar.gz", False),
]


@pytest.mark.parametrize(("path", "kept"), CASES)
def test_sanity_sees_a_file_exactly_when_the_build_ships_it(path: str, kept: bool) -> None:
    assert (shipped([path]) == [path]) is kept
