"""What every lab on this machine shares, changed by one lab at a time.

Labs share the root namespace (each takes a free /30 host link there), the machine-wide sysctls
kubelet changes when it starts (lab/machine_sysctls.py) and the fixed mount points of all labs'
nodes (lab/node_config.py FIXED_PATHS). Two labs starting at once (your `make lab-up` while
a test or molecule starts its own) could pick the same host link, or one could record the
other's kubelet settings as the machine's; one stopping could remove a directory the other just
made. So a lab holds this lock (an flock: the kernel drops it when the process ends, even on
SIGKILL) for those short steps, and what the machine had before any lab (its sysctls, which of
the mount points it lacked) is recorded here, by the first lab, for whichever lab stops last.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, NamedTuple

# Not under /run/bmlb-*: `lab down --everything` removes those while another lab may hold a lock.
LOCK_DIR = Path("/run/baremetal-lb-lab")


class Lock(NamedTuple):
    """A lock file in LOCK_DIR and how long a lab waits for it."""

    file: str
    wait: float


# Held for seconds: taking a host link, recording or restoring the sysctls and mount points.
SHARED = Lock("shared.lock", 120.0)
# Held for a whole start (25-45 s alone): the nodes' image imports slow each other down so much
# that two labs starting together are both ready after ~65 s, later than one after the other.
STARTING = Lock("starting.lock", 900.0)
_CREATED = "created-paths.json"
_SYSCTLS = "machine-sysctls.json"


@contextlib.contextmanager
def held(purpose: str, lock: Lock = SHARED, lock_dir: Path = LOCK_DIR) -> Iterator[None]:
    """Hold `lock` for `purpose` ("lab 1a2b: taking a host link"), waiting up to its `wait` s."""
    lock_dir.mkdir(exist_ok=True)
    path = lock_dir / lock.file
    with path.open("w") as handle:
        if not _try_lock(handle):
            print(f"==> {purpose}: waiting for another lab ({path})", flush=True)
            began = time.monotonic()
            while not _try_lock(handle):
                if time.monotonic() - began > lock.wait:
                    raise TimeoutError(
                        f"{purpose}: another lab held {path} for over {lock.wait:.0f} s; "
                        "is a lab's start or stop stuck? (`fuser` on the file names it)"
                    )
                time.sleep(0.2)  # flock has no timeout of its own; polling keeps the wait bounded
            print(f"==> {purpose}: the other lab is done after {time.monotonic() - began:.0f} s", flush=True)
        yield  # closing the file releases the lock


def _try_lock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def record_created(paths: Iterable[str], lock_dir: Path = LOCK_DIR) -> None:
    """Add PATHS (directories a lab created on the machine) to those the last lab removes."""
    known = set(_read(lock_dir / _CREATED) or [])
    (lock_dir / _CREATED).write_text(json.dumps(sorted(known | set(paths))))


def sysctls_before_labs(
    current: Mapping[str, str], other_labs: bool, lock_dir: Path = LOCK_DIR
) -> dict[str, str]:
    """The machine's own values of the sysctls kubelet changes.

    While OTHER_LABS run (their kubelets changed CURRENT), those the first of them recorded;
    otherwise CURRENT, now recorded for the labs that start while this one runs.
    """
    recorded = _read(lock_dir / _SYSCTLS)
    if other_labs and recorded is not None:
        return dict(recorded)
    (lock_dir / _SYSCTLS).write_text(json.dumps(dict(current)))
    return dict(current)


class BeforeLabs(NamedTuple):
    """What the machine had before the labs: the paths labs created, its sysctls' own values."""

    created_paths: list[str]
    sysctls: dict[str, str]


def last_lab_gone(lock_dir: Path = LOCK_DIR) -> BeforeLabs:
    """What the first lab recorded (empty where nothing was), now forgotten: the last lab is going."""
    created, sysctls = _read(lock_dir / _CREATED), _read(lock_dir / _SYSCTLS)
    for name in (_CREATED, _SYSCTLS):
        (lock_dir / name).unlink(missing_ok=True)
    return BeforeLabs(list(created or []), dict(sysctls or {}))


def _read(record: Path) -> Any:
    """A record's JSON, or None when no lab wrote it."""
    return json.loads(record.read_text()) if record.exists() else None
