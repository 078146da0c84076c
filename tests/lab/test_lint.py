"""execution-environment.yml is accepted by ansible-builder and agrees with the repository's pins.

These checks need no container engine: `ansible-builder create` writes the build context a build
would use. The lab also builds the image (`make images`, lab/ee.py; tests/lab/test_images.py and
test_awx_runner.py run it). (ansible-lint, the other lint gate, also checks the file against its
schema: `make ansible-lint`.)
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from lab.ansible_env import VENV_BIN
from tests.requirement_pins import pins

REPO = Path(__file__).resolve().parents[2]
BUILDER = VENV_BIN / "ansible-builder"
BUNDLED = VENV_BIN.parent / "lib"


def _builder(*args: str) -> subprocess.CompletedProcess[str]:
    assert BUILDER.is_file(), f"{BUILDER} is missing: run `make venv`"
    return subprocess.run([str(BUILDER), *args], cwd=REPO, capture_output=True, text=True, check=False)


def test_ansible_builder_creates_the_build_context(tmp_path: Path) -> None:
    context = tmp_path / "context"
    done = _builder(
        "create",
        "--file",
        "execution-environment.yml",
        "--context",
        str(context),
        "--output-filename",
        "Containerfile",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    containerfile = (context / "Containerfile").read_text()
    build = context / "_build"
    # The Python packages are requirements/modules.txt, unchanged.
    assert pins(build / "requirements.txt") == pins(REPO / "requirements" / "modules.txt")
    collections = yaml.safe_load((build / "requirements.yml").read_text())["collections"]
    assert [c["name"] for c in collections] == ["kubernetes.core"]
    # ansible-core and ansible-runner at the versions the development environment pins.
    dev = pins(REPO / "requirements" / "dev.txt")
    for name in ("ansible-core", "ansible-runner"):
        assert f"{name}=={dev[name]}" in containerfile, f"{name} is not pinned to {dev[name]} in the EE"
    for script in ("assemble", "introspect.py", "entrypoint"):
        assert (build / "scripts" / script).is_file(), f"the build context lacks {script}"


def test_the_ee_gets_the_kubernetes_core_the_ansible_package_bundles() -> None:
    wanted = yaml.safe_load((REPO / "requirements" / "ee-collections.yml").read_text())["collections"]
    manifests = list(BUNDLED.glob("python3*/site-packages/ansible_collections/kubernetes/core/MANIFEST.json"))
    assert manifests, "kubernetes.core is not installed in .venv: run `make venv`"
    bundled = json.loads(manifests[0].read_text())["collection_info"]["version"]
    assert wanted == [{"name": "kubernetes.core", "version": f"=={bundled}"}]


def test_introspection_merges_kubernetes_core_and_our_python_requirements(tmp_path: Path) -> None:
    """What the build's introspect step computes, run here on the collections the EE will hold."""
    manifests = list(BUNDLED.glob("python3*/site-packages/ansible_collections/kubernetes/core/MANIFEST.json"))
    assert manifests, "kubernetes.core is not installed in .venv: run `make venv`"
    (tmp_path / "ansible_collections" / "kubernetes").mkdir(parents=True)
    (tmp_path / "ansible_collections" / "kubernetes" / "core").symlink_to(manifests[0].parent)
    done = _builder("introspect", "--sanitize", "--user-pip", "requirements/modules.txt", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    found = yaml.safe_load(done.stdout[done.stdout.index("---") :])
    python = " ".join(found["python"])
    assert "from collection kubernetes.core" in python
    for name, version in pins(REPO / "requirements" / "modules.txt").items():
        assert re.search(rf"(?i)\b{re.escape(name)}=={re.escape(version)}\b", python), (
            f"{name}=={version} lost"
        )
