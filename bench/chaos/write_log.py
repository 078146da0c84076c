"""Which status writes the controller had chosen but not made, read from its JSON log lines.

The controller logs ``service <key> gets <ips> from pool <pool>`` when it chooses addresses,
``writing status of service <key>: ...`` (debug) as it sends the status patch and ``wrote status
of service <key>: ...`` once the API server accepted it. A Service whose last choice has no
matching "wrote" line when the process dies was killed between choosing and writing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

_CHOSEN = " gets "
_WRITING = "writing status of service "
_WROTE = "wrote status of service "
_RELEASED = " releases "


@dataclass(frozen=True)
class Choice:
    """Addresses the controller chose for one Service, and whether their patch was on the wire."""

    ips: tuple[str, ...]
    sending: bool = False


@dataclass
class WriteTracker:
    """Feed it the controller's log lines in order; it knows which choices are unwritten."""

    unwritten: dict[str, Choice] = field(default_factory=dict)

    def feed(self, line: str) -> None:
        """Account for one log line; lines that are not JSON or not about writes are ignored."""
        try:
            record = json.loads(line)
        except ValueError:  # a line cut short by SIGKILL
            return
        if not isinstance(record, dict):
            return
        service, message = record.get("service"), str(record.get("msg") or "")
        if not isinstance(service, str):
            return
        ips = tuple(str(ip) for ip in record.get("ips") or ())
        if message.startswith(f"service {service}{_CHOSEN}"):
            self.unwritten[service] = Choice(ips)
        elif message.startswith(f"service {service}{_RELEASED}"):
            self.unwritten.pop(service, None)
        elif message.startswith(_WRITING):
            choice = self.unwritten.get(service)
            if choice is not None and choice.ips == ips:
                self.unwritten[service] = Choice(ips, sending=True)
        elif message.startswith(_WROTE):
            choice = self.unwritten.get(service)
            if choice is not None and choice.ips == ips:
                del self.unwritten[service]


@dataclass(frozen=True)
class InFlight:
    """Writes a kill interrupted, checked against what the API server showed right after it.

    ``not_written``: chosen, and the server does not show them (the kill landed between choosing
    and writing); of those, ``on_the_wire`` had their patch sent. ``landed``: the server shows them
    although the controller never logged the answer (killed between the write and its log line).
    """

    not_written: tuple[str, ...]
    on_the_wire: tuple[str, ...]
    landed: tuple[str, ...]


def in_flight(tracker: WriteTracker, shown: dict[str, tuple[str, ...]]) -> InFlight:
    """Compare the unwritten choices with ``shown`` (the IPs each existing Service shows, by key)."""
    not_written, wire, landed = [], [], []
    for service, choice in sorted(tracker.unwritten.items()):
        if service not in shown:  # deleted meanwhile: nothing left to write
            continue
        if shown[service] == choice.ips:
            landed.append(service)
            continue
        not_written.append(service)
        if choice.sending:
            wire.append(service)
    return InFlight(tuple(not_written), tuple(wire), tuple(landed))
