"""Run ansible-test on a copy of this checkout placed at ansible_collections/baremetal/lb.

ansible-test must run inside such a path and resolves symlinks, and inside a git work tree it
only sees files git lists, so the copy goes to a temporary directory outside the checkout.
Usage: python tests/run_ansible_test.py sanity --python 3.11
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import yaml

REPO = Path(__file__).resolve().parents[1]
ANSIBLE_TEST = Path(sys.executable).with_name("ansible-test")


def collection_files() -> list[str]:
    """Files git tracks, or would track, in the checkout."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted({f for f in listed.split("\0") if f and (REPO / f).is_file()})


def shipped(files: list[str]) -> list[str]:
    """Those of FILES `ansible-galaxy collection build` puts in the collection: none that
    galaxy.yml's build_ignore matches, as a path or as a folder above it (the lab, the benches)."""
    ignored = yaml.safe_load((REPO / "galaxy.yml").read_text())["build_ignore"]

    def kept(name: str) -> bool:
        parts = name.split("/")
        heads = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        return not any(fnmatch.fnmatch(head, pattern) for head in heads for pattern in ignored)

    return [name for name in files if kept(name)]


def copy_collection(root: Path, files: list[str]) -> Path:
    """Copy FILES of the checkout to ROOT/ansible_collections/baremetal/lb and return that path.

    The collections it depends on (kubernetes.core, from the `ansible` package) are linked
    beside it, where ansible-test looks for them.
    """
    dest = root / "ansible_collections" / "baremetal" / "lb"
    for name in files:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, dest / name)
    (root / "ansible_collections" / "kubernetes").symlink_to(_installed_collection("kubernetes"))
    return dest


def _installed_collection(namespace: str) -> Path:
    import ansible_collections  # noqa: PLC0415

    for base in ansible_collections.__path__:
        if (Path(base) / namespace).is_dir():
            return Path(base) / namespace
    raise SystemExit(f"the {namespace}.* collections are not installed: run `make venv`")


def install_get_pip_stand_in() -> None:
    """Put the stand-in bootstrap script where ansible-test looks for its cached get-pip."""
    from ansible_test._internal.python_requirements import get_venv_packages  # noqa: PLC0415

    version = get_venv_packages(SimpleNamespace(version=f"{sys.version_info[0]}.{sys.version_info[1]}"))[
        "pip"
    ]
    target = Path.home() / ".ansible" / "test" / "cache" / f"get_pip_{version.replace('.', '_')}.py"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "tests" / "ansible_test_get_pip.py", target)


@contextmanager
def collection_copy(files: dict[str, str] | None = None, shipped_only: bool = False) -> Iterator[Path]:
    """A fresh copy of the collection to run ansible-test in, removed afterwards.

    `files` adds files to the copy (relative path -> text), e.g. the integration_config.yml
    through which integration targets learn the lab's kubeconfig: ansible-test passes no
    environment variables through to them. With `shipped_only`, the copy holds only what the
    built collection holds (no lab, no benches: ruff and mypy check those).
    """
    install_get_pip_stand_in()
    listed = collection_files()
    with tempfile.TemporaryDirectory(prefix="bmlb-ansible-test-") as tmp:
        tree = copy_collection(Path(tmp), shipped(listed) if shipped_only else listed)
        for name, text in (files or {}).items():
            (tree / name).write_text(text)
        yield tree


# Sanity checks what users install. Units and integration run tests that also import the
# helpers the build leaves out (tests/unit checks the benches' judges).
SHIPPED_ONLY_COMMANDS = {"sanity"}


def run(args: list[str], files: dict[str, str] | None = None) -> int:
    """Run `ansible-test ARGS` in a fresh copy of the collection; return its exit code."""
    with collection_copy(files, shipped_only=args[0] in SHIPPED_ONLY_COMMANDS) as tree:
        return subprocess.run([str(ANSIBLE_TEST), *args], check=False, cwd=tree).returncode


@dataclass(frozen=True)
class IntegrationRun:
    """What one `ansible-test integration` call over many targets printed and which targets passed."""

    returncode: int
    output: str
    passed: frozenset[str]


def run_integration(targets: list[str], options: list[str], files: dict[str, str]) -> IntegrationRun:
    """Run TARGETS in one `ansible-test integration` call that goes on past a failed target.

    One call runs each `setup/once/` target once, not once per target. The targets that passed
    are read from the results file ansible-test writes (it lists passed targets only).
    """
    with collection_copy(files) as tree:
        done = subprocess.run(
            [str(ANSIBLE_TEST), "integration", *targets, "--continue-on-error", *options],
            check=False,
            cwd=tree,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            encoding="utf-8",
            errors="replace",
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        passed: set[str] = set()
        for results in (tree / "tests" / "output" / "data").glob("integration-*.json"):
            passed.update(json.loads(results.read_text())["targets"])
    return IntegrationRun(done.returncode, done.stdout, frozenset(passed))


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
