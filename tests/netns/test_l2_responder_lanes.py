"""Answers come from the CPU a request arrived on: a CPU that stops running silences only its share.

The responder answers from one lane per CPU (a thread pinned there, fed by a PACKET_FANOUT_CPU
group). A virtual CPU the hypervisor takes away cannot be reproduced from inside the guest, so
the test stops one lane's thread with ptrace (the rest of the process runs on) and asks from a
client pinned to each CPU: over a veth the kernel receives a frame on the sender's CPU.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.netns.conftest import HOST_IF, Host, Lan

VIP4 = "198.51.100.10"
_PTRACE_DETACH = 17
_PTRACE_SEIZE = 0x4206
_PTRACE_INTERRUPT = 0x4207
_WALL = 0x40000000  # waitpid: any child kind, threads included


def lane_threads(pid: int) -> dict[int, int]:
    """``{cpu: thread id}`` of the threads of ``pid`` pinned to exactly one CPU: the answering lanes."""
    lanes = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        cpus = os.sched_getaffinity(int(task.name))
        if len(cpus) == 1:
            lanes[next(iter(cpus))] = int(task.name)
    return lanes


@contextmanager
def stopped(tid: int) -> Iterator[None]:
    """Stop the one thread ``tid`` (ptrace interrupt: its process runs on) and resume it afterwards."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    if libc.ptrace(_PTRACE_SEIZE, tid, None, None) != 0:
        raise OSError(ctypes.get_errno(), f"ptrace seize of thread {tid}")
    try:
        if libc.ptrace(_PTRACE_INTERRUPT, tid, None, None) != 0:
            raise OSError(ctypes.get_errno(), f"ptrace interrupt of thread {tid}")
        os.waitpid(tid, _WALL)  # returns once the thread has stopped
        yield
    finally:
        libc.ptrace(_PTRACE_DETACH, tid, None, None)


def ask_from(lan: Lan, client: Host, cpu: int, wait: str) -> list[str]:
    """The MACs answering an ARP request for VIP4 sent by a client pinned to ``cpu``."""
    return [r["mac"] for r in lan.client(client, "arp", HOST_IF, VIP4, wait, cpu=cpu)]


def test_a_stopped_lane_silences_only_the_requests_received_on_its_cpu(lan: Lan) -> None:
    if len(os.sched_getaffinity(0)) < 2:
        pytest.fail("this test needs two CPUs: one lane to stop and one to answer")
    n1, client = lan.add_host("n1"), lan.add_host("cl")
    r1 = lan.start(n1, "l2_responder_agent.py")
    assert r1.call({"update": {HOST_IF: [VIP4]}}) == {"ok": True}
    lanes = lane_threads(r1.pid)
    assert set(lanes) >= {0, 1}, f"one answering thread pinned to each CPU, found {lanes}"
    for cpu in (0, 1):
        assert ask_from(lan, client, cpu, "1.0") == [n1.mac], f"asked from CPU {cpu}"

    with stopped(lanes[0]):
        assert ask_from(lan, client, 1, "1.0") == [n1.mac], "CPU 1's lane answers while CPU 0's is stopped"
        assert ask_from(lan, client, 0, "0.5") == [], "CPU 0's share waits for its lane"

    assert ask_from(lan, client, 0, "1.0") == [n1.mac], "CPU 0's lane answers again once resumed"
    # Five requests, five answers: the one asked of the stopped lane was answered late, not lost.
    assert r1.call({"counters": True})["responses_sent"] == {VIP4: 5}
