"""The timing-critical half of BGP: the sessions, their routes, and BFD beside them.

Runs as a child process of the Kubernetes half (``python -m …daemons.speaker.bgp.engine``,
started through :mod:`..engine_process`), fed the orders of :mod:`.orders`. The BGP sessions
run in this process's asyncio loop, BFD in a thread of its own (:class:`..bfd.engine.BFDEngine`),
so neither a slow API server nor a resync of many Services delays a keepalive or a BFD packet.
When a BFD session goes down, the BGP sessions to that address are dropped at once: the routers
withdraw our routes without waiting for a hold timer.

On SIGTERM or the end of stdin it stops every session: gracefully (no NOTIFICATION, so routers
that negotiated graceful restart keep our routes for the restart time) when any peer asked for
graceful restart, else with Cease/administrative shutdown. It imports nothing from Kubernetes.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import socket
import time
from collections.abc import Mapping
from typing import Any, BinaryIO

from ..bfd.engine import BFDEngine, BFDError
from ..bfd.packet import Diag
from ..bfd.packet import State as BFDState
from ..bfd.settings import BFDSettings, InvalidSettings, UnsupportedProfile
from ..engine_child import Reports, serve
from .model import State
from .orders import PeerOrder, routes_from_json
from .speaker import BGPSpeaker

_REPORT_EVERY = 1.0
_BFD_LINGER = 0.3  # seconds AdminDown keeps going out on stop

# Named after the module even when run as __main__, so log lines say where they come from.
log = logging.getLogger(__spec__.name if __spec__ else __name__)


def local_address_towards(peer: str) -> str:
    """The address this host sends from to reach ``peer`` (the kernel's route choice)."""
    family = socket.AF_INET6 if ":" in peer else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect((peer, 3784))
        return str(probe.getsockname()[0])


class Engine:
    """The BGP speaker and the BFD engine of one node; orders arrive through :meth:`submit`."""

    def __init__(self, order: Mapping[str, Any], out: BinaryIO) -> None:
        self._inbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reports = Reports(out, lambda: self.submit("stop", None))
        self._speaker = BGPSpeaker(on_state_change=self._bgp_changed)
        self._bfd = BFDEngine(self._bfd_changed)
        self._peers: dict[str, PeerOrder] = {}
        self._bfd_peers: dict[str, BFDSettings] = {}  # peer address -> profile now running
        self._refused: dict[str, str] = {}  # peer name -> why its BFD profile cannot run
        self._last_report: dict[str, Any] | None = None
        self._stopping = False  # no reports once BFD is stopped: the parent is going away

    def submit(self, kind: str, value: Any) -> None:
        """Hand over an order (``peers``, ``routes``, ``stop``); thread-safe."""
        self._inbox.put((kind, value))

    def run(self) -> None:
        """Serve until a ``stop`` order, then stop every session."""
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._bfd.start()
        self._reports.emit({"ready": True})
        graceful = False
        next_report = time.monotonic()
        while True:
            try:
                kind, value = await asyncio.to_thread(self._inbox.get, True, _REPORT_EVERY)
            except queue.Empty:
                kind, value = "tick", None
            if kind == "stop":
                graceful = any(p.settings.graceful_restart for p in self._peers.values())
                break
            if kind == "peers":
                await self._set_peers([PeerOrder.from_json(p) for p in value])
            elif kind == "routes":
                for peer, routes in routes_from_json(value).items():
                    self._speaker.set_routes(peer, routes)
            if time.monotonic() >= next_report:
                self._report()
                next_report = time.monotonic() + _REPORT_EVERY
        log.info(
            "stopping every BGP session (%s)", "graceful restart" if graceful else "administrative shutdown"
        )
        self._stopping = True
        self._bfd.stop(linger=_BFD_LINGER)
        await self._speaker.stop(graceful=graceful)

    async def _set_peers(self, peers: list[PeerOrder]) -> None:
        self._peers = {p.settings.name: p for p in peers}
        await self._speaker.set_peers(p.settings for p in peers)
        wanted: dict[str, BFDSettings] = {}
        self._refused = {}
        for peer in peers:
            if peer.bfd is None:
                continue
            address = peer.settings.peer_address
            if address in wanted and wanted[address] != peer.bfd:
                self._refused[peer.settings.name] = f"another BGPPeer to {address} uses another BFD profile"
                continue
            wanted[address] = peer.bfd
        for address in list(self._bfd_peers):
            if address not in wanted or wanted[address] != self._bfd_peers[address]:
                self._bfd.remove(address)
                del self._bfd_peers[address]
        for address, settings in wanted.items():
            if address in self._bfd_peers:
                continue
            names = [n for n, p in self._peers.items() if p.settings.peer_address == address]
            try:
                source = next(
                    (p.settings.source_address for p in peers if p.settings.peer_address == address),
                    None,
                ) or local_address_towards(address)
                multihop = any(self._peers[n].settings.ebgp_multihop for n in names)
                self._bfd.add(address, source, settings, multihop=multihop)
                self._bfd_peers[address] = settings
                log.info("bfd session to %s for peers %s", address, ",".join(names))
            except (UnsupportedProfile, InvalidSettings, BFDError, OSError) as refused:
                for name in names:
                    self._refused[name] = f"bfdProfile: {refused}"
                log.warning("no BFD to %s (peers %s): %s", address, ",".join(names), refused)
        self._report()

    def _bgp_changed(self, peer: str, old: State, new: State, reason: str) -> None:
        log.info("bgp peer %s: %s -> %s (%s)", peer, old, new, reason)
        self._report()

    def _bfd_changed(self, address: str, old: BFDState, new: BFDState, diag: Diag) -> None:
        """Runs in the BFD thread: hand the news to the loop, which owns the sessions."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._bfd_in_loop, address, old, new, diag)

    def _bfd_in_loop(self, address: str, old: BFDState, new: BFDState, diag: Diag) -> None:
        log.info("bfd %s: %s -> %s (%s)", address, old.name, new.name, diag.name)
        if old == BFDState.UP and new != BFDState.UP:
            for name, peer in self._peers.items():
                if peer.settings.peer_address == address:
                    self._speaker.drop(name, f"BFD down ({diag.name.lower().replace('_', ' ')})")
        self._report()

    def _report(self) -> None:
        if self._stopping:
            return
        bfd = {address: status.state.name for address, status in self._bfd.sessions().items()}
        sessions = {
            name: {
                "state": str(status.state),
                "reason": status.reason,
                "peer_address": self._peers[name].settings.peer_address if name in self._peers else "",
                "updates_sent": status.updates_sent,
                "prefixes_announced": status.prefixes_announced,
                "bfd": bfd.get(self._peers[name].settings.peer_address) if name in self._peers else None,
                "refused": self._refused.get(name, ""),
            }
            for name, status in self._speaker.sessions().items()
        }
        report = {"sessions": sessions}
        if report != self._last_report:
            self._last_report = report
            self._reports.emit(report)


def main() -> int:
    """Read the start order, then serve until SIGTERM, SIGINT or the end of stdin."""
    return serve(Engine)


if __name__ == "__main__":
    raise SystemExit(main())
