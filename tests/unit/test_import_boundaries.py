"""The layers of the tree, as imports may cross them.

- ``plugins/module_utils`` is the pure logic the Ansible modules and the daemons share: it imports
  no daemon, lab, test or bench code, no module or filter, and nothing that opens sockets or
  starts processes or threads (that runtime code lives in ``daemons/``);
- ``plugins/modules``, ``plugins/filter`` and ``plugins/doc_fragments`` import only module_utils,
  Ansible and the standard library;
- ``daemons/`` import module_utils and each other, never the lab, tests, benches, modules or
  Ansible itself (the image and host mode install ``requirements/daemons.txt`` only);
- ``lab/`` is the test bed: it starts the daemons as processes by module name and imports none of
  their code, nor modules, tests or benches; it may read shared facts from module_utils;
- everywhere, the collection's code has one import root, ``ansible_collections.baremetal.lb``:
  never ``daemons.`` or ``plugins.`` relative to the checkout;
- what the daemons import, with the module_utils they reach, needs only the packages of
  ``requirements/daemons.txt``, and each of those is imported.

Each rule walks the source with ``ast``; a failure names the file, line, import and rule.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest

from tests.requirement_pins import distribution, pins

REPO = Path(__file__).resolve().parents[2]
COLLECTION = "ansible_collections.baremetal.lb"
# Top-level directories whose Python files are scanned, and the name each is imported under.
PACKAGES = {
    "plugins": f"{COLLECTION}.plugins",
    "daemons": f"{COLLECTION}.daemons",
    "lab": "lab",
    "tests": "tests",
    "bench": "bench",
}
RUNTIME_MODULES = frozenset(
    {"socket", "select", "subprocess", "threading", "multiprocessing", "ctypes", "asyncio"}
)


def layer_of(module: str) -> str:
    """The layer an imported module belongs to (a dotted name, as written or resolved)."""
    parts = module.split(".")
    top = parts[0]
    if module == COLLECTION or module.startswith(f"{COLLECTION}."):
        inner = parts[3:]
        if inner[:2] in (["plugins", "module_utils"], ["plugins", "modules"], ["plugins", "filter"]):
            return inner[1]
        return inner[0] if inner else "collection"
    if top in ("daemons", "plugins"):
        return "checkout-root"
    if top in ("lab", "tests", "bench"):
        return top
    if top in ("ansible", "ansible_collections"):
        return "ansible"
    if top in sys.stdlib_module_names:
        return "runtime" if top in RUNTIME_MODULES else "stdlib"
    return "third-party"


@dataclass(frozen=True)
class Import:
    """One imported name: where it is written and the module it resolves to."""

    path: Path
    line: int
    statement: str
    module: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}: {self.statement}"


def _module_name(path: Path) -> str:
    relative = path.relative_to(REPO).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGES[parts[0]], *parts[1:]])


def imports_in(path: Path, source: str | None = None) -> Iterator[Import]:
    """Every module ``path`` imports (``from X import a`` counts as ``X.a``), relative ones resolved."""
    text = path.read_text() if source is None else source
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, ast.unparse(node), alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield Import(path, node.lineno, ast.unparse(node), f"{base}.{alias.name}")


@dataclass(frozen=True)
class Rule:
    """Files under ``directories`` must not import from the ``forbidden`` layers."""

    name: str
    directories: tuple[str, ...]
    forbidden: frozenset[str]
    why: str

    def files(self) -> list[Path]:
        """The Python files the rule covers."""
        found: list[Path] = []
        for directory in self.directories:
            found += (REPO / directory).rglob("*.py")
        output = REPO / "tests" / "output"  # ansible-test's, not ours
        return sorted(p for p in found if "__pycache__" not in p.parts and not p.is_relative_to(output))

    def broken_by(self, found: Import) -> bool:
        """True when the import crosses a boundary this rule forbids."""
        return layer_of(found.module) in self.forbidden


EVERY_LAYER = frozenset({"daemons", "modules", "filter", "lab", "tests", "bench", "checkout-root"})
RULES = [
    Rule(
        "module_utils is the bottom layer",
        ("plugins/module_utils",),
        EVERY_LAYER - {"module_utils"},
        "module_utils is shared by the modules and the daemons and imports neither; move the code "
        "the import needs into module_utils, or the importing code out of it",
    ),
    Rule(
        "module_utils is pure",
        ("plugins/module_utils",),
        frozenset({"runtime"}),
        "module_utils opens no sockets and starts no processes or threads "
        f"({', '.join(sorted(RUNTIME_MODULES))}): such runtime code belongs in daemons/",
    ),
    Rule(
        "Ansible plugins use module_utils only",
        ("plugins/modules", "plugins/filter", "plugins/doc_fragments"),
        EVERY_LAYER | {"runtime", "third-party", "collection"},
        "modules and filters import only module_utils, Ansible and the standard library: put shared "
        "logic and third-party calls into plugins/module_utils",
    ),
    Rule(
        "daemons stand on module_utils",
        ("daemons",),
        frozenset({"modules", "filter", "lab", "tests", "bench", "ansible", "checkout-root", "collection"}),
        "the daemons import module_utils and each other; the image and host mode ship neither the "
        "lab, tests, benches, modules nor ansible-core",
    ),
    Rule(
        "the lab starts the daemons, it does not import them",
        ("lab",),
        frozenset({"daemons", "modules", "filter", "tests", "bench", "checkout-root", "collection"}),
        "the lab runs the daemons as processes (python -m ansible_collections.baremetal.lb.daemons.…) "
        "and may read shared facts from module_utils, nothing else of the product",
    ),
    Rule(
        "one import root",
        tuple(PACKAGES),
        frozenset({"checkout-root"}),
        f"import the collection's code as {COLLECTION}.daemons… or {COLLECTION}.plugins…, "
        "never relative to the checkout",
    ),
]


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_imports_keep_to_their_layer(rule: Rule) -> None:
    files = rule.files()
    assert files, f"{rule.name}: no Python files under {rule.directories}"
    broken = [found for path in files for found in imports_in(path) if rule.broken_by(found)]
    assert not broken, f"{rule.name}: {rule.why}\n" + "\n".join(
        f"  {found}  (imports {found.module}: {layer_of(found.module)})" for found in broken
    )


# A line each rule must refuse, written in a file of the layer it covers: the rules are not vacuous.
REFUSED = [
    ("module_utils is the bottom layer", "plugins/module_utils/x.py", "from ...daemons.kube import logs"),
    ("module_utils is the bottom layer", "plugins/module_utils/x.py", "import lab.state"),
    ("module_utils is pure", "plugins/module_utils/x.py", "import socket"),
    ("module_utils is pure", "plugins/module_utils/x.py", "from threading import Event"),
    ("Ansible plugins use module_utils only", "plugins/modules/x.py", "import kubernetes"),
    ("Ansible plugins use module_utils only", "plugins/filter/x.py", "import subprocess"),
    ("daemons stand on module_utils", "daemons/speaker/x.py", "from tests.lab import speaker_harness"),
    ("daemons stand on module_utils", "daemons/speaker/x.py", "from ansible.module_utils.basic import x"),
    ("daemons stand on module_utils", "daemons/kube/x.py", "from ...plugins.modules import expose"),
    ("the lab starts the daemons, it does not import them", "lab/x.py", f"import {COLLECTION}.daemons.kube"),
    ("one import root", "tests/x.py", "from daemons.kube.logs import configure_logs"),
    ("one import root", "bench/x.py", "import plugins.module_utils.pools"),
]
ALLOWED = [
    ("module_utils is pure", "plugins/module_utils/x.py", "import ipaddress"),
    ("module_utils is the bottom layer", "plugins/module_utils/x.py", "from .pools import AddressPool"),
    (
        "Ansible plugins use module_utils only",
        "plugins/modules/x.py",
        f"from {COLLECTION}.plugins.module_utils import a",
    ),
    ("daemons stand on module_utils", "daemons/speaker/x.py", "from ..kube.logs import configure_logs"),
    ("daemons stand on module_utils", "daemons/speaker/x.py", "import socket"),
    (
        "the lab starts the daemons, it does not import them",
        "lab/x.py",
        f"from {COLLECTION}.plugins.module_utils import a",
    ),
    ("one import root", "tests/x.py", f"from {COLLECTION}.daemons.kube.logs import configure_logs"),
]


@pytest.mark.parametrize(
    ("rule_name", "where", "line", "refused"),
    [(*case, True) for case in REFUSED] + [(*case, False) for case in ALLOWED],
)
def test_rules_refuse_what_they_say(rule_name: str, where: str, line: str, refused: bool) -> None:
    rule = next(r for r in RULES if r.name == rule_name)
    (found,) = imports_in(REPO / where, line)
    assert rule.broken_by(found) is refused, f"{rule_name}: {line} in {where} resolves to {found.module}"


def _collection_file(module: str) -> Path | None:
    """The file of the collection's code that ``module`` (or the module holding that name) is in."""
    if not module.startswith(f"{COLLECTION}."):
        return None
    parts = module.removeprefix(f"{COLLECTION}.").split(".")
    for end in range(len(parts), 0, -1):
        where = REPO.joinpath(*parts[:end])
        for candidate in (where.with_suffix(".py"), where / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def daemon_imports() -> Iterator[Import]:
    """Every import the daemons make, and those of the collection modules they reach, transitively."""
    todo = sorted((REPO / "daemons").rglob("*.py"))
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for found in imports_in(path):
            yield found
            inner = _collection_file(found.module)
            if inner is not None:
                todo.append(inner)


def unmet_requirements(
    imports: list[Import], pinned: set[str], providers: Mapping[str, list[str]]
) -> tuple[list[Import], list[str]]:
    """The third-party imports no pin provides, and the pins (distribution names) no import uses.

    ``providers`` maps a top-level import name to the distributions that install it (as
    :func:`importlib.metadata.packages_distributions` does); a name it lacks is taken as its own
    distribution's name.
    """
    used: set[str] = set()
    unpinned = []
    for found in imports:
        if layer_of(found.module) != "third-party":
            continue
        top = found.module.split(".")[0]
        provided = {distribution(d) for d in providers.get(top, [top])} & pinned
        used |= provided
        if not provided:
            unpinned.append(found)
    return unpinned, sorted(pinned - used)


def test_the_daemons_import_only_what_their_requirements_install() -> None:
    imports = list(daemon_imports())
    assert any(layer_of(found.module) == "third-party" for found in imports), "the walk found no package"
    pinned = set(pins(REPO / "requirements" / "daemons.txt"))
    unpinned, unused = unmet_requirements(imports, pinned, metadata.packages_distributions())
    lacking = "the image and host mode would lack these: pin them in requirements/daemons.txt"
    assert not unpinned, lacking + "\n" + "\n".join(f"  {found}" for found in unpinned)
    assert not unused, f"requirements/daemons.txt pins what the daemons never import: {unused}"


# What the requirements check finds in imports written in a daemon: it is not vacuous.
PROVIDERS = {"yaml": ["PyYAML"], "prometheus_client": ["prometheus_client"]}
REQUIREMENT_CASES = [
    (
        "all pinned and used",
        ["import yaml", "from prometheus_client import Gauge"],
        {"pyyaml", "prometheus-client"},
        [],
        [],
    ),
    ("an import no pin provides", ["import yaml", "import urllib3"], {"pyyaml"}, ["urllib3"], []),
    ("a pin no import uses", ["import yaml"], {"pyyaml", "six"}, [], ["six"]),
    ("stdlib and our own code need no pin", ["import socket", "from ..kube import logs"], set(), [], []),
]


@pytest.mark.parametrize(
    ("lines", "pinned", "unpinned", "unused"),
    [case[1:] for case in REQUIREMENT_CASES],
    ids=[case[0] for case in REQUIREMENT_CASES],
)
def test_unmet_requirements_finds_what_it_says(
    lines: list[str], pinned: set[str], unpinned: list[str], unused: list[str]
) -> None:
    imports = [found for line in lines for found in imports_in(REPO / "daemons" / "speaker" / "x.py", line)]
    missing, idle = unmet_requirements(imports, pinned, PROVIDERS)
    assert [found.module for found in missing] == unpinned
    assert idle == unused
