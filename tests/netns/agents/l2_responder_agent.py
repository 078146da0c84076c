"""Run a Responder in this namespace, driven by JSON lines on stdin.

Commands: {"update": {"eth0": ["192.0.2.10", ...]}} -> {"ok": true} once the filter is swapped;
{"announce": "192.0.2.10"} -> {"ok": true}; {"counters": true} -> the counters.
SIGTERM stops it.
"""

from __future__ import annotations

import ipaddress
import json
import signal
import sys
import threading

from ansible_collections.baremetal.lb.daemons.speaker.layer2.responder import Responder


def reply(obj: object) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def serve_commands(responder: Responder) -> None:
    for line in sys.stdin:
        command = json.loads(line)
        if "update" in command:
            owned = {k: [ipaddress.ip_address(v) for v in vs] for k, vs in command["update"].items()}
            responder.update(owned).result(5)
            reply({"ok": True})
        elif "announce" in command:
            responder.announce(ipaddress.ip_address(command["announce"])).result(5)
            reply({"ok": True})
        elif "counters" in command:
            c = responder.counters
            reply(
                {
                    "requests_received": dict(c.requests_received),
                    "responses_sent": dict(c.responses_sent),
                    "gratuitous_sent": dict(c.gratuitous_sent),
                    "frames_received": c.frames_received,
                    "frames_ignored": c.frames_ignored,
                    "send_errors": c.send_errors,
                }
            )
    responder.stop()


def main() -> None:
    responder = Responder()
    signal.signal(signal.SIGTERM, lambda *_: responder.stop())
    threading.Thread(target=serve_commands, args=(responder,), daemon=True).start()
    reply({"ready": True})
    responder.run()


if __name__ == "__main__":
    main()
