"""Members of the membership bench, several per namespace: one forked process each, driven by JSON lines.

    python -m bench.membership_agent CONFIG_JSON

``CONFIG_JSON``: ``{"key": HEX, "host": IP, "members": {NAME: PORT}, "peers": {NAME: [IP, PORT]},
"interval": S, "dead_after": S, "report_every": S, "start_gap": S}``: members start one
after the other, ``start_gap`` apart. The agent imports the membership code once,
then forks one process per member (cheap: the imported code is shared), each running
:class:`~daemons.speaker.membership.service.Membership` exactly as the speaker's engine does.

Lines out (on the agent's stdout, shared by its members; every line is one write, shorter than
PIPE_BUF, so lines never interleave; a member writes its lines half a second late, in a batch,
so that its reporting does not compete for the CPU with the protocol being measured):

* ``{"m": NAME, "pid": PID}`` when a member process starts, then ``{"ready": true}`` once all are;
* ``{"m": NAME, "t": T, "add": [...], "drop": [...]}`` per change of a member's live set
  (T is CLOCK_MONOTONIC, the bench's clock too);
* ``{"m": NAME, "t": T, "sent": N, "recv": N}`` every ``report_every`` seconds: datagrams so far.

Commands on stdin: ``{"start": NAME}`` forks that member again (after the bench killed it: a
restart under the same name, with a new incarnation). The end of stdin kills every member and
ends the agent; a member also dies with its agent (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import queue
import select
import signal
import sys
import threading
import time
from typing import Any

from ansible_collections.baremetal.lb.daemons.speaker.membership.service import Membership

_PR_SET_PDEATHSIG = 1
WRITE_DELAY = 0.5  # seconds a member waits before writing its lines, so reporting competes less


def emit(obj: object) -> None:
    """One line on stdout in one write."""
    os.write(1, (json.dumps(obj, separators=(",", ":")) + "\n").encode())


def member(name: str, config: dict[str, Any]) -> None:
    """The body of one member process: run its membership until killed or told to stop."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the agent died before we could ask to follow it
        os._exit(1)
    emit({"m": name, "pid": os.getpid()})  # before any change line of this process
    gc.freeze()  # the imported code stays shared and out of every collection: less CPU per member
    lines: queue.Queue[dict[str, Any]] = queue.Queue()  # the membership thread never blocks on the pipe
    seen: set[str] = set()

    def changed(members: frozenset[str]) -> None:
        lines.put(
            {"m": name, "t": time.monotonic(), "add": sorted(members - seen), "drop": sorted(seen - members)}
        )
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

    def counters() -> None:
        every = float(config["report_every"])
        while True:
            time.sleep(every)
            sent, received = membership.packets_sent, membership.packets_received
            line = {
                "m": name,
                "t": time.monotonic(),
                "sent": sent,
                "recv": received,
                "events": membership.events(),
            }
            lines.put(line)

    def writer() -> None:
        while True:
            first = lines.get()
            time.sleep(WRITE_DELAY)  # not while a death is being decided domain-wide: lines carry their time
            emit(first)
            while not lines.empty():
                emit(lines.get())

    threading.Thread(target=writer, daemon=True).start()
    threading.Thread(target=counters, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: membership.stop())
    membership.run()
    os._exit(0)


def start(name: str, config: dict[str, Any]) -> int:
    """Fork the process of member ``name``; its PID."""
    pid = os.fork()
    if pid == 0:
        try:
            member(name, config)
        finally:
            os._exit(1)
    return pid


def reap(alive: set[int]) -> None:
    """Collect the members that ended (the bench kills them); their PIDs leave ``alive``."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        alive.discard(pid)


def main() -> None:
    config = json.loads(sys.argv[1])
    alive = set()
    for name in config["members"]:
        alive.add(start(name, config))
        time.sleep(float(config["start_gap"]))  # a domain whose nodes start at once floods itself
    emit({"ready": True})
    try:
        while True:
            with_input, _unused, _unused2 = select.select([sys.stdin], [], [], 0.5)
            reap(alive)
            if not with_input:
                continue
            line = sys.stdin.readline()
            if not line:
                return
            command = json.loads(line)
            if "start" in command:
                alive.add(start(command["start"], config))
    finally:
        reap(alive)
        for pid in alive:  # not reaped yet, so never a reused PID
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
