"""Tiny real-namespace topologies for the layer-2 tests: a bridge and a few hosts on it.

Every namespace name starts with a random ``bmlbt-<6 hex>-`` prefix; the finalizer kills the
agents it started (by PID) and deletes the namespaces, also when the test fails. Addresses come
from documentation ranges only; nothing is created in the root namespace.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lab import netns

AGENTS = Path(__file__).parent / "agents"
PYTHON = str(Path(sys.executable))
HOST_IF = "eth0"
BRIDGE = "br0"


def switch_port(host_name: str) -> str:
    """The name of a host's port on the bridge (its cable's far end)."""
    return f"p-{host_name}"[:15]


@dataclass
class Host:
    """One namespace on the LAN with its interface facts."""

    name: str
    netns: str
    ipv4: str
    ipv6: str
    mac: str


@dataclass
class Agent:
    """A Python agent running inside a namespace, driven by JSON lines on stdin/stdout."""

    proc: subprocess.Popen[str]
    _pending: bytes = b""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, command: dict[str, Any]) -> None:
        """Send one command line."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def call(self, command: dict[str, Any], timeout: float = 10.0) -> Any:
        """Send one command and return the next JSON line (agents that print nothing unasked)."""
        self.send(command)
        return self.read(timeout)

    def read_until(self, what: str, check: Any, timeout: float) -> Any:
        """Read lines until ``check(line)`` holds; fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.read(left)
            except TimeoutError:
                break
            if check(line):
                return line
        pytest.fail(f"agent {self.pid}: no {what} within {timeout}s")

    def read(self, timeout: float = 10.0) -> Any:
        """The next JSON line the agent prints (bounded wait).

        Reads the pipe's file descriptor directly: select() on a buffered file object misses
        lines already sitting in its buffer.
        """
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise TimeoutError(f"agent {self.pid} said nothing within {timeout}s")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError(f"agent {self.pid} exited (rc={self.proc.poll()})")
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return json.loads(line)


@dataclass
class Lan:
    """Hosts on one bridge; starts agents and runs commands inside them."""

    prefix: str
    switch: str
    hosts: dict[str, Host] = field(default_factory=dict)
    pids: list[int] = field(default_factory=list)
    cleanups: list[Callable[[], None]] = field(default_factory=list)  # run after the PIDs are gone
    _count: int = 0

    def add_host(self, name: str) -> Host:
        """A new namespace joined to the bridge, with one IPv4 and one IPv6 address."""
        self._count += 1
        ns = f"{self.prefix}-{name}"
        netns.create(ns)
        port = switch_port(name)
        netns.add_veth(ns, HOST_IF, self.switch, port)
        netns.enslave(self.switch, port, BRIDGE)
        ipv4, ipv6 = f"192.0.2.{self._count}", f"2001:db8::{self._count}"
        netns.add_address(ns, HOST_IF, f"{ipv4}/24")
        netns.add_address(ns, HOST_IF, f"{ipv6}/64")
        host = Host(name, ns, ipv4, ipv6, netns.mac_of(ns, HOST_IF))
        self.hosts[name] = host
        return host

    def start(self, host: Host, script: str, *args: str) -> Agent:
        """Start ``agents/<script>`` inside the host's namespace; its PID is recorded for cleanup."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", host.netns, PYTHON, str(AGENTS / script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.pids.append(proc.pid)
        agent = Agent(proc)
        assert agent.read(30) == {"ready": True}
        return agent

    def run(self, host: Host, *argv: str, timeout: float = 30, check: bool = True) -> str:
        """Run a command inside a host's namespace and return its stdout."""
        return netns.exec_in(host.netns, list(argv), timeout=timeout, check=check)

    def client(self, host: Host, *args: str, timeout: float = 30, cpu: int | None = None) -> Any:
        """Run the scapy client tool inside a host (pinned to ``cpu`` if given) and return its JSON answer."""
        pin = () if cpu is None else ("taskset", "-c", str(cpu))
        out = self.run(host, *pin, PYTHON, str(AGENTS / "l2_client.py"), *args, timeout=timeout)
        return json.loads(out)


@contextmanager
def open_lan(kind: str = "bmlbt") -> Iterator[Lan]:
    """A fresh bridge namespace named ``<kind>-<6 hex>-sw``; hosts are added by the caller.

    Afterwards, also on failure, the recorded PIDs are killed, the cleanups run and every
    namespace of the prefix is deleted.
    """
    prefix = f"{kind}-{secrets.token_hex(3)}"
    switch = f"{prefix}-sw"
    lan = Lan(prefix, switch)
    try:
        netns.create(switch)
        netns.add_bridge(switch, BRIDGE)
        yield lan
    finally:
        netns.kill_pids(lan.pids, grace=3.0)
        for cleanup in lan.cleanups:
            cleanup()
        for ns in netns.list_namespaces(prefix + "-"):
            netns.delete(ns)


@pytest.fixture()
def lan() -> Iterator[Lan]:
    """A fresh bridge namespace; hosts are added by the test. Everything goes afterwards."""
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root: run the suite as root (make test does)")
    with open_lan() as fresh:
        yield fresh


@pytest.fixture()
def private_dir() -> Iterator[Path]:
    """A temporary directory for a daemon's private paths, enterable by daemons that drop to
    their own user (FRR); removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="bmlbt-") as path:
        Path(path).chmod(0o755)
        yield Path(path)


def wait_for(what: str, check: Any, timeout: float, step: float = 0.05) -> Any:
    """Poll ``check()`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)
