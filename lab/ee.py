"""The AWX execution environment of execution-environment.yml, built offline onto the lab's base.

ansible-builder builds it from the repository's definition with the changes a machine without a
registry and without Galaxy needs, and nothing else:

- the base image is the lab's Debian base (python3.11 is its interpreter too, so the
  definition's ``python_interpreter`` holds) and the package manager is apt-get (ansible-builder
  calls ``$PKGMGR install python3.11 -y`` and ``$PKGMGR clean all``, which apt-get understands; no
  system package is missing, as bindep finds nothing for Debian in kubernetes.core's bindep.txt);
- ``skip_pip_install``: the base has Debian's pip, and Debian disables ``ensurepip`` (which
  ansible-builder would otherwise run) for the system Python;
- the Galaxy requirements are collection tarballs installed with ``--offline``: kubernetes.core
  at the version requirements/ee-collections.yml pins, rebuilt from the copy the pinned
  ``ansible`` package installed in the venv (its MANIFEST lists files that package leaves out, so
  it is rebuilt from a galaxy.yml made of its own collection_info rather than repacked), and
  this checkout's baremetal.lb, so the image runs the collection under test;
- the tag is the definition's own, under ``localhost/``.

Python packages (requirements/modules.txt, ansible-core, ansible-runner, bindep, dumb-init) come
from PyPI, as in any ansible-builder build.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from lab.ansible_env import VENV_BIN

REPO = Path(__file__).resolve().parents[1]
DEFINITION = REPO / "execution-environment.yml"
# What the image is made of, besides its base: the definition, the files it names and the
# collection's content (galaxy.yml's build_ignore leaves out the rest of the checkout).
INPUTS = (
    "execution-environment.yml",
    "requirements/ee-collections.yml",
    "requirements/modules.txt",
    "galaxy.yml",
    "meta",
    "plugins",
    "roles",
    "playbooks",
)
# Passed as a build argument: ansible-galaxy installs the tarballs without asking Galaxy.
BUILD_ARGS = ("ANSIBLE_GALAXY_CLI_COLLECTION_OPTS=--offline",)


def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(DEFINITION.read_text())
    return spec


def ref() -> str:
    """The image's name: the definition's tag, under localhost/ as podman names local images."""
    return f"localhost/{_spec()['options']['tags'][0]}"


def _pinned_collections() -> dict[str, str]:
    """The collections requirements/ee-collections.yml pins with ``==``, as name -> version."""
    path = DEFINITION.parent / _spec()["dependencies"]["galaxy"]
    wanted = yaml.safe_load(path.read_text())["collections"]
    return {c["name"]: str(c["version"]).removeprefix("==") for c in wanted}


def bundled_collection(name: str) -> Path:
    """The copy of collection ``name`` the venv's ``ansible`` package installed."""
    namespace, _dot, short = name.partition(".")
    for site in map(Path, sys.path):
        found = site / "ansible_collections" / namespace / short
        if (found / "MANIFEST.json").is_file():
            return found
    raise RuntimeError(f"the venv has no {name} (the `ansible` package brings it): run `make venv`")


def toolchain() -> str:
    """What else decides the image: ansible-builder's version and the bundled collections' manifests."""
    parts = [metadata.version("ansible-builder")]
    for name in sorted(_pinned_collections()):
        parts.append((bundled_collection(name) / "MANIFEST.json").read_text())
    return "\0".join(parts)


def _rebuild_bundled(name: str, version: str, out: Path) -> Path:
    """A tarball of the venv's copy of ``name``; fails unless it is the pinned ``version``."""
    source = bundled_collection(name)
    info = json.loads((source / "MANIFEST.json").read_text())["collection_info"]
    if info["version"] != version:
        raise RuntimeError(
            f"requirements/ee-collections.yml pins {name} {version}, the venv's ansible package has "
            f"{info['version']}: align the pin with requirements/dev.txt's ansible"
        )
    tree = out / f"{name}-src"
    shutil.copytree(source, tree, ignore=shutil.ignore_patterns("__pycache__", "MANIFEST.json", "FILES.json"))
    keys = ["namespace", "name", "version", "readme", "authors", "description", "license"]
    keys += ["license_file", "tags", "dependencies", "repository", "documentation", "homepage", "issues"]
    galaxy = {k: info[k] for k in keys if info.get(k) not in (None, "", [], {})}
    (tree / "galaxy.yml").write_text(yaml.safe_dump(galaxy))
    return _galaxy_build(tree, out)


def _galaxy_build(source: Path, out: Path) -> Path:
    argv = [str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(out)]
    done = subprocess.run(
        [*argv, str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"ansible-galaxy collection build {source} failed: {done.stdout}{done.stderr}")
    return Path(done.stdout.strip().rpartition(" at ")[2])


def definition(base: str, tarballs: list[Path]) -> dict[str, Any]:
    """The repository's definition with the lab's changes; tarballs sit in ``collections/`` beside it."""
    spec = _spec()
    spec["images"]["base_image"]["name"] = base
    spec["options"]["package_manager_path"] = "/usr/bin/apt-get"
    spec["options"]["skip_pip_install"] = True
    spec["options"]["tags"] = [ref()]
    dependencies = spec["dependencies"]
    dependencies["python"] = str(DEFINITION.parent / dependencies["python"])
    dependencies["galaxy"] = {
        "collections": [{"name": f"/build/collections/{t.name}", "type": "file"} for t in tarballs]
    }
    spec["additional_build_files"] = [{"src": "collections", "dest": "collections"}]
    return spec


def prepare(base: str, workdir: Path) -> list[str]:
    """Write the lab's definition and its collection tarballs into ``workdir``.

    Returns the ansible-builder command, without the container build's own extra arguments.
    """
    collections = workdir / "collections"
    collections.mkdir(parents=True)
    tarballs = [
        _rebuild_bundled(name, version, workdir) for name, version in sorted(_pinned_collections().items())
    ]
    tarballs.append(_galaxy_build(REPO, workdir))
    for tarball in tarballs:
        tarball.rename(collections / tarball.name)
    spec = workdir / "execution-environment.yml"
    lab_definition = definition(base, [collections / t.name for t in tarballs])
    spec.write_text(yaml.safe_dump(lab_definition, sort_keys=False))
    return [
        str(VENV_BIN / "ansible-builder"),
        "build",
        "--file",
        str(spec),
        "--context",
        str(workdir / "context"),
        "--tag",
        ref(),
        "--container-runtime",
        "podman",
        *(f"--build-arg={arg}" for arg in BUILD_ARGS),
        "-v3",
    ]
