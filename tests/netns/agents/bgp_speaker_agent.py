"""Runs a BGPSpeaker inside a namespace, driven by JSON lines on stdin.

Commands: {"peers": [PeerSettings fields]}, {"routes": peer, "set": [route dicts]},
{"drop": peer}, {"sessions": true}, {"stop": graceful}. Prints {"ready": true} first, then
{"state": [peer, old, new, reason]} on every state change, {"log": message} for every warning
the speaker logs, and one answer line per command.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from dataclasses import asdict
from ipaddress import ip_address, ip_network
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from ansible_collections.baremetal.lb.daemons.speaker import bgp
from ansible_collections.baremetal.lb.daemons.speaker.bgp import BGPSpeaker, PeerSettings, Route


def emit(obj: object) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Lines(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        emit({"log": record.getMessage()})


def route(spec: dict) -> Route:
    return Route(
        prefix=ip_network(spec["prefix"]),
        next_hop=ip_address(spec["next_hop"]) if spec.get("next_hop") else None,
        local_pref=spec.get("local_pref"),
        communities=tuple(spec.get("communities", ())),
        large_communities=tuple(tuple(c) for c in spec.get("large_communities", ())),
    )


async def main() -> None:
    logging.getLogger(bgp.__name__).addHandler(Lines(logging.WARNING))
    logging.getLogger(bgp.__name__).setLevel(logging.INFO)
    speaker = BGPSpeaker(
        on_state_change=lambda *change: emit({"state": list(change)}),
        listen=sys.argv[1:],
    )
    loop = asyncio.get_running_loop()
    emit({"ready": True})
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        command = json.loads(line)
        if "peers" in command:
            await speaker.set_peers(PeerSettings(**p) for p in command["peers"])
            emit({"ok": "peers"})
        elif "routes" in command:
            speaker.set_routes(command["routes"], [route(r) for r in command["set"]])
            emit({"ok": "routes"})
        elif "drop" in command:
            speaker.drop(command["drop"], "test asked")
            emit({"ok": "drop"})
        elif "sessions" in command:
            emit({"sessions": {k: asdict(v) for k, v in speaker.sessions().items()}})
        elif "stop" in command:
            await speaker.stop(graceful=command["stop"])
            emit({"ok": "stop"})
            return


asyncio.run(main())
