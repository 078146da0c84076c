"""Members of the membership bench, several in one process: one thread drives them all, driven by JSON lines.

    python -m bench.membership_agent CONFIG_JSON

``CONFIG_JSON``: ``{"key": HEX, "host": IP, "members": {NAME: PORT}, "peers": {NAME: [IP, PORT]},
"interval": S, "dead_after": S, "report_every": S, "start_gap": S}``: members start one after
the other, ``start_gap`` apart. Each member is a
:class:`~daemons.speaker.membership.service.Membership` with its own socket, exactly as the
speaker's engine runs it; one :class:`~daemons.speaker.membership.service.Driver` turns them all
in one thread (as the speaker's engine turns its one), so 200 members on two cores pay for 200
protocol loops, not for 200 interpreters.

Lines out (on stdout; a writer thread writes them half a second late, in a batch, so that
reporting does not compete for the CPU with the protocol being measured; every line carries
its own time, CLOCK_MONOTONIC, the bench's clock too):

* ``{"m": NAME, "started": T}`` when a member starts, then ``{"ready": true}`` once all did;
* ``{"m": NAME, "t": T, "add": [...], "drop": [...]}`` per change of a member's live set;
* ``{"m": NAME, "killed": T}`` when a member was silenced on command;
* ``{"m": NAME, "t": T, "sent": N, "recv": N, "events": {...}}`` every ``report_every`` seconds.

Commands on stdin: ``{"kill": NAME}`` silences that member at once (its socket closed, no LEAVE:
to its peers, a SIGKILLed node); ``{"start": NAME}`` starts it again (a new incarnation). The end
of stdin ends the agent.
"""

from __future__ import annotations

import gc
import json
import os
import queue
import sys
import threading
import time
from typing import Any

from ansible_collections.baremetal.lb.daemons.speaker.membership.service import Driver, Membership

WRITE_DELAY = 0.5  # seconds the writer waits before writing a batch, so reporting competes less


class Agent:
    """The members of one process, their driver, and the lines they report."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.driver = Driver()
        self.by_name: dict[str, Membership] = {}
        self.lines: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.done = False
        self._buffer = b""

    def start(self, name: str) -> None:
        """Start member ``name`` (again): a fresh Membership, a new incarnation."""
        config = self.config
        seen: set[str] = set()

        def changed(members: frozenset[str]) -> None:
            t = time.monotonic()
            self.lines.put({"m": name, "t": t, "add": sorted(members - seen), "drop": sorted(seen - members)})
            seen.clear()
            seen.update(members)

        peers = {n: (host, int(port)) for n, (host, port) in config["peers"].items()}
        membership = Membership(
            name,
            bytes.fromhex(config["key"]),
            (config["host"], int(config["members"][name])),
            peers,
            interval=float(config["interval"]),
            dead_after=float(config["dead_after"]),
            on_change=changed,
        )
        self.by_name[name] = membership
        self.lines.put({"m": name, "started": time.monotonic()})  # before any change line of this life
        self.driver.add(membership)

    def kill(self, name: str) -> None:
        """Silence member ``name`` at once: no LEAVE, its socket closed."""
        membership = self.by_name.pop(name)
        self.driver.remove(membership, leave=False)
        self.lines.put({"m": name, "killed": time.monotonic()})

    def command(self) -> None:
        """Read what stdin has and obey every complete line; the end of stdin ends the agent."""
        chunk = os.read(0, 65536)
        if not chunk:
            self.done = True
            return
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b"\n")
        for line in complete:
            order = json.loads(line)
            if "kill" in order:
                self.kill(order["kill"])
            elif "start" in order:
                self.start(order["start"])

    def counters(self) -> None:
        """Every ``report_every`` seconds: datagrams and protocol events so far, per member."""
        every = float(self.config["report_every"])
        while True:
            time.sleep(every)
            t = time.monotonic()
            for name, membership in list(self.by_name.items()):
                sent, received = membership.packets_sent, membership.packets_received
                self.lines.put(
                    {"m": name, "t": t, "sent": sent, "recv": received, "events": membership.events()}
                )

    def writer(self) -> None:
        """Write the reported lines in batches, each line in one write, half a second late."""
        while True:
            batch = [self.lines.get()]
            time.sleep(WRITE_DELAY)  # not while a death is being decided domain-wide: lines carry their time
            while not self.lines.empty():
                batch.append(self.lines.get())
            os.write(1, b"".join((json.dumps(line, separators=(",", ":")) + "\n").encode() for line in batch))


def main() -> None:
    """Start the configured members one after the other, then serve commands until stdin ends."""
    agent = Agent(json.loads(sys.argv[1]))
    threading.Thread(target=agent.writer, daemon=True).start()
    gc.freeze()  # the imported code stays out of every collection: less CPU per turn
    gap = float(agent.config["start_gap"])
    agent.driver.watch(sys.stdin.fileno(), agent.command)
    for name in agent.config["members"]:
        agent.start(name)
        next_start = time.monotonic() + gap  # a domain whose nodes start at once floods itself
        agent.driver.run(lambda until=next_start: time.monotonic() >= until)
    agent.lines.put({"ready": True})
    threading.Thread(target=agent.counters, daemon=True).start()
    try:
        agent.driver.run(lambda: agent.done)
    finally:
        agent.driver.close()
        time.sleep(WRITE_DELAY * 2)  # the last lines out


if __name__ == "__main__":
    main()
