"""The peers of the BFD interop tests: BIRD2 and FRR bfdd in a namespace, and our engine's agent.

Each daemon runs with private paths under a directory of the test's own (FRR's owned by user
frr, which FRR drops to); its PID goes into the LAN's list so the ``lan`` fixture kills it even
when the test fails. ``BfdAgent`` keeps the agent's state-change events apart from its replies.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab import netns, process
from tests.netns.conftest import HOST_IF, Agent, Host, Lan, wait_for

FAST = {"receive_interval_ms": 100, "transmit_interval_ms": 100, "detect_multiplier": 3}
DETECTION_S = 0.3  # FAST's detection time
MARGIN_S = 0.1  # scheduling on a shared 2-core machine
UP_WITHIN_S = 5.0  # the slow 1 s start plus the handshake


@dataclass
class BfdAgent:
    """Our BFD engine in a namespace (tests/netns/agents/bfd_agent.py)."""

    agent: Agent
    events: list[dict[str, Any]] = field(default_factory=list)

    def command(self, command: dict[str, Any], timeout: float = 10.0) -> Any:
        """Send a command; its reply (state-change events read meanwhile are kept)."""
        self.agent.send(command)
        line = self.agent.read_until("reply", self._reply_or_keep, timeout)
        if "error" in line:
            raise RuntimeError(line["error"])
        return line["reply"]

    def _reply_or_keep(self, line: dict[str, Any]) -> bool:
        if "event" not in line:
            return True
        self.events.append(line["event"])
        return False

    def add(self, peer: str, local: str, **settings: Any) -> None:
        """Start a session (settings: BFDSettings fields)."""
        self.command({"add": {"peer": peer, "local": local, "settings": settings}})

    def sessions(self) -> dict[str, Any]:
        """The engine's session snapshot, by peer."""
        result: dict[str, Any] = self.command({"sessions": True})
        return result

    def wait_state(self, peer: str, state: str, timeout: float, after: float = 0.0) -> dict[str, Any]:
        """The first event (at or after monotonic time ``after``) where ``peer`` entered ``state``."""

        def match(event: dict[str, Any]) -> bool:
            return bool(event["peer"] == peer and event["new"] == state and event["at"] >= after)

        for event in self.events:
            if match(event):
                return event

        def keep_and_match(line: dict[str, Any]) -> bool:
            if "event" not in line:
                return False
            self.events.append(line["event"])
            return match(line["event"])

        line = self.agent.read_until(f"BFD session {peer} {state}", keep_and_match, timeout)
        return dict(line["event"])

    def up_at_fast(self, peer: str, local: str) -> dict[str, Any]:
        """Add a FAST session, wait for Up and for the Poll Sequence to settle; its status then."""
        self.add(peer, local, **FAST)
        self.wait_state(peer, "UP", UP_WITHIN_S)

        def settled() -> dict[str, Any] | None:
            session: dict[str, Any] = self.sessions()[peer]
            done = session["transmit_interval_ms"] == 100 and not session["polling"]
            return session if done else None

        result: dict[str, Any] = wait_for("the Poll Sequence to settle on 100 ms", settled, UP_WITHIN_S)
        return result

    def assert_detected(self, peer: str, since: float) -> None:
        """The session to ``peer`` timed out within FAST's detection time (+ margin) of ``since``."""
        down = self.wait_state(peer, "DOWN", 2.0, after=since)
        assert down["diag"] == "CONTROL_DETECTION_TIME_EXPIRED"
        took = down["at"] - since
        assert took <= DETECTION_S + MARGIN_S, f"Down {took:.3f}s after the failure"


def start_agent(lan: Lan, host: Host) -> BfdAgent:
    """Our BFD engine inside ``host``."""
    return BfdAgent(lan.start(host, "bfd_agent.py"))


def _daemon(lan: Lan, host: Host, name: str, argv: list[str], work: Path) -> process.Started:
    started = process.start(name, host.netns, argv, work / "logs")
    lan.pids.append(started.pid)
    return started


def _sigkill(name: str, pid: int) -> None:
    """SIGKILL (no SIGTERM first: that would let the daemon say goodbye) and wait for the end."""
    os.kill(pid, signal.SIGKILL)
    process.wait_until(f"{name} to die", lambda: not netns.alive(pid), 5)


@dataclass
class Bird:
    """BIRD2 with one BFD neighbour per address family given."""

    lan: Lan
    host: Host
    work: Path
    started: process.Started | None = None

    def start(self, neighbours: list[tuple[str, str]], interval_ms: int = 100, multiplier: int = 3) -> None:
        """Start (or restart) BIRD; ``neighbours`` are (peer, local) address pairs."""
        lines = "".join(f"  neighbor {peer} local {local};\n" for peer, local in neighbours)
        (self.work / "bird.conf").write_text(
            f"router id {self.host.ipv4};\n"
            "protocol device { }\n"
            "protocol bfd peers {\n"
            f'  interface "{HOST_IF}" {{ min rx interval {interval_ms} ms; min tx interval {interval_ms} ms;'
            f" multiplier {multiplier}; }};\n"
            f"{lines}}}\n"
        )
        sock = self.work / "bird.ctl"
        sock.unlink(missing_ok=True)
        argv = ["bird", "-f", "-c", str(self.work / "bird.conf"), "-s", str(sock)]
        self.started = _daemon(self.lan, self.host, "bird", argv, self.work)
        process.wait_until("BIRD's control socket", sock.exists, 20, self.started)

    def birdc(self, *command: str) -> str:
        """A birdc command's output."""
        return self.lan.run(self.host, "birdc", "-s", str(self.work / "bird.ctl"), *command)

    def session_state(self, peer: str) -> str | None:
        """BIRD's state of its session to ``peer`` (Up, Down, Init, AdminDown), None if absent."""
        for line in self.birdc("show", "bfd", "sessions").splitlines():
            fields = line.split()
            if fields and fields[0] == peer:
                return fields[2]
        return None

    def kill(self) -> None:
        """SIGKILL BIRD: its sessions fall silent without a goodbye."""
        assert self.started is not None
        pid = self.started.pid
        _sigkill("BIRD", pid)


@dataclass
class Frr:
    """FRR's zebra and bfdd with one BFD peer per address pair given."""

    lan: Lan
    host: Host
    work: Path
    bfdd: process.Started | None = None

    def start(self, neighbours: list[tuple[str, str]], interval_ms: int = 100, multiplier: int = 3) -> None:
        """Start zebra and bfdd; ``neighbours`` are (peer, local) address pairs."""
        peers = "".join(
            f" peer {peer} local-address {local} interface {HOST_IF}\n"
            f"  receive-interval {interval_ms}\n  transmit-interval {interval_ms}\n"
            f"  detect-multiplier {multiplier}\n  no shutdown\n exit\n"
            for peer, local in neighbours
        )
        conf = self.work / "bfdd.conf"
        conf.write_text(f"bfd\n{peers}exit\n")
        for path in (self.work, conf):
            shutil.chown(path, "frr", "frr")
        zapi = str(self.work / "zserv.api")
        common = ["--vty_socket", str(self.work), "-z", zapi, "-u", "frr", "-g", "frr"]
        zebra = ["/usr/lib/frr/zebra", "-i", str(self.work / "zebra.pid"), *common, "-f", "/dev/null"]
        started = _daemon(self.lan, self.host, "zebra", zebra, self.work)
        process.wait_until("zebra's vty socket", (self.work / "zebra.vty").exists, 20, started)
        bfdd = ["/usr/lib/frr/bfdd", "-i", str(self.work / "bfdd.pid"), *common, "-f", str(conf)]
        bfdd += ["--bfdctl", str(self.work / "bfdd.sock")]
        self.bfdd = _daemon(self.lan, self.host, "bfdd", bfdd, self.work)
        process.wait_until("bfdd's vty socket", (self.work / "bfdd.vty").exists, 20, self.bfdd)

    def kill_bfdd(self) -> None:
        """SIGKILL bfdd: its sessions fall silent without a goodbye."""
        assert self.bfdd is not None
        pid = self.bfdd.pid
        _sigkill("bfdd", pid)

    def vtysh(self, *commands: str) -> str:
        """vtysh -c … for each command, against this FRR's private sockets."""
        argv = ["vtysh", "--vty_socket", str(self.work)]
        for command in commands:
            argv += ["-c", command]
        return self.lan.run(self.host, *argv)

    def peer(self, peer: str) -> dict[str, Any] | None:
        """bfdd's view of its session to ``peer`` (show bfd peers json), None if absent."""
        for entry in json.loads(self.vtysh("show bfd peers json")):
            if entry.get("peer") == peer:
                return dict(entry)
        return None

    def set_shutdown(self, peer: str, local: str, shutdown: bool) -> None:
        """Administratively disable (AdminDown) or enable bfdd's session to ``peer``."""
        self.vtysh(
            "configure terminal",
            "bfd",
            f"peer {peer} local-address {local} interface {HOST_IF}",
            "shutdown" if shutdown else "no shutdown",
        )
