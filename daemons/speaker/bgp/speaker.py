"""The per-process BGP speaker: one :class:`.session.Session` per configured peer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterable, Sequence
from ipaddress import ip_address

from . import errors, sockets
from .messages import Notification
from .model import PeerSettings, Route, SessionStatus, State
from .session import Session, StateCallback

log = logging.getLogger(__name__)


def _ignore(peer: str, old: State, new: State, reason: str) -> None:
    """The default state-change callback."""


class BGPSpeaker:
    """Sessions to the configured peers, each announcing the routes set for it.

    ``listen`` lists local addresses on which to accept peers that connect first (port
    ``listen_port``); empty means the speaker only connects out.
    """

    def __init__(
        self,
        on_state_change: StateCallback = _ignore,
        listen: Sequence[str] = (),
        listen_port: int = 179,
    ) -> None:
        self._on_state = on_state_change
        self._sessions: dict[str, Session] = {}
        self._routes: dict[str, tuple[Route, ...]] = {}
        self._listen = tuple(listen)
        self._listen_port = listen_port
        self._servers: list[asyncio.Server] = []
        self._listeners: list[socket.socket] = []

    async def set_peers(self, settings: Iterable[PeerSettings]) -> None:
        """Make the sessions match ``settings``: start new peers, stop removed ones, reset changed ones."""
        if self._listen and not self._servers:
            await self._start_listeners()
        wanted = {s.name: s for s in settings}
        for name in list(self._sessions):
            old = self._sessions[name]
            if name not in wanted:
                await self._remove(name, errors.PEER_DECONFIGURED, "peer removed from the configuration")
            elif wanted[name] != old.settings:
                await self._remove(name, errors.OTHER_CONFIGURATION_CHANGE, "peer settings changed")
        for name, peer in wanted.items():
            if name not in self._sessions:
                self._keys(peer.peer_address, peer.password)
                session = Session(peer, lambda name=name: self._routes.get(name, ()), self._on_state)  # type: ignore[misc]
                self._sessions[name] = session
                session.start()

    def set_routes(self, peer: str, routes: Iterable[Route]) -> None:
        """The routes ``peer`` should carry from us (its whole Adj-RIB-Out); sent as a difference."""
        self._routes[peer] = tuple(routes)
        if peer in self._sessions:
            self._sessions[peer].routes_changed()

    def drop(self, peer: str, reason: str) -> None:
        """Tear a session down at once (e.g. BFD says the path is down); it reconnects later."""
        if peer in self._sessions:
            self._sessions[peer].drop(reason)

    def sessions(self) -> dict[str, SessionStatus]:
        """Every peer's state and counters."""
        return {name: s.status() for name, s in self._sessions.items()}

    async def stop(self, graceful: bool = False) -> None:
        """Stop every session.

        Sends Cease/administrative shutdown, or with ``graceful`` just closes the connections so
        that routers keep our routes for the graceful-restart time.
        """
        for server in self._servers:
            server.close()
        for name in list(self._sessions):
            session = self._sessions.pop(name)
            if graceful:
                await session.stop(None, "graceful restart")
            else:
                notice = Notification(errors.CEASE, errors.ADMINISTRATIVE_SHUTDOWN)
                await session.stop(notice, "speaker stopping")
        self._servers.clear()
        for sock in self._listeners:
            sock.close()
        self._listeners.clear()

    async def _remove(self, name: str, subcode: int, reason: str) -> None:
        session = self._sessions.pop(name)
        await session.stop(Notification(errors.CEASE, subcode), reason)
        self._keys(session.settings.peer_address, "")

    def _keys(self, peer: str, password: str) -> None:
        """Install (or clear) a peer's TCP MD5 key on the listeners of its family."""
        version = ip_address(peer).version
        for sock in self._listeners:
            if (sock.family == socket.AF_INET) == (version == 4):
                with contextlib.suppress(OSError):  # clearing a key that was never set
                    sockets.set_md5(sock, peer, password)

    async def _start_listeners(self) -> None:
        for address in self._listen:
            sock = sockets.listening_socket(address, self._listen_port)
            self._listeners.append(sock)
            self._servers.append(await asyncio.start_server(self._accepted, sock=sock))

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        remote = ip_address(str(writer.get_extra_info("peername")[0]).split("%", maxsplit=1)[0])
        for session in self._sessions.values():
            if ip_address(session.settings.peer_address) == remote:
                log.info("bgp peer %s: accepted its connection", session.settings.name)
                session.offer((reader, writer))
                return
        log.info("bgp: refused a connection from %s (not a configured peer)", remote)
        writer.close()
