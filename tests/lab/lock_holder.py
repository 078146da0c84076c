"""Another lab holding one of lab/machine_lock.py's locks: a child process, as that lab's `up` holds it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

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


def release_on_first_wait(
    holder: subprocess.Popen[str], lock: machine_lock.Lock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Let HOLDER go the moment a try at LOCK in this process fails, i.e. a wait for it has begun.

    The signal is the waiter's own failed try (lab/machine_lock.py says it waits right after it),
    so a test waits for the waiter, not for a guess at how long the work before the lock takes.
    ``monkeypatch`` (pytest's) undoes the observation when the test ends.
    """
    try_lock = machine_lock._try_lock

    def observed(handle: IO[str]) -> bool:
        got = try_lock(handle)
        if not got and Path(handle.name).name == lock.file and holder.stdin and not holder.stdin.closed:
            holder.stdin.close()
        return got

    monkeypatch.setattr(machine_lock, "_try_lock", observed)
