"""A bounded HTTP request loop, the `while true; do curl …; done` of the walk-throughs, timed.

Run inside the lab's client namespace (`ip netns exec … python -m lab.http_loop URL`): it sends
one GET every INTERVAL seconds, COUNT times at most, each bounded by TIMEOUT, and prints one JSON
line per request: {"t": monotonic start, "ok": bool, "body": first line or error, "ms": duration}.
Network namespaces share the clock, so `t` compares with the caller's time.monotonic().
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve()  # stdlib only: run it as a plain script inside a namespace


@dataclass(frozen=True)
class Reply:
    """One request of the loop."""

    t: float
    ok: bool
    body: str
    ms: float


# Lab addresses are never reached through the machine's proxy, whatever its environment says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str, timeout: float) -> Reply:
    """One GET; a failure is a Reply with ok False and the reason as body."""
    started = time.monotonic()
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            body = response.read().decode(errors="replace").strip().splitlines()[0]
            ok = True
    except (OSError, urllib.error.URLError, IndexError) as error:
        body, ok = f"{type(error).__name__}: {getattr(error, 'reason', error)}", False
    return Reply(started, ok, body, round((time.monotonic() - started) * 1000, 1))


def loop(url: str, count: int, interval: float, timeout: float) -> Iterator[Reply]:
    """COUNT requests, one every INTERVAL seconds (a slow request delays the next, never overlaps)."""
    next_at = time.monotonic()
    for _request in range(count):
        yield get(url, timeout)
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))


def parse(line: str) -> Reply:
    """A Reply from one line of this program's output."""
    item = json.loads(line)
    return Reply(item["t"], item["ok"], item["body"], item["ms"])


def main(argv: list[str] | None = None) -> int:
    """Run the loop and print one JSON line per request."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--timeout", type=float, default=0.5)
    args = parser.parse_args(argv)
    for reply in loop(args.url, args.count, args.interval, args.timeout):
        print(json.dumps(reply.__dict__), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
