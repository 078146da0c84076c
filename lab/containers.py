"""podman with the lab's own configuration, never the machine's.

Storage under the cache dir (overlay; BMLB_STORAGE_DRIVER=vfs where the cache dir's filesystem
cannot hold overlay layers), runroot under /run, runc (crun refuses this machine's cgroup v1
hybrid layout), default ulimits equal to the current ones (podman asks for more and
CAP_SYS_RESOURCE is withheld here), and no network of its own: builds use the host's network,
containers get none unless the caller names a namespace (``--network ns:/run/netns/NAME``), so
podman never creates a bridge or firewall rules on the machine. Containers go under one cgroup
parent, so what podman leaves there can be removed.
"""

from __future__ import annotations

import hashlib
import os
import resource
import subprocess
from pathlib import Path

from .build import cache_dir


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
        # Deepest first: builds nest a cgroup of their own under the parent (build_cgroup()).
        below = sorted((p for p in parent.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
        for directory in [*below, parent]:
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


def build_cgroup() -> str:
    """The cgroup option for `podman build`, whose RUN steps are containers too.

    A build's RUN step runs in the cgroup it is given, not in a child of it, and runc sets that
    cgroup's device rules, which cgroup v1 refuses (EINVAL on devices.deny) for a cgroup with
    children: so each building process gets a cgroup of its own under CGROUP_PARENT, never
    CGROUP_PARENT itself, where other containers may be running.
    """
    return f"--cgroup-parent={CGROUP_PARENT}/build-{os.getpid()}"
