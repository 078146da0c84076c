"""Run the speaker's BFD engine in this namespace, driven by JSON lines.

In:  {"add": {"peer", "local", "settings": {BFDSettings fields}, "interface"?}}, {"update": {"peer",
     "settings"}}, {"remove": peer}, {"sessions": true}, {"discarded": true}, {"stop": linger_seconds}.
Out: {"ready": true}; {"reply": ...} or {"error": "..."} per command; and, whenever a session
     changes state, {"event": {"peer", "old", "new", "diag", "at": time.monotonic()}} (the
     monotonic clock is the machine's, so the test can compare it with its own).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
import time
from typing import Any

from ansible_collections.baremetal.lb.daemons.speaker.bfd.engine import BFDEngine
from ansible_collections.baremetal.lb.daemons.speaker.bfd.packet import Diag, State
from ansible_collections.baremetal.lb.daemons.speaker.bfd.settings import BFDSettings

_out = threading.Lock()


def say(line: dict[str, Any]) -> None:
    with _out:
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()


def changed(peer: str, old: State, new: State, diag: Diag) -> None:
    at = time.monotonic()
    say({"event": {"peer": peer, "old": old.name, "new": new.name, "diag": diag.name, "at": at}})


def status(engine: BFDEngine) -> dict[str, Any]:
    return {
        peer: {k: (v.name if isinstance(v, State | Diag) else v) for k, v in dataclasses.asdict(s).items()}
        for peer, s in engine.sessions().items()
    }


engine = BFDEngine(changed)
engine.start()
say({"ready": True})
for raw in sys.stdin:
    command = json.loads(raw)
    try:
        if "add" in command:
            args = command["add"]
            engine.add(args["peer"], args["local"], BFDSettings(**args["settings"]), args.get("interface"))
            reply: Any = True
        elif "update" in command:
            engine.update(command["update"]["peer"], BFDSettings(**command["update"]["settings"]))
            reply = True
        elif "remove" in command:
            engine.remove(command["remove"])
            reply = True
        elif "sessions" in command:
            reply = status(engine)
        elif "discarded" in command:
            reply = engine.discarded()
        elif "stop" in command:
            engine.stop(command["stop"])
            say({"reply": True})
            break
        else:
            raise ValueError(f"unknown command {command}")
    except Exception as error:
        say({"error": f"{type(error).__name__}: {error}"})
    else:
        say({"reply": reply})
