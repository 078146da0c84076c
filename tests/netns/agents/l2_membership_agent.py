"""Run Membership in this namespace; print every change of the live set as a JSON line.

  l2_membership_agent.py NAME BIND_HOST PORT KEYHEX WATCH_LINK NAME=HOST ...

Lines out: {"ready": true}, then {"members": [...], "t": <CLOCK_MONOTONIC>} per change,
{"log": MESSAGE, "level": NAME} per membership log record of level INFO and above, and
{"state": ...} answering {"state": true} on stdin. {"stall_in_turn": SECONDS} on stdin stops
the membership thread for SECONDS right after its next read of the socket, in the middle of a
turn (as a stolen vCPU or another thread holding the GIL would), and says {"stalled": SECONDS}
when it goes on. SIGTERM stops it (sending LEAVE).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time

from ansible_collections.baremetal.lb.daemons.speaker.membership.service import Membership

_OUT = threading.Lock()


def say(obj: object) -> None:
    with _OUT:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


class SayLog(logging.Handler):
    """Log records as JSON lines, so a test can read what the speaker would have logged."""

    def emit(self, record: logging.LogRecord) -> None:
        say({"log": record.getMessage(), "level": record.levelname})


def stall_in_turn(membership: Membership, seconds: float) -> None:
    """Stop the membership thread for ``seconds`` right after its next read of the socket."""
    receive = membership._receive

    def receive_then_stall() -> None:
        receive()
        del membership._receive  # the class's own again from the next turn on
        time.sleep(seconds)
        say({"stalled": seconds})

    membership._receive = receive_then_stall


def serve_commands(membership: Membership) -> None:
    for line in sys.stdin:
        command = json.loads(line)
        if "stall_in_turn" in command:
            stall_in_turn(membership, float(command["stall_in_turn"]))
        if "state" in command:
            say(
                {
                    "state": {
                        "members": sorted(membership.members()),
                        "rejected": dict(membership.rejected),
                        "forged": membership.forged,
                        "send_errors": membership.send_errors,
                        "received": membership.packets_received,
                        "events": membership.events(),
                    }
                }
            )


def main() -> None:
    name, host, port, key, link, *peers = sys.argv[1:]
    log = logging.getLogger("ansible_collections.baremetal.lb.daemons.speaker.membership")
    log.addHandler(SayLog(logging.INFO))
    log.setLevel(logging.INFO)
    peer_map = {p.split("=")[0]: (p.split("=")[1], int(port)) for p in peers}
    membership = Membership(
        name,
        bytes.fromhex(key),
        (host, int(port)),
        peer_map,
        watch_links=[link],
        on_change=lambda members: say({"members": sorted(members), "t": time.monotonic()}),
    )
    signal.signal(signal.SIGTERM, lambda *_: membership.stop())
    threading.Thread(target=serve_commands, args=(membership,), daemon=True).start()
    say({"ready": True})
    membership.run()


if __name__ == "__main__":
    main()
