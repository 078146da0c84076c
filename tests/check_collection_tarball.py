"""Fail when a built collection tarball carries lab state, caches, test output or dev tooling."""

from __future__ import annotations

import sys
import tarfile

FORBIDDEN_PREFIXES = (
    ".lab/",
    ".venv/",
    ".build/",
    ".git/",
    "lab/",
    "bench/",
    "tests/output/",
    ".ci/",
    ".hypothesis/",
    "requirements/dev.txt",
    "requirements/installer.txt",
)
# The install role's host mode copies the daemons and installs requirements/daemons.txt.
REQUIRED = (
    "MANIFEST.json",
    "FILES.json",
    "meta/runtime.yml",
    "README.md",
    "daemons/__main__.py",
    "requirements/daemons.txt",
    "roles/install/tasks/host.yml",
)


def main(path: str) -> int:
    """Check one tarball; print what is wrong and return non-zero when anything is."""
    with tarfile.open(path) as tar:
        names = [n.removeprefix("./") for n in tar.getnames()]
    bad = [n for n in names if n.startswith(FORBIDDEN_PREFIXES) or "__pycache__" in n]
    missing = [r for r in REQUIRED if r not in names]
    for name in bad:
        print(f"{path}: must not contain {name}")
    for name in missing:
        print(f"{path}: lacks {name}")
    if not bad and not missing:
        print(f"{path}: {len(names)} entries, no lab state, caches or test output")
    return 1 if bad or missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
