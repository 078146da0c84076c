"""The Kubernetes half's handle on the engine process: start it, feed it, read its reports."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import IPClaim

from .engine_messages import Address, StartOrder, claims_to_json, encode, peers_to_json

_ENGINE = f"{__package__}.engine"  # under the import root the speaker itself runs from

log = logging.getLogger(__name__)


class EngineProcess:
    """The engine child process. Start it from the main thread: it dies with that thread."""

    def __init__(
        self, on_report: Callable[[Mapping[str, Any]], None], on_exit: Callable[[int], None]
    ) -> None:
        self._on_report = on_report
        self._on_exit = on_exit
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._plan: list[dict[str, Any]] | None = None
        self._peers: dict[str, list[Any]] | None = None
        self.ready = threading.Event()

    @property
    def pid(self) -> int | None:
        """The engine's PID once started."""
        return self._process.pid if self._process else None

    def start(self, order: StartOrder) -> None:
        """Start the engine and give it its start order."""
        self._process = subprocess.Popen(
            [sys.executable, "-m", _ENGINE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._peers = peers_to_json(order.peers)
        self._send(order.to_json())
        threading.Thread(target=self._read, name="engine-reports", daemon=True).start()

    def plan(self, claims: Iterable[IPClaim]) -> bool:
        """Send the claims when they differ from the last ones sent; True when sent."""
        data = claims_to_json(claims)
        if data == self._plan:
            return False
        self._plan = data
        self._send({"plan": data})
        return True

    def peers(self, peers: Mapping[str, Address]) -> None:
        """Send the peer list when it changed."""
        data = peers_to_json(peers)
        if data != self._peers:
            self._peers = data
            self._send({"peers": data})

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the engine to leave and stop (SIGTERM), and wait for it."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def _send(self, message: Mapping[str, Any]) -> None:
        process = self._process
        assert process is not None and process.stdin is not None
        with self._lock:
            try:
                process.stdin.write(encode(message))
                process.stdin.flush()
            except (BrokenPipeError, ValueError) as error:
                log.error("the engine is gone: %s", error)

    def _read(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        for line in process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("ready"):
                self.ready.set()
                continue
            try:
                self._on_report(message)
            except Exception:
                log.exception("handling an engine report failed")
        self._on_exit(process.wait())
