"""One BGP session's finite state machine (RFC 4271 §8), active side plus an accepted connection.

The session connects (Connect; Active while it waits to retry, with the delay doubling from
:data:`FIRST_RETRY` up to ``connect_time``), sends its OPEN (OpenSent), checks the peer's OPEN and
sends a KEEPALIVE (OpenConfirm), and on the peer's KEEPALIVE is Established: it sends the
desired routes, End-of-RIB per family, keepalives every hold/3 and then only the changes.
The negotiated hold timer is enforced: a silent peer gets a "hold timer expired" NOTIFICATION.
Every protocol error sends the NOTIFICATION that :class:`.errors.BGPError` carries; a peer's
NOTIFICATION is logged with its readable reason. A connection the peer opens is adopted by
simple collision resolution (:meth:`Session.offer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from ipaddress import IPv4Address, IPv6Address, ip_address

from . import errors, local_addresses, messages, sockets
from .adj_rib_out import AdjRibOut, SessionFacts
from .errors import BGPError
from .framing import read_message
from .messages import IPV4_UNICAST, IPV6_UNICAST, Capabilities, GracefulRestart, Keepalive, Notification, Open
from .model import Address, DynamicASN, PeerSettings, Route, SessionStatus, State
from .update import Update, end_of_rib

log = logging.getLogger(__name__)

FIRST_RETRY = 1.0  # seconds: the wait after the first failed attempt (doubling up to connect_time)
OPEN_HOLD = 240.0  # seconds: RFC 4271's large hold time while the OPENs are exchanged
FAMILIES = (IPV4_UNICAST, IPV6_UNICAST)

StateCallback = Callable[[str, State, State, str], None]
Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def retry_delay(connect_time: float, failures: int) -> float:
    """Seconds to wait before the next connection attempt, after ``failures`` failed ones in a row.

    Doubling from :data:`FIRST_RETRY`, never longer than ``connect_time``: MetalLB's connectTime
    is how long BGP waits between connection attempts (FRR's ``timers connect``, RFC 4271's
    ConnectRetryTime), so the user's value bounds the wait, while quick first retries catch a
    peer that is just coming up (BIRD refuses for its error-wait time after a session ends).
    """
    return min(FIRST_RETRY * 2.0 ** max(failures - 1, 0), connect_time)


def connect_failure(peer_address: str, problem: OSError, keyed: bool) -> str:
    """Why a connection attempt failed, as logged: the system's error, else "timed out".

    A timeout with a TCP MD5 key (``keyed``) also says that a key mismatch looks this way: the
    peer's kernel drops a SYN whose signature fails, without an answer (RFC 2385).
    """
    why = str(problem) or "timed out"
    if keyed and isinstance(problem, TimeoutError):
        why += " (TCP MD5 is on: a wrong or missing key at the peer looks the same)"
    return f"connect to {peer_address}: {why}"


class _Closed(Exception):
    """The connection ended; ``reason`` says why (already logged)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Session:
    """The FSM of one peer; routes come from ``routes()`` whenever :meth:`routes_changed` is called."""

    def __init__(
        self, settings: PeerSettings, routes: Callable[[], Iterable[Route]], on_state: StateCallback
    ) -> None:
        self.settings = settings
        self._routes = routes
        self._on_state = on_state
        self.state = State.IDLE
        self.reason = "configured"
        self._task: asyncio.Task[None] | None = None
        self._incoming: asyncio.Queue[Connection] = asyncio.Queue()
        self._writer: asyncio.StreamWriter | None = None
        self._ending: tuple[Notification | None, str] | None = None
        self._wake = asyncio.Event()
        self._rib = AdjRibOut()
        self._peer_open: Open | None = None
        self._hold: int | None = None
        self.counters = {"updates": 0, "notifications_sent": 0, "notifications_received": 0, "established": 0}

    # ------------------------------------------------------------------------------ control

    def start(self) -> None:
        """Start connecting."""
        self._task = asyncio.create_task(self._run(), name=f"bgp-{self.settings.name}")

    def routes_changed(self) -> None:
        """The desired routes changed: send the difference when Established."""
        self._wake.set()

    def drop(self, reason: str) -> None:
        """Tear the connection down at once (Cease); the session reconnects after connect_time."""
        self._end(Notification(errors.CEASE, errors.ADMINISTRATIVE_RESET), reason)

    async def stop(self, notification: Notification | None, reason: str) -> None:
        """End the session for good.

        With ``notification`` None the TCP connection just closes (graceful restart: the peer
        keeps our routes for the restart time).
        """
        self._end(notification, reason)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._set(State.IDLE, reason)

    def offer(self, connection: Connection, peer_router_id: IPv4Address | None = None) -> None:
        """Adopt a connection the peer opened, or refuse it (simple collision resolution).

        Established, or in OpenConfirm with the higher router ID, the session keeps its own
        connection and refuses the new one with Cease/connection collision resolution.
        """
        _reader, writer = connection
        ours_wins = self.state == State.ESTABLISHED or (
            self.state == State.OPEN_CONFIRM
            and self._peer_open is not None
            and IPv4Address(self.settings.router_id) > self._peer_open.router_id
        )
        if ours_wins or self._task is None:
            notice = Notification(errors.CEASE, errors.CONNECTION_COLLISION_RESOLUTION)
            writer.write(messages.encode_notification(notice))
            writer.close()
            return
        self._incoming.put_nowait(connection)
        if self._writer is not None:
            self._end(
                Notification(errors.CEASE, errors.CONNECTION_COLLISION_RESOLUTION), "connection collision"
            )

    def status(self) -> SessionStatus:
        """State and counters."""
        return SessionStatus(
            peer=self.settings.name,
            state=self.state,
            reason=self.reason,
            peer_asn=self._peer_open.asn if self._peer_open else None,
            hold_time=self._hold,
            updates_sent=self.counters["updates"],
            prefixes_announced=len(self._rib.sent) if self.state == State.ESTABLISHED else 0,
            notifications_sent=self.counters["notifications_sent"],
            notifications_received=self.counters["notifications_received"],
            established_transitions=self.counters["established"],
        )

    # ------------------------------------------------------------------------------ the loop

    def _set(self, state: State, reason: str) -> None:
        old, self.state, self.reason = self.state, state, reason
        if old != state:
            log.info("bgp peer %s: %s -> %s (%s)", self.settings.name, old, state, reason)
            self._on_state(self.settings.name, old, state, reason)

    def _end(self, notification: Notification | None, reason: str) -> None:
        """Close the current connection now, after sending ``notification`` if there is one."""
        writer = self._writer
        if writer is None or self._ending is not None:
            return
        self._ending = (notification, reason)
        if notification is not None:
            self._notify(writer, notification, reason)
        writer.close()

    def _notify(self, writer: asyncio.StreamWriter, notification: Notification, detail: str) -> None:
        log.warning(
            "bgp peer %s: sending NOTIFICATION %s (%s)", self.settings.name, notification.reason, detail
        )
        self.counters["notifications_sent"] += 1
        with contextlib.suppress(OSError, RuntimeError):
            writer.write(messages.encode_notification(notification))

    async def _run(self) -> None:
        failures = 0
        while True:
            self._set(State.CONNECT, "connecting")
            try:
                connection = await self._connection()
            except (OSError, TimeoutError) as problem:
                reason = connect_failure(self.settings.peer_address, problem, bool(self.settings.password))
                failures += 1
            else:
                established = await self._serve(connection)
                reason = self.reason
                failures = 0 if established else failures + 1
            self._set(State.ACTIVE, reason)
            delay = retry_delay(self.settings.connect_time, failures)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    self._incoming.put_nowait(await self._incoming.get())  # a peer connecting ends the wait

    async def _connection(self) -> Connection:
        if not self._incoming.empty():
            return self._incoming.get_nowait()
        s = self.settings
        outgoing = asyncio.create_task(
            sockets.connect(
                s.peer_address, s.peer_port, s.source_address, s.password, timeout=max(3.0, s.connect_time)
            )
        )
        incoming = asyncio.create_task(self._incoming.get())
        await asyncio.wait({outgoing, incoming}, return_when=asyncio.FIRST_COMPLETED)
        if incoming.done():
            outgoing.cancel()
            with contextlib.suppress(BaseException):
                _reader, writer = await outgoing
                writer.close()
            return incoming.result()
        incoming.cancel()
        return outgoing.result()

    async def _serve(self, connection: Connection) -> bool:
        """Run one connection to its end; True when it reached Established."""
        reader, writer = connection
        self._writer, self._ending, self._peer_open, self._hold = writer, None, None, None
        reached = False
        try:
            reached = await self._handshake_and_run(reader, writer)
        except BGPError as problem:
            self._notify(writer, Notification(problem.code, problem.subcode, problem.data), problem.detail)
            self._closed(problem.reason)
        except _Closed as closed:
            self._closed(closed.reason)
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as problem:
            self._closed(self._ending[1] if self._ending else f"connection closed by peer ({problem})")
        except Exception as problem:  # a bug must cost this session, never the speaker
            log.exception("bgp peer %s: internal error", self.settings.name)
            self._notify(writer, Notification(errors.CEASE, 0), "internal error")
            self._closed(f"internal error: {problem}")
        finally:
            self._writer = None
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
        return reached

    def _closed(self, reason: str) -> None:
        self.reason = reason
        if self.state == State.ESTABLISHED:
            log.warning("bgp peer %s: session down: %s", self.settings.name, reason)
        else:
            log.info("bgp peer %s: connection ended: %s", self.settings.name, reason)

    def _open(self) -> Open:
        s = self.settings
        restart = GracefulRestart(s.restart_time, FAMILIES) if s.graceful_restart else None
        caps = Capabilities(FAMILIES, s.my_asn, True, restart)
        return Open(s.my_asn, s.hold_time, IPv4Address(s.router_id), caps)

    async def _handshake_and_run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(messages.encode_open(self._open()))
        self._set(State.OPEN_SENT, "OPEN sent")
        peer = await self._expect(reader, Open, OPEN_HOLD, 1)
        assert isinstance(peer, Open)
        self._check_open(peer)
        self._peer_open = peer
        hold = min(self.settings.hold_time, peer.hold_time)
        self._hold = hold
        writer.write(messages.encode_keepalive())
        self._set(State.OPEN_CONFIRM, f"OPEN received from AS {peer.asn}")
        await self._expect(reader, Keepalive, float(hold or OPEN_HOLD), 2)
        self.counters["established"] += 1
        self._set(State.ESTABLISHED, f"hold time {hold}s")
        await self._established(reader, writer, peer, hold)
        return True

    async def _expect(
        self, reader: asyncio.StreamReader, kind: type, hold: float, fsm_subcode: int
    ) -> object:
        message = await self._read(reader, hold, True)
        if not isinstance(message, kind):
            raise BGPError(errors.FSM_ERROR, fsm_subcode, detail=f"unexpected {type(message).__name__}")
        return message

    async def _read(self, reader: asyncio.StreamReader, hold: float, four_octet: bool) -> object:
        try:
            async with asyncio.timeout(hold or None):
                message = await read_message(reader, four_octet)
        except TimeoutError:
            raise BGPError(
                errors.HOLD_TIMER_EXPIRED, detail=f"no message from the peer for {hold:g}s"
            ) from None
        if isinstance(message, Notification):
            self.counters["notifications_received"] += 1
            log.warning(
                "bgp peer %s: peer sent NOTIFICATION %s (data %s)",
                self.settings.name,
                message.reason,
                message.data.hex() or "none",
            )
            raise _Closed(f"peer sent NOTIFICATION {message.reason}")
        return message

    def _check_open(self, peer: Open) -> None:
        s = self.settings
        if s.peer_asn is not None:
            acceptable = peer.asn == s.peer_asn
        elif s.dynamic_asn == DynamicASN.INTERNAL:
            acceptable = peer.asn == s.my_asn
        else:
            acceptable = peer.asn != s.my_asn
        if not acceptable:
            raise BGPError(
                errors.OPEN_MESSAGE,
                errors.BAD_PEER_AS,
                (peer.asn & 0xFFFF).to_bytes(2, "big"),
                f"AS {peer.asn}",
            )
        if str(peer.router_id) == s.router_id and peer.asn == s.my_asn:
            raise BGPError(errors.OPEN_MESSAGE, errors.BAD_BGP_IDENTIFIER, detail="same router ID as ours")

    # ------------------------------------------------------------------------------ Established

    def _facts(self, writer: asyncio.StreamWriter, peer: Open) -> SessionFacts:
        peer_families = set(peer.capabilities.families) or {IPV4_UNICAST}
        local = str(writer.get_extra_info("sockname")[0]).split("%", maxsplit=1)[0]
        interface = local_addresses.interface_of(local)
        hops: dict[tuple[int, int], tuple[Address, ...]] = {}
        if ip_address(local).version == 4:
            hops[IPV4_UNICAST] = (IPv4Address(local),)
            glob, link = local_addresses.ipv6_on(interface) if interface else (None, None)
        else:
            v4 = local_addresses.ipv4_on(interface) if interface else None
            hops[IPV4_UNICAST] = (v4,) if v4 else ()
            glob, link = IPv6Address(local), (local_addresses.ipv6_on(interface)[1] if interface else None)
        if glob is not None:
            with_link = link is not None and not self.settings.ebgp_multihop
            hops[IPV6_UNICAST] = (glob, link) if with_link else (glob,)  # type: ignore[assignment]
        return SessionFacts(
            my_asn=self.settings.my_asn,
            internal=peer.asn == self.settings.my_asn,
            four_octet=peer.capabilities.four_octet_asn is not None,
            families=frozenset(set(FAMILIES) & peer_families),
            next_hops=hops,
        )

    async def _established(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Open, hold: int
    ) -> None:
        self._rib = AdjRibOut()
        facts = self._facts(writer, peer)
        keepalive = self.settings.keepalive_time
        interval = (keepalive if keepalive and keepalive < hold else hold / 3) if hold else None
        tasks = {
            asyncio.create_task(self._read_loop(reader, float(hold), facts)),
            asyncio.create_task(self._write_loop(writer, interval, facts)),
        }
        try:
            done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()

    async def _read_loop(self, reader: asyncio.StreamReader, hold: float, facts: SessionFacts) -> None:
        while True:
            message = await self._read(reader, hold, facts.four_octet)
            if isinstance(message, Update) and message.error is not None:
                log.warning(
                    "bgp peer %s: UPDATE treated as withdraw (RFC 7606): %s",
                    self.settings.name,
                    message.error.reason,
                )
            elif isinstance(message, messages.RouteRefresh):
                self._rib.forget(message.family)
                self._wake.set()
            elif isinstance(message, Open):
                raise BGPError(errors.FSM_ERROR, 3, detail="OPEN in Established")

    async def _write_loop(
        self, writer: asyncio.StreamWriter, interval: float | None, facts: SessionFacts
    ) -> None:
        self._wake.set()
        first = True
        while True:
            try:
                async with asyncio.timeout(interval):
                    await self._wake.wait()
            except TimeoutError:
                writer.write(messages.encode_keepalive())
                await writer.drain()
                continue
            self._wake.clear()
            updates, unsendable = self._rib.changes(self._routes(), facts)
            if unsendable:
                log.warning(
                    "bgp peer %s: %d route(s) cannot go (family not negotiated or no next hop): %s",
                    self.settings.name,
                    len(unsendable),
                    ", ".join(map(str, unsendable[:5])),
                )
            for wire in updates:
                writer.write(wire)
            self.counters["updates"] += len(updates)
            if first:
                for family in sorted(facts.families):
                    writer.write(end_of_rib(family))
                first = False
            await writer.drain()
