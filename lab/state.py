"""lab.json: what a running lab is made of, for the lab itself, tools and tests.

It is written before the lab creates anything and updated as each part starts, so that
`lab down` can remove a half-built lab after a crash.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from . import netns, network

STATE_FILE = "lab.json"


class LabState:
    """A lab's recorded facts, read from and written to STATE_DIR/lab.json."""

    def __init__(self, state_dir: Path, data: dict[str, Any]) -> None:
        self.state_dir = state_dir
        self.data = data

    @classmethod
    def load(cls, state_dir: Path) -> LabState | None:
        """The recorded lab in this directory, or None when there is none."""
        try:
            return cls(state_dir.resolve(), json.loads((state_dir / STATE_FILE).read_text()))
        except FileNotFoundError:
            return None

    def save(self) -> None:
        """Write lab.json atomically."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_dir / f".{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.state_dir / STATE_FILE)

    @property
    def prefix(self) -> str:
        """Prefix of every namespace of this lab."""
        return str(self.data["prefix"])

    @property
    def kubeconfig(self) -> Path:
        """Admin kubeconfig usable from the root namespace."""
        return Path(self.data["kubeconfig"])

    @property
    def hosts(self) -> dict[str, dict[str, str]]:
        """Per LAN host (cp, node1…, client, routers): role, netns, interface, ipv4, ipv6, mac."""
        hosts: dict[str, dict[str, str]] = self.data.get("hosts", {})
        return hosts

    @property
    def nodes(self) -> list[str]:
        """Names of the lab's Kubernetes nodes (equal to their host names)."""
        return [name for name, h in self.hosts.items() if h["role"] == "node"]

    @property
    def routers(self) -> dict[str, dict[str, Any]]:
        """Per router: kind, netns, addresses, ASN and the argv that reads its RIB."""
        routers: dict[str, dict[str, Any]] = self.data.get("routers", {})
        return routers

    def host_of(self, address: str) -> str | None:
        """The LAN host (cp, node1…, client, a router) that has this IPv4 or IPv6 address, if any."""
        return next((n for n, h in self.hosts.items() if address in (h["ipv4"], h["ipv6"])), None)

    def pids(self) -> list[int]:
        """PIDs of every process the lab recorded: its own and the baremetal.lb daemons."""
        recorded = [*self.data.get("processes", {}).values(), *self.data.get("daemons", {}).values()]
        return [int(p["pid"]) for p in recorded]

    def record_process(self, name: str, pid: int, namespace: str, log: str, group: str = "processes") -> None:
        """Remember a started process (saved at once); `group` "daemons" is for baremetal.lb's own."""
        self.data.setdefault(group, {})[name] = {"pid": pid, "netns": namespace, "log": log}
        self.save()

    def dead_processes(self) -> list[str]:
        """Names of recorded daemons that are no longer running."""
        return [n for n, p in self.data.get("processes", {}).items() if not netns.alive(int(p["pid"]))]

    def set_cable(self, host: str, plugged: bool) -> None:
        """Pull or plug a LAN host's cable: its port on the lab switch goes down or up.

        The host's own interface stays administratively up and sees what a pulled cable shows:
        no carrier. Its addresses and routes stay, as on a real machine; `ip link set down`
        inside the host would make the kernel drop its IPv6 address and every route through the
        link, which nothing puts back when the link returns.
        """
        switch = self.data["lan"]["bridge"]["netns"]
        netns.set_link(switch, network.switch_port(host), up=plugged)

    def exec(self, host: str, argv: list[str], check: bool = True, timeout: float = 60) -> str:
        """Run a command inside a LAN host's namespace and return its stdout."""
        return netns.exec_in(self.hosts[host]["netns"], argv, check=check, timeout=timeout)
