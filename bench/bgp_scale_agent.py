"""One sender of the BGP scale bench, run inside its namespace and driven by JSON lines on stdin.

    python -m bench.bgp_scale_agent speaker PEER_ADDRESS ROUTER_ID MY_ASN PEER_ASN
    python -m bench.bgp_scale_agent gobgp API_HOST:PORT NEXT_HOP

``speaker`` is our shipped runtime as the BGP handler drives it: the engine
(``daemons/speaker/bgp/engine.py``) as a child process through
:class:`~daemons.speaker.engine_process.EngineProcess`, one peer order with the handler's
default timers, then route orders (:mod:`daemons.speaker.bgp.orders`). ``gobgp`` injects the
same prefixes into a running gobgpd through its gRPC ``AddPathStream`` (:mod:`bench.gobgp_api`).

Prints ``{"ready": true, "pid": ENGINE_PID}`` first (``pid`` null for gobgp). Commands, one
answer line each:

* ``{"established": SECONDS}`` (speaker): wait for the engine's report that the session is
  Established → ``{"ok": true}`` or ``{"error": ...}``;
* ``{"announce": N}``: build the first N prefixes of :func:`scale_prefixes` in the sender's own
  form, then hand all of them over at once → ``{"t0": T, "handed": T}``: CLOCK_MONOTONIC just
  before the hand-over and when the call returned (the bench's clock is the same);
  ``{"announce": 0}`` withdraws everything.

The end of stdin stops the engine (its peer is told by a NOTIFICATION) and the agent.
"""

from __future__ import annotations

import ipaddress
import json
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.baremetal.lb.daemons.speaker.bgp.handler import (
    DEFAULT_CONNECT_TIME,
    DEFAULT_HOLD_TIME,
    ENGINE,
)
from ansible_collections.baremetal.lb.daemons.speaker.bgp.model import PeerSettings, Route
from ansible_collections.baremetal.lb.daemons.speaker.bgp.orders import PeerOrder, routes_to_json
from ansible_collections.baremetal.lb.daemons.speaker.engine_process import EngineProcess
from ansible_collections.baremetal.lb.daemons.speaker.options import Options
from bench import gobgp_api

# Host routes in a /64 of the documentation range, apart from the bench LAN's 2001:db8::/64.
SCALE_NETWORK = ipaddress.IPv6Network("2001:db8:b::/64")
PEER_NAME = "receiver"


def scale_prefixes(count: int) -> list[ipaddress.IPv6Network]:
    """The bench's ``count`` prefixes: /128s 2001:db8:b::1, ::2, ... (the same for both senders)."""
    base = int(SCALE_NETWORK.network_address)
    return [ipaddress.IPv6Network((base + i + 1, 128)) for i in range(count)]


def emit(message: Mapping[str, Any]) -> None:
    """One JSON line to the bench."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def timed(hand_over: Callable[[], object]) -> dict[str, float]:
    """Run ``hand_over`` and say when it started and returned (CLOCK_MONOTONIC)."""
    t0 = time.monotonic()
    hand_over()
    return {"t0": t0, "handed": time.monotonic()}


class SpeakerSender:
    """Our engine process with one peer, fed route orders as the BGP handler feeds them."""

    def __init__(self, peer_address: str, router_id: str, my_asn: int, peer_asn: int) -> None:
        self._established = threading.Event()
        self._engine = EngineProcess(ENGINE, self._report, lambda status: emit({"engine_exit": status}))
        self._engine.start({"log_level": Options.log_level})
        settings = PeerSettings(
            name=PEER_NAME,
            my_asn=my_asn,
            peer_asn=peer_asn,
            peer_address=peer_address,
            router_id=router_id,
            hold_time=DEFAULT_HOLD_TIME,
            connect_time=DEFAULT_CONNECT_TIME,
        )
        self._engine.send_if_changed("peers", [PeerOrder(settings).to_json()])

    @property
    def pid(self) -> int | None:
        """The engine's PID."""
        pid: int | None = self._engine.pid
        return pid

    def _report(self, message: Mapping[str, Any]) -> None:
        session = (message.get("sessions") or {}).get(PEER_NAME) or {}
        if session.get("state") == "Established":
            self._established.set()

    def established(self, timeout: float) -> dict[str, Any]:
        """Wait for the engine's report of an Established session."""
        if self._established.wait(timeout):
            return {"ok": True}
        return {"error": f"the engine reported no Established session within {timeout}s"}

    def announce(self, count: int) -> dict[str, float]:
        """Hand the engine one routes order with ``count`` routes (the handler's JSON form)."""
        order = routes_to_json({PEER_NAME: [Route(prefix) for prefix in scale_prefixes(count)]})
        return timed(lambda: self._engine.send_if_changed("routes", order))

    def stop(self) -> None:
        """Stop the engine."""
        self._engine.stop()


class GoBGPSender:
    """A gobgpd fed through its gRPC API."""

    def __init__(self, target: str, next_hop: str) -> None:
        self._injector = gobgp_api.Injector(gobgp_api.load(), target)
        self._next_hop = next_hop
        deadline = time.monotonic() + 20
        while not self._injector.ready():
            if time.monotonic() > deadline:
                raise SystemExit(f"gobgpd's API at {target} did not answer within 20 s")
            time.sleep(0.1)

    pid = None

    def established(self, timeout: float) -> dict[str, Any]:
        """The bench reads GoBGP's session from the receiver; nothing to wait for here."""
        return {"ok": True}

    def announce(self, count: int) -> dict[str, float]:
        """Clear the RIB for 0, else stream ``count`` prebuilt paths in through AddPathStream."""
        if count == 0:
            return timed(self._injector.clear)
        paths = self._injector.paths(scale_prefixes(count), self._next_hop)
        return timed(lambda: self._injector.add(paths))

    def stop(self) -> None:
        """Close the API channel (gobgpd is the bench's to stop)."""
        self._injector.close()


def main(argv: list[str]) -> int:
    """Start the sender named by ``argv[0]`` and serve the bench's commands until stdin ends."""
    kind, args = argv[0], argv[1:]
    sender: SpeakerSender | GoBGPSender
    if kind == "speaker":
        sender = SpeakerSender(args[0], args[1], int(args[2]), int(args[3]))
    else:
        sender = GoBGPSender(args[0], args[1])
    emit({"ready": True, "pid": sender.pid})
    try:
        for line in sys.stdin:
            command = json.loads(line)
            if "established" in command:
                emit(sender.established(float(command["established"])))
            elif "announce" in command:
                emit(sender.announce(int(command["announce"])))
    finally:
        sender.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
