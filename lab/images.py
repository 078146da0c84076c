"""Build the lab's container images without a registry, cache them, export them as OCI archives.

The lab reaches the Debian mirror and PyPI but no container registry, so every image is made here:

- ``base``: Debian bookworm with python3 and pip (``mmdebstrap --variant=apt`` from the mirror
  apt on this machine uses), pip's "externally managed" marker removed so it behaves like
  ``python:3.11-slim``; imported as an image.
- ``pause``: Kubernetes' own ``build/pause/linux/pause.c`` at the lab's pinned release, compiled
  statically with gcc, in an image of that one file (named as kubelet and containerd expect).
- ``daemons``: the repository's ``Containerfile`` with ``BASE`` set to the local base, under the
  name the install role deploys (``install_image``).

Each image has a cache key: a digest of everything that goes into it (recipe, sources, the key
of the image it builds on). A build exports the image as an OCI archive
``$BMLB_CACHE_DIR/images/<name>-<key>.oci.tar`` (what ``ctr -n k8s.io images import`` takes)
and records name, digest, archive and size in ``$BMLB_CACHE_DIR/images/images.json``. An image
whose key matches the record and whose archive exists is not built again.

podman runs with its own configuration (``$BMLB_CACHE_DIR/containers``), never the machine's:
storage under the cache dir (overlay; BMLB_STORAGE_DRIVER=vfs where the cache dir's filesystem
cannot hold overlay layers), runroot under /run, runc (crun refuses this machine's
cgroup v1 hybrid layout), default ulimits equal to the current ones (podman asks for more and
CAP_SYS_RESOURCE is withheld here), and no network of its own: builds use the host's network,
containers get none unless the caller names a namespace (``--network ns:/run/netns/NAME``), so
podman never creates a bridge or firewall rules on the machine. The daemons' build mounts this
machine's CA bundle for pip (behind a TLS-inspecting proxy PyPI is reachable only that way);
nothing of it is committed to the image. BMLB_DEBIAN_MIRROR overrides the mirror.

``make images`` (``python -m lab images``) runs this; ``make test`` runs it before pytest and
tests/lab/test_images.py runs the daemons' image in the lab.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import resource
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from .build import COMPONENTS, cache_dir, check_go

REPO = Path(__file__).resolve().parents[1]
SUITE = "bookworm"
_DEFAULT_MIRROR = "http://deb.debian.org/debian"
_HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
_MANIFEST = "images.json"
# The images every lab node's containerd gets at start (pods use them with imagePullPolicy IfNotPresent).
NODE_IMAGES = ("pause", "daemons")
# Files of the repository the daemons' image is made of (the Containerfile's COPY sources).
_DAEMON_SOURCES = (
    "Containerfile",
    ".containerignore",
    "requirements/runtime.txt",
    "galaxy.yml",
    "plugins",
    "daemons",
)


@dataclass(frozen=True)
class Built:
    """One image as recorded in the manifest."""

    name: str  # base, pause, daemons
    ref: str  # the image's full name, e.g. ghcr.io/baremetal-lb/baremetal-lb:0.1.0
    key: str  # the cache key it was built for
    digest: str  # the OCI manifest digest inside the archive
    archive: str  # path of the OCI archive
    size: int  # bytes of the archive
    seconds: float  # how long the build took

    def as_json(self) -> dict[str, Any]:
        """The manifest entry."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Result:
    """What ensure_all did: every image, and the names of those it had to build."""

    images: dict[str, Built]
    built: list[str]

    @property
    def cached(self) -> bool:
        """True when nothing was built."""
        return not self.built


# -- podman with the lab's own configuration -------------------------------------------------------


def containers_dir() -> Path:
    """Where podman keeps the lab's configuration and storage."""
    return cache_dir() / "containers"


def podman_env() -> dict[str, str]:
    """The environment that points podman at the lab's configuration (written on first use)."""
    conf = containers_dir()
    conf.mkdir(parents=True, exist_ok=True)
    storage = conf / "storage"
    runroot = Path("/run/baremetal-lb") / f"containers-{hashlib.sha256(bytes(storage)).hexdigest()[:8]}"
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)
    # podman lowers its own NPROC to at most 32768 before it starts the runtime.
    nproc_limit = 32768 if nproc[1] == resource.RLIM_INFINITY else min(32768, nproc[1])
    files = {
        "storage.conf": (
            "[storage]\n"
            f'driver = "{os.environ.get("BMLB_STORAGE_DRIVER", "overlay")}"\n'
            f'graphroot = "{storage}"\n'
            f'runroot = "{runroot}/storage"\n'
        ),
        "containers.conf": (
            "[containers]\n"
            'netns = "none"\n'
            f'default_ulimits = ["nofile={nofile[0]}:{nofile[1]}", "nproc={nproc_limit}:{nproc_limit}"]\n'
            "[engine]\n"
            'runtime = "runc"\n'
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'events_logfile_path = "{conf}/events.log"\n'
            f'tmp_dir = "{runroot}/libpod"\n'
            "[network]\n"
            f'network_config_dir = "{conf}/net.d"\n'
        ),
        "registries.conf": 'unqualified-search-registries = []\nshort-name-mode = "enforcing"\n',
    }
    for name, text in files.items():
        path = conf / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return {
        **os.environ,
        "CONTAINERS_CONF": str(conf / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(conf / "storage.conf"),
        "CONTAINERS_REGISTRIES_CONF": str(conf / "registries.conf"),
    }


# Containers run by the lab go under this cgroup (in every hierarchy), so they are easy to find and
# the directories podman leaves behind (conmon's, the parent) can be removed: remove_cgroups().
CGROUP_PARENT = "/baremetal-lb-podman"
_CGROUP_ROOT = Path("/sys/fs/cgroup")


def remove_cgroups() -> list[Path]:
    """Remove the empty cgroup directories podman left under CGROUP_PARENT; return those still busy."""
    busy = []
    for parent in sorted(_CGROUP_ROOT.glob(f"*{CGROUP_PARENT}")):
        for directory in [*sorted(p for p in parent.iterdir() if p.is_dir()), parent]:
            try:
                directory.rmdir()
            except OSError:
                busy.append(directory)
    return busy


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run podman with the lab's configuration; raises with podman's own words when it fails.

    ``run`` and ``create`` put the container under CGROUP_PARENT.
    """
    argv = ["podman", *args]
    if args and args[0] in ("run", "create"):
        argv.insert(2, f"--cgroup-parent={CGROUP_PARENT}")
    proc = subprocess.run(
        argv, env=podman_env(), capture_output=True, text=True, check=False, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed (rc={proc.returncode}): {proc.stderr.strip()}")
    return proc


# -- the three recipes ------------------------------------------------------------------------------


def debian_mirror(sources: Iterable[Path] | None = None) -> str:
    """The Debian archive apt on this machine uses (BMLB_DEBIAN_MIRROR overrides it)."""
    if os.environ.get("BMLB_DEBIAN_MIRROR"):
        return os.environ["BMLB_DEBIAN_MIRROR"]
    paths = sources if sources is not None else _apt_sources()
    for path in paths:
        try:
            text = path.read_text()
        except OSError:
            continue
        # deb822 ("URIs: …" with "Suites: bookworm …") or one-line ("deb URI bookworm main").
        for stanza in re.split(r"\n\s*\n", text):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.MULTILINE)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.MULTILINE)
            if uris and suites and SUITE in suites.group(1).split():
                return uris.group(1)
        for match in re.finditer(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", text, re.MULTILINE):
            if match.group(2) == SUITE:
                return match.group(1)
    return _DEFAULT_MIRROR


def _apt_sources() -> list[Path]:
    folder = Path("/etc/apt/sources.list.d")
    listed = sorted(folder.glob("*.sources")) + sorted(folder.glob("*.list")) if folder.is_dir() else []
    return [Path("/etc/apt/sources.list"), *listed]


def _base_argv(target: Path) -> list[str]:
    excluded = ("doc", "man", "locale", "info")
    return [
        "mmdebstrap",
        "--variant=apt",
        "--include=python3,python3-pip,python-is-python3",
        *(f"--dpkgopt=path-exclude=/usr/share/{d}/*" for d in excluded),
        '--customize-hook=rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED',
        SUITE,
        str(target),
    ]


def _kubernetes_source() -> tuple[str, Path]:
    """The lab's pinned Kubernetes release and its source in the Go module cache (downloaded if absent)."""
    component = next(c for c in COMPONENTS if c.name == "kubernetes")
    version = component.version()
    out = subprocess.run(
        [check_go(), "mod", "download", "-json", f"k8s.io/kubernetes@{version}"],
        cwd=component.wrapper,
        env={**os.environ, "GOTOOLCHAIN": "local"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return version, Path(json.loads(out)["Dir"])


def _pause_tag(source: Path) -> str:
    match = re.search(r"^TAG \?= (\S+)", (source / "build/pause/Makefile").read_text(), re.MULTILINE)
    if not match:
        raise RuntimeError(f"no `TAG ?=` in {source}/build/pause/Makefile")
    return match.group(1)


def _daemons_ref() -> str:
    default = yaml.safe_load((REPO / "roles/install/defaults/main.yml").read_text())["install_image"]
    return str(default)


def _digest_files(paths: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for top in paths:
        root = REPO / top
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or not path.exists():
                continue
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


# -- building ---------------------------------------------------------------------------------------


def images_dir() -> Path:
    """Where the OCI archives and images.json live."""
    return cache_dir() / "images"


def recorded() -> dict[str, Built]:
    """The images the manifest records (empty when nothing was built yet)."""
    try:
        data = json.loads((images_dir() / _MANIFEST).read_text())
    except FileNotFoundError:
        return {}
    return {name: Built(**entry) for name, entry in data.items()}


class _Recipe(NamedTuple):
    name: str
    ref: str
    key: str
    build: Callable[[Path, Callable[[str], None]], None]  # (archive to write, progress printer)


def _recipes() -> list[_Recipe]:
    """The three images, each with the key of everything that goes into it."""
    version, source = _kubernetes_source()
    base_ref = f"localhost/baremetal-lb/debian-python:{SUITE}"
    base_key = _key(*_base_argv(Path("-")))
    pause_ref = f"registry.k8s.io/pause:{_pause_tag(source)}"
    pause_c = source / "build/pause/linux/pause.c"
    daemons_ref = _daemons_ref()
    return [
        _Recipe("base", base_ref, base_key, lambda out, say: _build_base(base_ref, out, say)),
        _Recipe(
            "pause",
            pause_ref,
            _key(version, hashlib.sha256(pause_c.read_bytes()).hexdigest(), *_PAUSE_CFLAGS),
            lambda out, say: _build_pause(pause_ref, pause_c, version, out, say),
        ),
        _Recipe(
            "daemons",
            daemons_ref,
            _key(base_key, _digest_files(_DAEMON_SOURCES)),
            lambda out, say: _build_daemons(daemons_ref, base_ref, out, say),
        ),
    ]


def ensure_all(log: bool = True) -> Result:
    """Build every image whose recipe changed or whose archive is gone; load cached ones into podman.

    One caller at a time (a lock file in the images directory), so `make images` and a test
    session never build into each other.
    """
    say: Callable[[str], None] = (lambda text: print(text, flush=True)) if log else (lambda text: None)
    images_dir().mkdir(parents=True, exist_ok=True)
    with open(images_dir() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = recorded()
        built = [recipe.name for recipe in _recipes() if _ensure(recipe, record, say)]
        remove_cgroups()
    if not built:
        say(f"==> images: {', '.join(record)} cached, nothing to build ({images_dir()})")
    return Result(dict(record), built)


def _ensure(recipe: _Recipe, record: dict[str, Built], say: Callable[[str], None]) -> bool:
    """Build one image unless the record has it for this key; True when it was built."""
    entry = record.get(recipe.name)
    if entry and entry.key == recipe.key and entry.ref == recipe.ref and Path(entry.archive).exists():
        _load_if_missing(entry)
        return False
    say(f"==> images: building {recipe.name} ({recipe.ref})")
    started = time.monotonic()
    archive = images_dir() / f"{recipe.name}-{recipe.key}.oci.tar"
    recipe.build(archive, say)
    seconds = round(time.monotonic() - started, 1)
    size = archive.stat().st_size
    if entry and entry.archive != str(archive):
        Path(entry.archive).unlink(missing_ok=True)
    record[recipe.name] = Built(
        recipe.name, recipe.ref, recipe.key, _archive_digest(archive), str(archive), size, seconds
    )
    _save(record)
    say(f"==> images: {recipe.name} built in {seconds:.0f}s, {size / 1e6:.1f} MB -> {archive}")
    return True


def _save(record: Mapping[str, Built]) -> None:
    path = images_dir() / _MANIFEST
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({n: b.as_json() for n, b in record.items()}, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _load_if_missing(entry: Built) -> None:
    """Put a cached image back into podman's storage when that was wiped."""
    if podman("image", "exists", entry.ref, check=False).returncode != 0:
        podman("load", "--quiet", "--input", entry.archive, timeout=600)


def _archive_digest(archive: Path) -> str:
    out = subprocess.run(["tar", "-xOf", str(archive), "index.json"], capture_output=True, check=True).stdout
    return str(json.loads(out)["manifests"][0]["digest"])


def _export(ref: str, archive: Path) -> None:
    archive.unlink(missing_ok=True)
    podman("save", "--quiet", "--format", "oci-archive", "--output", str(archive), ref, timeout=600)


def _build_base(ref: str, archive: Path, say: Callable[[str], None]) -> None:
    mirror = debian_mirror()
    say(f"    mmdebstrap {SUITE} from {mirror} (about a minute)")
    with tempfile.TemporaryDirectory(dir=images_dir(), prefix=".base-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        _stream([*_base_argv(rootfs), mirror], say, lambda line: line.startswith("I: "))
        podman("import", "--quiet", "--change", 'CMD ["python3"]', str(rootfs), ref, timeout=600)
    _export(ref, archive)


_PAUSE_CFLAGS = ("-Os", "-Wall", "-Werror", "-static")


def _build_pause(ref: str, pause_c: Path, version: str, archive: Path, say: Callable[[str], None]) -> None:
    say(f"    gcc -static {pause_c}")
    with tempfile.TemporaryDirectory(dir=images_dir(), prefix=".pause-") as tmp:
        context = Path(tmp)
        tag = ref.rpartition(":")[2]
        subprocess.run(
            [
                "gcc",
                *_PAUSE_CFLAGS,
                f"-DVERSION=v{tag}-kubernetes-{version}",
                "-o",
                str(context / "pause"),
                str(pause_c),
            ],
            check=True,
        )
        (context / "Containerfile").write_text(
            'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n'
        )
        _stream(
            ["podman", "build", _BUILD_CGROUP, "--network=host", "-t", ref, str(context)],
            say,
            _is_step,
            podman_env(),
        )
    _export(ref, archive)


def _build_daemons(ref: str, base: str, archive: Path, say: Callable[[str], None]) -> None:
    argv = [
        "podman",
        "build",
        _BUILD_CGROUP,
        "--pull=never",
        "--layers",
        "--network=host",
        f"--build-arg=BASE={base}",
    ]
    if _HOST_CA_BUNDLE.exists():
        # pip in the build trusts what this machine trusts (a proxy's CA, say); nothing is committed.
        argv.append(f"--volume={_HOST_CA_BUNDLE}:{_HOST_CA_BUNDLE}:ro")
    argv += ["-t", ref, "-f", str(REPO / "Containerfile"), str(REPO)]
    say(f"    podman build -f Containerfile (BASE={base}; pip installs requirements/runtime.txt from PyPI)")
    _stream(argv, say, _is_step, podman_env())
    _export(ref, archive)
    # The image this one replaces is now nameless; the layers the new one builds on stay cached.
    podman("image", "prune", "--force", timeout=600)


_BUILD_CGROUP = f"--cgroup-parent={CGROUP_PARENT}"


def _is_step(line: str) -> bool:
    return line.startswith("STEP ")


def _stream(
    argv: list[str],
    say: Callable[[str], None],
    shown: Callable[[str], bool],
    env: Mapping[str, str] | None = None,
) -> None:
    """Run a long step, echoing its progress lines; on failure raise with its last output."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    tail: list[str] = []
    for line in proc.stdout:
        tail = [*tail[-39:], line]
        if shown(line):
            say(f"    [{time.monotonic() - started:4.0f}s] {line.rstrip()}")
    if proc.wait() != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} … failed (rc={proc.returncode}):\n{''.join(tail)}")
