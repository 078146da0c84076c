"""Fail when a built collection tarball carries lab state, caches, test output or dev tooling,
or differs from the files ansible-test sanity checks (run_ansible_test.shipped)."""

from __future__ import annotations

import sys
import tarfile

from tests.run_ansible_test import collection_files, shipped

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
# What the build writes in place of galaxy.yml.
BUILD_WRITES = {"MANIFEST.json", "FILES.json"}


def main(path: str) -> int:
    """Check one tarball; print what is wrong and return non-zero when anything is."""
    with tarfile.open(path) as tar:
        names = [n.removeprefix("./") for n in tar.getnames()]
        files = {m.name.removeprefix("./") for m in tar.getmembers() if m.isfile()}
    bad = [n for n in names if n.startswith(FORBIDDEN_PREFIXES) or "__pycache__" in n]
    missing = [r for r in REQUIRED if r not in names]
    checked = set(shipped(collection_files())) - {"galaxy.yml"}
    unchecked = sorted(files - checked - BUILD_WRITES)
    lacking = sorted(checked - files)
    for name in bad:
        print(f"{path}: must not contain {name}")
    for name in missing:
        print(f"{path}: lacks {name}")
    for name in unchecked:
        print(f"{path}: ships {name}, which sanity does not check (fix run_ansible_test.shipped)")
    for name in lacking:
        print(f"{path}: lacks {name}, which sanity checks (fix run_ansible_test.shipped)")
    if not (bad or missing or unchecked or lacking):
        print(f"{path}: {len(names)} entries, no lab state, caches or test output; sanity checked these")
    return 1 if bad or missing or unchecked or lacking else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
