"""lab/machine_lock.py: one lab at a time changes what labs share; the last one removes what any made.

No lab needed: the lock lives in a temporary directory, held by a child process as another lab's
`up` would hold it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import machine_lock
from tests.lab.lock_holder import another_lab_holding


@pytest.fixture
def other_lab(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A process holding the shared lock in tmp_path for 1.5 s; yields once it holds it."""
    with another_lab_holding(machine_lock.SHARED, 1.5, tmp_path) as holder:
        yield tmp_path, holder


def test_a_second_lab_waits_for_the_first_and_says_so(other_lab, capsys):
    lock_dir, holder = other_lab
    with machine_lock.held("starting lab 1a2b", lock_dir=lock_dir):
        assert holder.poll() is not None, "got the lock while the other lab still held it"
    said = capsys.readouterr().out
    assert "starting lab 1a2b: waiting for another lab" in said
    assert "the other lab is done after" in said


def test_a_wait_past_the_timeout_fails_naming_what_waited_and_the_lock(other_lab):
    lock_dir, _holder = other_lab
    began = time.monotonic()
    with (
        pytest.raises(TimeoutError, match=r"starting lab 1a2b: another lab held .*/shared.lock for over 0 s"),
        machine_lock.held("starting lab 1a2b", machine_lock.Lock("shared.lock", 0.3), lock_dir),
    ):
        pass
    assert time.monotonic() - began < 1.4, "the wait was not cut at its timeout"


def test_a_killed_holder_releases_the_lock(other_lab):
    lock_dir, holder = other_lab
    holder.kill()
    holder.wait(timeout=10)
    with machine_lock.held("starting lab 1a2b", machine_lock.Lock("shared.lock", 0.5), lock_dir):
        pass


def test_the_last_lab_down_takes_every_path_any_lab_created(tmp_path):
    machine_lock.record_created(["/var/lib/kubelet", "/var/lib/cni"], lock_dir=tmp_path)
    machine_lock.record_created([], lock_dir=tmp_path)  # a lab that found them there
    machine_lock.record_created(["/var/lib/cni", "/var/log/pods"], lock_dir=tmp_path)
    every = ["/var/lib/cni", "/var/lib/kubelet", "/var/log/pods"]
    assert machine_lock.last_lab_gone(lock_dir=tmp_path).created_paths == every
    assert machine_lock.last_lab_gone(lock_dir=tmp_path) == ([], {}), "what the last lab took is forgotten"


OWN = {"vm.overcommit_memory": "0", "kernel.panic": "0"}
KUBELETS = {"vm.overcommit_memory": "1", "kernel.panic": "10"}


def test_sysctls_are_the_machines_own_while_any_lab_runs_and_read_afresh_after_the_last(tmp_path):
    def first_seen(current, other_labs):
        return machine_lock.sysctls_before_labs(current, other_labs, lock_dir=tmp_path)

    assert first_seen(OWN, other_labs=False) == OWN
    assert first_seen(KUBELETS, other_labs=True) == OWN, "a second lab must not take kubelet's values"
    assert machine_lock.last_lab_gone(lock_dir=tmp_path).sysctls == OWN
    changed_by_admin = {**OWN, "kernel.panic": "5"}
    assert first_seen(changed_by_admin, other_labs=False) == changed_by_admin
    assert first_seen(KUBELETS, other_labs=False) == KUBELETS, "with no lab running, now is the machine's own"
