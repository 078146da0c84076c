"""Build the control-plane binaries from the Go module proxy, cached by version outside the repo.

Each component is a tiny wrapper module under lab/go/ whose go.mod pins the release and lists the
commands as `tool` directives. A build is cached under $BMLB_CACHE_DIR (default
~/.cache/baremetal-lb) in a directory named after the component, its pinned version and a hash
of its go.mod and go.sum, so a changed pin builds anew and an unchanged one never rebuilds.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

GO_DIR = Path(__file__).resolve().parent / "go"
MIN_GO = (1, 26)
_VERSION_PKG = "k8s.io/component-base/version"


@dataclass(frozen=True)
class Component:
    """A wrapper module and the binaries it produces."""

    name: str
    module: str  # the module whose version is pinned in the wrapper's go.mod
    renames: tuple[tuple[str, str], ...] = ()  # (binary go names it, name the lab uses)
    stamps_version: bool = False  # pass the release to k8s.io/component-base/version
    tags: str = ""  # Go build tags

    @property
    def wrapper(self) -> Path:
        """The wrapper module's directory."""
        return GO_DIR / self.name

    def version(self) -> str:
        """The pinned version of `module`, read from the wrapper's go.mod."""
        text = (self.wrapper / "go.mod").read_text()
        match = re.search(rf"^\s*(?:require\s+)?{re.escape(self.module)} (v\S+)", text, re.MULTILINE)
        if not match:
            raise RuntimeError(f"{self.wrapper}/go.mod does not require {self.module}")
        return match.group(1)

    def cache_key(self) -> str:
        """Version plus a digest of the wrapper's go.mod and go.sum."""
        digest = hashlib.sha256()
        for name in ("go.mod", "go.sum"):
            digest.update((self.wrapper / name).read_bytes())
        return f"{self.name}-{self.version()}-{digest.hexdigest()[:12]}"


COMPONENTS = (
    Component("kubernetes", "k8s.io/kubernetes", stamps_version=True),
    Component("etcd", "go.etcd.io/etcd/server/v3", renames=(("server", "etcd"),)),
    Component("kwok", "sigs.k8s.io/kwok"),
    # no_btrfs: the btrfs snapshotter needs C headers the lab does not install and is never used.
    Component("containerd", "github.com/containerd/containerd/v2", tags="no_btrfs"),
    Component("cri-tools", "sigs.k8s.io/cri-tools"),
)


def cache_dir() -> Path:
    """Where built binaries are kept between runs."""
    return Path(os.environ.get("BMLB_CACHE_DIR", Path.home() / ".cache" / "baremetal-lb"))


def check_go() -> str:
    """Return the path of a Go toolchain new enough for the pinned releases, or explain what is missing."""
    go = shutil.which("go")
    if not go:
        raise SystemExit(
            "The lab builds Kubernetes from source and needs Go >= "
            f"{MIN_GO[0]}.{MIN_GO[1]} on PATH; none was found. Install Go (https://go.dev/doc/install) "
            "or point the collection at an existing cluster instead of the lab."
        )
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout
    match = re.match(r"go(\d+)\.(\d+)", out.strip())
    if not match or (int(match.group(1)), int(match.group(2))) < MIN_GO:
        raise SystemExit(f"The lab needs Go >= {MIN_GO[0]}.{MIN_GO[1]}; {go} is {out.strip()}.")
    return go


def binaries(component: Component) -> Path:
    """The directory of a component's cached binaries (it may not exist yet)."""
    return cache_dir() / "bin" / component.cache_key()


def ensure_all(log: bool = True) -> dict[str, Path]:
    """Build every component that is not cached yet; return binary name -> path."""
    paths: dict[str, Path] = {}
    for component in COMPONENTS:
        target = binaries(component)
        if not target.is_dir():
            _build(component, target, log)
        paths.update({p.name: p for p in target.iterdir() if os.access(p, os.X_OK)})
    return paths


def _ldflags(component: Component) -> str:
    flags = "-s -w"
    if component.stamps_version:
        version = component.version()
        major, minor = version.lstrip("v").split(".")[:2]
        flags += (
            f" -X {_VERSION_PKG}.gitVersion={version}"
            f" -X {_VERSION_PKG}.gitMajor={major} -X {_VERSION_PKG}.gitMinor={minor}"
        )
    return flags


def _build(component: Component, target: Path, log: bool) -> None:
    go = check_go()
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly"}
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    total = _count_packages(go, component, env)
    if log:
        print(
            f"==> building {component.name} {component.version()} ({total} packages; "
            "a first build takes 5-40 minutes on 2 cores, later runs use the cache)",
            flush=True,
        )
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".building-") as tmp:
        argv = [go, "build", "-v", "-trimpath", "-tags", component.tags, "-ldflags", _ldflags(component)]
        argv += ["-o", tmp + "/", "tool"]
        proc = subprocess.Popen(argv, cwd=component.wrapper, env=env, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        done = _Progress(component.name, total, started, enabled=log)
        errors: list[str] = []
        for line in proc.stderr:
            if " " in line.strip() or line.startswith("#"):
                errors.append(line)  # package paths have no spaces; anything else is a diagnostic
            done.step()
        done.stop()
        if proc.wait() != 0:
            raise RuntimeError(f"building {component.name} failed:\n{''.join(errors[-40:])}")
        for old, new in component.renames:
            os.rename(os.path.join(tmp, old), os.path.join(tmp, new))
        os.rename(tmp, target)
        os.mkdir(tmp)  # TemporaryDirectory wants to remove something
    if log:
        print(f"==> {component.name} built in {time.monotonic() - started:.0f}s -> {target}", flush=True)


def _count_packages(go: str, component: Component, env: dict[str, str]) -> int:
    out = subprocess.run(
        [go, "list", "-deps", "-tags", component.tags, "tool"],
        check=False,
        cwd=component.wrapper,
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"go list in {component.wrapper} failed:\n{out.stderr[-4000:]}")
    return len(out.stdout.split())


class _Progress:
    """Prints `name: N/TOTAL packages (elapsed)` every 20 seconds while a build runs."""

    def __init__(self, name: str, total: int, started: float, enabled: bool) -> None:
        self.name, self.total, self.started, self.count = name, total, started, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        if enabled:
            self._thread.start()

    def step(self) -> None:
        self.count += 1

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(20):
            elapsed = time.monotonic() - self.started
            print(
                f"    {self.name}: {self.count}/{self.total} packages compiled ({elapsed:.0f}s)",
                file=sys.stderr,
                flush=True,
            )
