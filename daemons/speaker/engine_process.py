"""A protocol's timing-critical engine as a child process, seen from the Kubernetes half.

Every announcement protocol (layer 2, BGP) keeps the work that must never wait — heartbeats,
ARP answers, BGP keepalives, BFD — in a child process of its own (design.md §3: an event-loop
stall of 200 ms broke 150 ms BFD sessions). Both halves speak JSON lines: the parent writes
``{"start": {...}}`` once and then ``{kind: data}`` orders on the child's stdin; the child writes
``{"ready": true}`` and its reports on stdout. :mod:`.engine_child` is the other side.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)


_SEPARATORS = (",", ":")


def encode(message: Mapping[str, Any]) -> bytes:
    """One line of JSON."""
    return json.dumps(message, separators=_SEPARATORS).encode() + b"\n"


def encode_item(item: Any) -> bytes:
    """A value as :func:`encode` writes it inside a line (so parts of a large order are encoded once)."""
    return json.dumps(item, separators=_SEPARATORS).encode()


class EngineProcess:
    """One engine child process. Start it from the main thread: it dies with that thread."""

    def __init__(
        self,
        module: str,
        on_report: Callable[[Mapping[str, Any]], None],
        on_exit: Callable[[int], None],
    ) -> None:
        self._module = module
        self._on_report = on_report
        self._on_exit = on_exit
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._sent: dict[str, Any] = {}
        self.ready = threading.Event()

    @property
    def pid(self) -> int | None:
        """The engine's PID once started."""
        return self._process.pid if self._process else None

    def start(self, order: Mapping[str, Any], remembered: Mapping[str, Any] | None = None) -> None:
        """Start ``python -m <module>`` and give it its start order (the ``start`` message's body).

        ``remembered`` are orders the start order already carries (``{kind: data}``), so that
        :meth:`send_if_changed` does not repeat them.
        """
        self._process = subprocess.Popen(
            [sys.executable, "-m", self._module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._sent = dict(remembered or {})
        self._send({"start": dict(order)})
        threading.Thread(target=self._read, name=f"{self._module}-reports", daemon=True).start()

    def send_if_changed(self, kind: str, data: Any) -> bool:
        """Send the order ``{kind: data}`` unless it equals the last one of that kind; True when sent."""
        if self._sent.get(kind) == data:
            return False
        self._sent[kind] = data
        self._send({kind: data})
        return True

    def send_line(self, line: bytes) -> None:
        """Send ``line``, an order already encoded (its sender knows whether it is news)."""
        self._write(line)

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the engine to hand over and stop (SIGTERM), and wait for it."""
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
        self._write(encode(message))

    def _write(self, line: bytes) -> None:
        process = self._process
        assert process is not None and process.stdin is not None
        with self._lock:
            try:
                process.stdin.write(line)
                process.stdin.flush()
            except (BrokenPipeError, ValueError) as error:
                log.error("the engine %s is gone: %s", self._module, error)

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
                log.exception("handling a report of the engine %s failed", self._module)
        self._on_exit(process.wait())
