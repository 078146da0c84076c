"""Another lab holding one of lab/machine_lock.py's locks: a child process, as that lab's `up` holds it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lab import machine_lock

# Holds the lock until the parent closes the child's stdin, or for at most argv[3] seconds.
HOLD = """
import select, sys
from pathlib import Path
from lab import machine_lock
lock = machine_lock.Lock(sys.argv[2], float(sys.argv[4]))
with machine_lock.held("the other lab", lock, lock_dir=Path(sys.argv[1])):
    print("held", flush=True)
    select.select([sys.stdin], [], [], float(sys.argv[3]))
"""
FIRST_TRY = 0.2  # s: a waiter tries the lock (and says it waits) at once after opening its file


@contextmanager
def another_lab_holding(
    lock: machine_lock.Lock, seconds: float, lock_dir: Path = machine_lock.LOCK_DIR
) -> Iterator[subprocess.Popen[str]]:
    """A process holding LOCK in LOCK_DIR for at most SECONDS (less if its stdin is closed);
    yields once it holds it, killed on the way out."""
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLD), str(lock_dir), lock.file, str(seconds), str(lock.wait)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n", "the holder got no lock"
        yield holder
    finally:
        holder.kill()
        holder.wait(timeout=10)


def release_once_waited_on(holder: subprocess.Popen[str], lock: machine_lock.Lock, bound: float) -> None:
    """In a thread: once this process has the lock's file open (its wait has begun), let HOLDER go.

    So a test waits for the waiter itself, not for a guess at how long the work before the
    lock takes; after BOUND seconds it looks no more (the holder's own bound ends the hold).
    """
    path = str(machine_lock.LOCK_DIR / lock.file)

    def opened_here() -> bool:
        fds = Path("/proc/self/fd")
        return any(_link(fds / fd) == path for fd in os.listdir(fds))

    def watch() -> None:
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            if opened_here():
                time.sleep(FIRST_TRY)
                assert holder.stdin is not None
                holder.stdin.close()
                return
            time.sleep(0.02)

    threading.Thread(target=watch, name="release-lock-holder", daemon=True).start()


def _link(fd: Path) -> str:
    try:
        return os.readlink(fd)
    except OSError:  # closed since it was listed
        return ""
