"""The steps that make the lab's images: a Debian root filesystem, a podman build, an OCI archive.

Every step puts an image under its name into the lab's podman storage (lab/containers.py) and
prints its progress lines through ``say``; lab/images.py decides which images to make and
exports them.

- A Debian image is ``mmdebstrap --variant=apt`` of bookworm from the mirror apt on this machine
  uses (BMLB_DEBIAN_MIRROR overrides it), without docs, man pages and locales, imported with
  ``podman import``.
- A podman build uses the host's network (no podman network is ever created) and, when the
  build needs PyPI, mounts this machine's CA bundle for pip (behind a TLS-inspecting proxy PyPI is
  reachable only that way); nothing of it is committed to the image. Afterwards the image a
  rebuild left nameless is pruned; the layers the new one builds on stay cached.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from .containers import build_cgroup, podman, podman_env

SUITE = "bookworm"
_DEFAULT_MIRROR = "http://deb.debian.org/debian"
_HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

Say = Callable[[str], None]


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


def debian_argv(target: Path, packages: Sequence[str], hooks: Sequence[str] = ()) -> list[str]:
    """The mmdebstrap command for a root filesystem tarball with ``packages`` (the mirror goes last).

    ``hooks`` are shell commands run on the finished tree, ``$1`` being its root.
    """
    excluded = ("doc", "man", "locale", "info")
    return [
        "mmdebstrap",
        "--variant=apt",
        f"--include={','.join(packages)}",
        *(f"--dpkgopt=path-exclude=/usr/share/{d}/*" for d in excluded),
        *(f"--customize-hook={hook}" for hook in hooks),
        SUITE,
        str(target),
    ]


def copy_in_hook(source: Path, target: str, mode: str = "0755") -> str:
    """A hook for :func:`debian_argv` that installs the file ``source`` at ``target`` in the tree."""
    return f'install -D -m {mode} {shlex.quote(str(source))} "$1"{shlex.quote(target)}'


def debian_image(
    ref: str, packages: Sequence[str], *, hooks: Sequence[str], cmd: Sequence[str], workdir: Path, say: Say
) -> None:
    """Make a root filesystem with mmdebstrap and import it as image ``ref`` with command ``cmd``."""
    mirror = debian_mirror()
    say(f"    mmdebstrap {SUITE} with {', '.join(packages)} from {mirror} (about a minute)")
    with tempfile.TemporaryDirectory(dir=workdir, prefix=".rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        stream([*debian_argv(rootfs, packages, hooks), mirror], say, lambda line: line.startswith("I: "))
        change = f"CMD {json.dumps(list(cmd))}"
        podman("import", "--quiet", "--change", change, str(rootfs), ref, timeout=600)


def podman_build(
    ref: str,
    containerfile: Path,
    context: Path,
    say: Say,
    *,
    build_args: Mapping[str, str] | None = None,
    target: str | None = None,
    pypi: bool = False,
) -> None:
    """``podman build`` of ``containerfile`` (its stage ``target``) in ``context`` as image ``ref``.

    ``pypi``: pip runs in the build. (A build argument must not choose what an ENV step sets:
    podman 4.3's layer cache does not tell such steps apart; build targets do.)
    """
    argv = ["podman", "build", *build_options(pypi), "--layers"]
    argv += [f"--build-arg={name}={value}" for name, value in (build_args or {}).items()]
    argv += [f"--target={target}"] if target else []
    argv += ["-t", ref, "-f", str(containerfile), str(context)]
    stream(argv, say, is_step, podman_env())
    prune()


def build_options(pypi: bool) -> list[str]:
    """The options every lab build gives podman: its cgroup, the host's network, no pulls.

    ``pypi``: pip runs in the build, so it gets this machine's CA bundle.
    """
    options = [build_cgroup(), "--pull=never", "--network=host"]
    if pypi and _HOST_CA_BUNDLE.exists():
        options.append(f"--volume={_HOST_CA_BUNDLE}:{_HOST_CA_BUNDLE}:ro")
    return options


def prune() -> None:
    """Remove the images a rebuild left without a name (the layers others build on stay)."""
    podman("image", "prune", "--force", timeout=600)


def export(ref: str, archive: Path) -> None:
    """Write image ``ref`` as an OCI archive (index.json names it in org.opencontainers.image.ref.name)."""
    archive.unlink(missing_ok=True)
    podman("save", "--quiet", "--format", "oci-archive", "--output", str(archive), ref, timeout=600)


def archive_digest(archive: Path) -> str:
    """The digest of the image manifest an OCI archive's index.json points at."""
    out = subprocess.run(["tar", "-xOf", str(archive), "index.json"], capture_output=True, check=True).stdout
    return str(json.loads(out)["manifests"][0]["digest"])


_STEP = re.compile(r"^(\[\d+/\d+\] )?STEP \d+")


def is_step(line: str) -> bool:
    """True for podman build's step lines (``STEP 2/7: …``, ``[1/4] STEP 2/7: …`` in multi-stage builds)."""
    return bool(_STEP.match(line))


def stream(
    argv: list[str], say: Say, shown: Callable[[str], bool], env: Mapping[str, str] | None = None
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
