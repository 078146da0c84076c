"""Network namespaces, veth pairs and bridges, driven through iproute2.

Every object this module creates lives inside a namespace the caller names; veth pairs are
created directly in their namespaces, so nothing appears in the root namespace unless the
caller asks for it (`veth_to_root`). Deleting a namespace deletes every interface in it.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import time
from collections.abc import Sequence

NETNS_DIR = "/run/netns"


class NetnsError(RuntimeError):
    """An `ip` command failed; the message carries the command and its stderr."""


def ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    """Run `ip [-n NETNS] ARGS…` and return its stdout."""
    cmd = ["ip"] + (["-n", netns] if netns else []) + list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(cmd)}: {proc.stderr.strip()}")
    return proc.stdout


def exec_in(netns: str, argv: Sequence[str], check: bool = True, timeout: float = 60) -> str:
    """Run a command inside a namespace and return its stdout."""
    cmd = ["ip", "netns", "exec", netns, *argv]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout)
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(cmd)} (rc={proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def exists(name: str) -> bool:
    """Tell whether the named namespace exists."""
    return os.path.exists(os.path.join(NETNS_DIR, name))


def list_namespaces(prefix: str = "") -> list[str]:
    """Names of the namespaces whose name starts with `prefix`."""
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.startswith(prefix))


def create(name: str) -> None:
    """Create a namespace with loopback up; an existing one is reused as it is."""
    if not exists(name):
        ip("netns", "add", name)
    ip("link", "set", "lo", "up", netns=name)


def sysctl(netns: str, key: str, value: str) -> None:
    """Set a sysctl inside a namespace (net.* keys are per namespace)."""
    exec_in(netns, ["sysctl", "-q", "-w", f"{key}={value}"])


def add_bridge(netns: str, name: str) -> None:
    """Create a bridge in a namespace and bring it up (no STP, no forwarding delay)."""
    ip("link", "add", name, "type", "bridge", "stp_state", "0", "forward_delay", "0", netns=netns)
    ip("link", "set", name, "up", netns=netns)


def add_veth(ns_a: str, name_a: str, ns_b: str, name_b: str, mac_a: str | None = None) -> None:
    """Create a veth pair with one end in each namespace, both ends up."""
    args = ["link", "add", name_a]
    if mac_a:
        args += ["address", mac_a]
    args += ["netns", ns_a, "type", "veth", "peer", "name", name_b, "netns", ns_b]
    ip(*args)
    ip("link", "set", name_a, "up", netns=ns_a)
    ip("link", "set", name_b, "up", netns=ns_b)


def enslave(netns: str, port: str, bridge: str) -> None:
    """Attach an interface to a bridge in the same namespace."""
    ip("link", "set", port, "master", bridge, netns=netns)


def add_address(netns: str, ifname: str, cidr: str) -> None:
    """Add an address; IPv6 addresses skip duplicate address detection so they work at once."""
    extra = ["nodad"] if ipaddress.ip_interface(cidr).version == 6 else []
    ip("addr", "replace", cidr, "dev", ifname, *extra, netns=netns)


def add_route(netns: str, prefix: str, via: str | None = None, dev: str | None = None) -> None:
    """Add (or replace) a route in a namespace."""
    args = ["route", "replace", prefix]
    if via:
        args += ["via", via]
    if dev:
        args += ["dev", dev]
    ip(*args, netns=netns)


def mac_of(netns: str, ifname: str) -> str:
    """MAC address of an interface inside a namespace."""
    out = ip("-o", "link", "show", "dev", ifname, netns=netns)
    fields = out.split()
    return fields[fields.index("link/ether") + 1]


def set_link(netns: str, ifname: str, up: bool) -> None:
    """Bring an interface up or down."""
    ip("link", "set", ifname, "up" if up else "down", netns=netns)


def pids_in(name: str) -> list[int]:
    """PIDs of the processes whose network namespace is the named one."""
    out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


def kill_pids(pids: Sequence[int], grace: float = 5.0) -> None:
    """SIGTERM the given PIDs, then SIGKILL what is still alive after `grace` seconds."""
    left = [p for p in pids if _signal(p, signal.SIGTERM)]
    deadline = time.monotonic() + grace
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if alive(p)]
    for pid in left:
        _signal(pid, signal.SIGKILL)


def delete(name: str) -> None:
    """Stop every process in a namespace and delete it (its interfaces go with it)."""
    if not exists(name):
        return
    kill_pids(pids_in(name))
    ip("netns", "delete", name, check=False)


def _signal(pid: int, sig: signal.Signals) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def alive(pid: int) -> bool:
    """Tell whether a process is alive (zombies of ours are reaped and count as dead)."""
    try:
        # A zombie child still "exists"; reap it if it is ours.
        done, _unused = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
