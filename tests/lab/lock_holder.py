"""Another lab holding one of lab/machine_lock.py's locks: a child process, as that lab's `up` holds it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lab import machine_lock

HOLD = """
import sys, time
from pathlib import Path
from lab import machine_lock
lock = machine_lock.Lock(sys.argv[2], float(sys.argv[4]))
with machine_lock.held("the other lab", lock, lock_dir=Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
"""


@contextmanager
def another_lab_holding(
    lock: machine_lock.Lock, seconds: float, lock_dir: Path = machine_lock.LOCK_DIR
) -> Iterator[subprocess.Popen[str]]:
    """A process holding LOCK in LOCK_DIR for SECONDS; yields once it holds it, killed on the way out."""
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLD), str(lock_dir), lock.file, str(seconds), str(lock.wait)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n", "the holder got no lock"
        yield holder
    finally:
        holder.kill()
        holder.wait(timeout=10)
