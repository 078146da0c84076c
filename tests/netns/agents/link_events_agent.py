"""Run the speaker's rtnetlink watcher in this namespace; print a JSON line per wake-up.

Lines out: {"ready": true}, then {"changed": <count>} each time the watcher calls back.
SIGTERM stops it.
"""

from __future__ import annotations

import itertools
import json
import signal
import sys
import threading

from ansible_collections.baremetal.lb.daemons.speaker.link_events import watch_links

wakeups = itertools.count(1)


def changed() -> None:
    sys.stdout.write(json.dumps({"changed": next(wakeups)}) + "\n")
    sys.stdout.flush()


stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
thread = threading.Thread(target=watch_links, args=(changed, stop, 0.2), daemon=True)
thread.start()
sys.stdout.write(json.dumps({"ready": True}) + "\n")
sys.stdout.flush()
thread.join()
