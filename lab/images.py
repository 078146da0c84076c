"""Build the lab's container images without a registry, cache them, export them as OCI archives.

The lab reaches the Debian mirror and PyPI but no container registry, so every image is made here
(lab/imagebuild.py has the steps, lab/containers.py the podman configuration):

- ``base``: Debian bookworm with python3 and pip (mmdebstrap from the mirror apt on this
  machine uses), pip's "externally managed" marker removed so it behaves like
  ``python:3.11-slim``; imported as an image.
- ``pause``: Kubernetes' own ``build/pause/linux/pause.c`` at the lab's pinned release, compiled
  statically with gcc, in an image of that one file (named as kubelet and containerd expect).
- ``daemons``: the repository's ``Containerfile`` with ``BASE`` set to the local base, under the
  name the install role deploys (``install_image``).
- ``echo-hname`` and ``echo-ip``: the walk-through's demo applications
  (lab/containerfiles/echo), on the base; they answer HTTP on port 8080 as nobody with the pod's
  name, or with the request's source and the pod's IP.
- ``kube-proxy``: Debian with nftables, iptables, ipset and conntrack (what kube-proxy runs in
  its nftables, iptables and IPVS modes) and the lab's kube-proxy build at /usr/local/bin, named as
  kubeadm's DaemonSet names it (registry.k8s.io/kube-proxy:<release>).
- ``ee``: the AWX execution environment of execution-environment.yml, built by ansible-builder
  onto the base, offline, with this checkout's collection in it (lab/ee.py).

Each image has a cache key: a digest of everything that goes into it (recipe, sources, the key
of the image it builds on). A build exports the image as an OCI archive
``$BMLB_CACHE_DIR/images/<name>-<key>.oci.tar`` (what ``ctr -n k8s.io images import`` takes:
:func:`load_into_containerd`) and records name, digest, archive and size in
``$BMLB_CACHE_DIR/images/images.json``. An image whose key matches the record and whose archive
exists is not built again.

``make images`` (``python -m lab images``) runs this; ``make test`` runs it before pytest and
tests/lab/test_images.py runs the images in the lab's namespaces.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from . import build, ee, imagebuild
from .containers import podman, podman_env, remove_cgroups
from .imagebuild import SUITE, Say

REPO = Path(__file__).resolve().parents[1]
_MANIFEST = "images.json"
# The images every lab node's containerd gets at start (pods use them with imagePullPolicy IfNotPresent).
NODE_IMAGES = ("pause", "daemons", "kube-proxy", "echo-hname", "echo-ip")
BASE_REF = f"localhost/baremetal-lb/debian-python:{SUITE}"
_BASE_PACKAGES = ("python3", "python3-pip", "python-is-python3")
_BASE_HOOKS = ('rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED',)
# What kube-proxy calls at run time: nft (nftables mode, through knftables), iptables and
# iptables-restore (iptables mode), ipset (IPVS mode), conntrack (clearing UDP flows); upstream's
# image has them too.
_NETFILTER_PACKAGES = ("nftables", "iptables", "ipset", "conntrack")
KUBE_PROXY_BINARY = "/usr/local/bin/kube-proxy"
# Files of the repository the daemons' image is made of (the Containerfile's COPY sources).
_DAEMON_SOURCES = (
    "Containerfile",
    ".containerignore",
    "requirements/daemons.txt",
    "galaxy.yml",
    "plugins",
    "daemons",
)
_ECHO = REPO / "lab" / "containerfiles" / "echo"
ECHO_IMAGES = ("echo-hname", "echo-ip")  # each a build target of lab/containerfiles/echo
ECHO_PORT = 8080


@dataclass(frozen=True)
class Built:
    """One image as recorded in the manifest."""

    name: str  # base, pause, daemons, echo-hname, …
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


# -- the recipes ------------------------------------------------------------------------------------


def _kubernetes() -> build.Component:
    return next(c for c in build.COMPONENTS if c.name == "kubernetes")


def _kubernetes_source() -> tuple[str, Path]:
    """The lab's pinned Kubernetes release and its source in the Go module cache (downloaded if absent)."""
    component = _kubernetes()
    version = component.version()
    out = subprocess.run(
        [build.check_go(), "mod", "download", "-json", f"k8s.io/kubernetes@{version}"],
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


def daemons_ref() -> str:
    """The daemons' image name: the install role's ``install_image``."""
    default = yaml.safe_load((REPO / "roles/install/defaults/main.yml").read_text())["install_image"]
    return str(default)


def kube_proxy_ref() -> str:
    """kube-proxy's image name at the lab's release, as kubeadm names it."""
    return f"registry.k8s.io/kube-proxy:{_kubernetes().version()}"


def echo_ref(name: str) -> str:
    """The name of demo image ``name`` (echo-hname or echo-ip)."""
    return f"localhost/baremetal-lb/{name}:1"


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


class _Recipe(NamedTuple):
    name: str
    ref: str
    key: str
    build: Callable[[Path, Say], None]  # (a scratch directory, progress printer) -> the image in podman


def _recipes() -> list[_Recipe]:
    """Every image, each with the key of everything that goes into it, in build order."""
    version, source = _kubernetes_source()
    base_argv = imagebuild.debian_argv(Path("-"), _BASE_PACKAGES, _BASE_HOOKS)
    base_key = _key(*base_argv)
    pause_ref = f"registry.k8s.io/pause:{_pause_tag(source)}"
    pause_c = source / "build/pause/linux/pause.c"
    # The binary's directory is named after the build (version and go.sum digest): build.binaries().
    kube_proxy = build.binaries(_kubernetes()) / "kube-proxy"
    kube_proxy_hooks = (imagebuild.copy_in_hook(kube_proxy, KUBE_PROXY_BINARY),)
    kube_proxy_argv = imagebuild.debian_argv(Path("-"), _NETFILTER_PACKAGES)
    recipes = [
        _Recipe(
            "base",
            BASE_REF,
            base_key,
            lambda tmp, say: imagebuild.debian_image(
                BASE_REF, _BASE_PACKAGES, hooks=_BASE_HOOKS, cmd=["python3"], workdir=tmp, say=say
            ),
        ),
        _Recipe(
            "pause",
            pause_ref,
            _key(version, hashlib.sha256(pause_c.read_bytes()).hexdigest(), *_PAUSE_CFLAGS),
            lambda tmp, say: _build_pause(pause_ref, pause_c, version, tmp, say),
        ),
        _Recipe(
            "daemons",
            daemons_ref(),
            _key(base_key, _digest_files(_DAEMON_SOURCES)),
            lambda tmp, say: _build_daemons(daemons_ref(), say),
        ),
    ]
    recipes += [
        _Recipe(
            name,
            echo_ref(name),
            _key(base_key, _digest_files([str(_ECHO.relative_to(REPO))]), name),
            partial(_build_echo, name),
        )
        for name in ECHO_IMAGES
    ]
    return [
        *recipes,
        _Recipe(
            "kube-proxy",
            kube_proxy_ref(),
            _key(*kube_proxy_argv, kube_proxy.parent.name, KUBE_PROXY_BINARY),
            lambda tmp, say: _build_kube_proxy(kube_proxy, kube_proxy_hooks, tmp, say),
        ),
        _Recipe(
            "ee",
            ee.ref(),
            _key(base_key, _digest_files(ee.INPUTS), ee.toolchain()),
            _build_ee,
        ),
    ]


_PAUSE_CFLAGS = ("-Os", "-Wall", "-Werror", "-static")


def _build_pause(ref: str, pause_c: Path, version: str, tmp: Path, say: Say) -> None:
    say(f"    gcc -static {pause_c}")
    tag = ref.rpartition(":")[2]
    binary = tmp / "pause"
    subprocess.run(
        ["gcc", *_PAUSE_CFLAGS, f"-DVERSION=v{tag}-kubernetes-{version}", "-o", str(binary), str(pause_c)],
        check=True,
    )
    containerfile = tmp / "Containerfile"
    containerfile.write_text('FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n')
    imagebuild.podman_build(ref, containerfile, tmp, say)


def _build_daemons(ref: str, say: Say) -> None:
    say(f"    podman build -f Containerfile (BASE={BASE_REF}; pip installs requirements/daemons.txt)")
    imagebuild.podman_build(ref, REPO / "Containerfile", REPO, say, build_args={"BASE": BASE_REF}, pypi=True)


def _build_echo(name: str, tmp: Path, say: Say) -> None:
    del tmp  # the build context is lab/containerfiles/echo
    args = {"BASE": BASE_REF}
    imagebuild.podman_build(echo_ref(name), _ECHO / "Containerfile", _ECHO, say, build_args=args, target=name)


def _build_kube_proxy(binary: Path, hooks: tuple[str, ...], tmp: Path, say: Say) -> None:
    built = build.ensure_all().get("kube-proxy")
    if built != binary:
        raise RuntimeError(
            f"the lab's Kubernetes build has no kube-proxy at {binary} (found {built}): "
            "lab/go/kubernetes/go.mod must list k8s.io/kubernetes/cmd/kube-proxy as a tool"
        )
    command = [KUBE_PROXY_BINARY, "--help"]
    imagebuild.debian_image(
        kube_proxy_ref(), _NETFILTER_PACKAGES, hooks=hooks, cmd=command, workdir=tmp, say=say
    )


def _build_ee(tmp: Path, say: Say) -> None:
    argv = ee.prepare(BASE_REF, tmp / "ee")
    extra = " ".join(imagebuild.build_options(pypi=True))
    say("    ansible-builder build (execution-environment.yml onto the base; pip installs from PyPI)")
    imagebuild.stream([*argv, f"--extra-build-cli-args={extra}"], say, imagebuild.is_step, podman_env())
    imagebuild.prune()


# -- building ---------------------------------------------------------------------------------------


def images_dir() -> Path:
    """Where the OCI archives and images.json live."""
    return build.cache_dir() / "images"


def recorded() -> dict[str, Built]:
    """The images the manifest records (empty when nothing was built yet)."""
    try:
        data = json.loads((images_dir() / _MANIFEST).read_text())
    except FileNotFoundError:
        return {}
    return {name: Built(**entry) for name, entry in data.items()}


def ensure_all(log: bool = True, exclude: Iterable[str] = ()) -> Result:
    """Build every image whose recipe changed or whose archive is gone; load cached ones into podman.

    `exclude` names images not to build now (a lab start skips the execution environment, which
    only the AWX test runs).

    One caller at a time (a lock file in the images directory), so `make images` and a test
    session never build into each other.
    """
    say: Say = (lambda text: print(text, flush=True)) if log else (lambda text: None)
    images_dir().mkdir(parents=True, exist_ok=True)
    with open(images_dir() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = recorded()
        wanted = [recipe for recipe in _recipes() if recipe.name not in exclude]
        built = [recipe.name for recipe in wanted if _ensure(recipe, record, say)]
        remove_cgroups()
    if not built:
        say(f"==> images: {', '.join(record)} cached, nothing to build ({images_dir()})")
    return Result(dict(record), built)


def _ensure(recipe: _Recipe, record: dict[str, Built], say: Say) -> bool:
    """Build one image unless the record has it for this key; True when it was built."""
    entry = record.get(recipe.name)
    if entry and entry.key == recipe.key and entry.ref == recipe.ref and Path(entry.archive).exists():
        _load_if_missing(entry)
        return False
    say(f"==> images: building {recipe.name} ({recipe.ref})")
    started = time.monotonic()
    archive = images_dir() / f"{recipe.name}-{recipe.key}.oci.tar"
    with tempfile.TemporaryDirectory(dir=images_dir(), prefix=f".{recipe.name}-") as tmp:
        recipe.build(Path(tmp), say)
    imagebuild.export(recipe.ref, archive)
    seconds = round(time.monotonic() - started, 1)
    size = archive.stat().st_size
    if entry and entry.archive != str(archive):
        Path(entry.archive).unlink(missing_ok=True)
    record[recipe.name] = Built(
        recipe.name, recipe.ref, recipe.key, imagebuild.archive_digest(archive), str(archive), size, seconds
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


# -- into a node's containerd -----------------------------------------------------------------------


def load_into_containerd(
    ctr: Path, socket: Path, names: Iterable[str], namespace: str = "k8s.io"
) -> list[str]:
    """Import the built images ``names`` (base, pause, echo-ip, …) into the containerd at ``socket``.

    ``ctr images import`` of each OCI archive into ``namespace`` (k8s.io: what kubelet's CRI
    sees), unpacked for the default snapshotter, so pods with ``imagePullPolicy: IfNotPresent``
    find them under their names. An image containerd already holds at the same digest is skipped.
    Returns the names imported. Build first (:func:`ensure_all`); an image not built is an error.
    """
    record = recorded()
    wanted = list(names)
    missing = [n for n in wanted if n not in record or not Path(record[n].archive).exists()]
    if missing:
        raise RuntimeError(f"images not built: {', '.join(missing)}; run `make images`")
    base = [str(ctr), "--address", str(socket), "--namespace", namespace]
    present = containerd_images(_ctr(base, "images", "list").stdout)
    imported = []
    for name in wanted:
        image = record[name]
        if present.get(image.ref) != image.digest:
            _ctr(base, "images", "import", image.archive)
            imported.append(name)
    return imported


def containerd_images(listing: str) -> dict[str, str]:
    """Image name -> manifest digest from ``ctr images list`` (REF TYPE DIGEST SIZE … columns)."""
    rows = [line.split() for line in listing.splitlines()[1:]]
    return {row[0]: row[2] for row in rows if len(row) >= 3}


def _ctr(base: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*base, *args], capture_output=True, text=True, check=False, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join([*base, *args])} failed (rc={proc.returncode}): {proc.stderr.strip()}")
    return proc
