"""The BFD engine: every session of the speaker, run by one thread that does nothing else.

The thread owns the sockets and the sessions; it sleeps in ``select`` until the next timer or
packet, so no other work (BGP, Kubernetes) can delay a packet or a detection (design.md §3: a
200 ms stall broke 150 ms sessions). Other threads talk to it through :class:`BFDEngine`'s
methods, which queue a command, wake the thread and wait for the answer.

The state-change callback runs on the engine thread at the moment of the change: it must not
block (hand the news to your own loop, e.g. with ``loop.call_soon_threadsafe``).
"""

from __future__ import annotations

import ipaddress
import logging
import queue
import random
import selectors
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from . import transport
from .packet import Diag, MalformedPacket, State, decode
from .session import Session, SessionStatus, Step
from .settings import BFDSettings, check_supported

log = logging.getLogger(__name__)

StateCallback = Callable[[str, State, State, Diag], None]  # (peer, old state, new state, diag)
T = TypeVar("T")

_MAX_WAIT = 1.0  # the loop wakes at least this often
_READ_BURST = 64  # datagrams read per readiness event before timers get their turn
_COMMAND_TIMEOUT = 10.0
_DISCRIMINATOR_DRAWS = 100


class BFDError(RuntimeError):
    """A command the engine could not carry out (unknown peer, duplicate peer, socket error)."""


@dataclass
class _Peer:
    """A session with its addressing and its sending socket."""

    address: transport.IPAddress
    local: transport.IPAddress
    interface: str | None
    session: Session
    sender: socket.socket
    receiver_key: tuple[transport.IPAddress, str | None]


class BFDEngine:
    """Every BFD session of this speaker, in a dedicated thread.

    ``add``/``update``/``remove``/``sessions``/``discarded``/``stop`` may be called from any
    thread (also from the state callback). Peers are named by their address as a string.
    """

    def __init__(self, on_state_change: StateCallback, rng: random.Random | None = None) -> None:
        self._callback = on_state_change
        self._rng = rng or random.SystemRandom()
        self._peers: dict[str, _Peer] = {}
        self._by_discriminator: dict[int, _Peer] = {}
        self._receivers: dict[tuple[transport.IPAddress, str | None], socket.socket] = {}
        self._discarded: Counter[str] = Counter()
        self._commands: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        self._stop_at: float | None = None  # set by stop(): the loop ends then
        self._thread = threading.Thread(target=self._run, name="bfd", daemon=True)

    # -- public API (any thread) ----------------------------------------------------------------

    def start(self) -> None:
        """Start the engine thread."""
        self._thread.start()

    def add(
        self,
        peer_address: str,
        local_address: str,
        settings: BFDSettings,
        interface: str | None = None,
        multihop: bool = False,
    ) -> None:
        """Start a session to ``peer_address`` from ``local_address`` (both on the same link).

        Raises UnsupportedProfile / InvalidSettings for settings this engine cannot run, and
        BFDError when the peer already has a session or the sockets cannot be opened.
        """
        check_supported(settings, multihop)
        peer, local = ipaddress.ip_address(peer_address), ipaddress.ip_address(local_address)
        if peer.version != local.version:
            raise BFDError(f"peer {peer} and local address {local} are of different families")
        self._call(lambda: self._add(peer, local, settings, interface))

    def update(self, peer_address: str, settings: BFDSettings) -> None:
        """Change a session's settings (a Poll Sequence tells the peer when the session is Up)."""
        check_supported(settings)
        self._call(lambda: self._update(self._peer(peer_address), settings))

    def remove(self, peer_address: str) -> None:
        """Send AdminDown to the peer and forget the session."""
        self._call(lambda: self._remove(self._peer(peer_address)))

    def sessions(self) -> dict[str, SessionStatus]:
        """A snapshot of every session, by peer address."""
        return self._call(lambda: {name: p.session.status() for name, p in self._peers.items()})

    def discarded(self) -> dict[str, int]:
        """Received packets dropped before reaching a session, by reason."""
        return self._call(lambda: dict(self._discarded))

    def stop(self, linger: float = 0.0) -> None:
        """Send AdminDown on every session, keep sending it for ``linger`` seconds, then stop."""
        if not self._thread.is_alive():
            return
        self._call(self._admin_down_all)
        deadline = time.monotonic() + linger
        self._call(lambda: self._stop_loop_at(deadline))
        self._thread.join(linger + _COMMAND_TIMEOUT)

    # -- command plumbing -----------------------------------------------------------------------

    def _call(self, command: Callable[[], T]) -> T:
        if threading.current_thread() is self._thread:
            return command()
        if not self._thread.is_alive():
            raise BFDError("the BFD engine is not running")
        future: Future[T] = Future()
        self._commands.put((command, future))
        self._wake_write.send(b"\0")
        return future.result(_COMMAND_TIMEOUT)

    def _run_commands(self) -> None:
        try:
            while self._wake_read.recv(4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                command, future = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                future.set_result(command())
            except Exception as error:  # handed to the caller's thread
                future.set_exception(error)

    # -- the engine thread ----------------------------------------------------------------------

    def _stop_loop_at(self, deadline: float) -> None:
        self._stop_at = deadline

    def _run(self) -> None:
        try:
            while self._stop_at is None or time.monotonic() < self._stop_at:
                self._wait_and_serve()
                self._run_timers(time.monotonic())
        finally:
            self._close()

    def _wait_and_serve(self) -> None:
        deadlines = [d for p in self._peers.values() if (d := p.session.next_deadline) is not None]
        if self._stop_at is not None:
            deadlines.append(self._stop_at)
        timeout = min([*deadlines, time.monotonic() + _MAX_WAIT]) - time.monotonic()
        for key, _events in self._selector.select(max(timeout, 0.0)):
            if key.fileobj is self._wake_read:
                self._run_commands()
            else:
                self._receive(key.fileobj, key.data)  # type: ignore[arg-type]

    def _run_timers(self, now: float) -> None:
        for peer in list(self._peers.values()):
            deadline = peer.session.next_deadline
            if deadline is not None and deadline <= now:
                self._handle(peer, peer.session.tick(now))

    def _receive(self, sock: socket.socket, receiver_key: tuple[transport.IPAddress, str | None]) -> None:
        for _burst in range(_READ_BURST):
            try:
                datagram = transport.receive(sock)
            except OSError as error:
                log.warning("BFD receive on %s failed: %s", receiver_key[0], error)
                return
            if datagram is None:
                return
            self._deliver(datagram, receiver_key)

    def _deliver(
        self, datagram: transport.Datagram, receiver_key: tuple[transport.IPAddress, str | None]
    ) -> None:
        if datagram.ttl != transport.TTL:
            self._discard("ttl", datagram, f"TTL/hop limit {datagram.ttl}, not {transport.TTL}")
            return
        try:
            packet = decode(datagram.data)
        except MalformedPacket as error:
            self._discard("malformed", datagram, str(error))
            return
        if packet.your_discriminator:
            peer = self._by_discriminator.get(packet.your_discriminator)
        else:
            peer = self._peers.get(str(datagram.source))
        if peer is None or peer.address != datagram.source or peer.receiver_key != receiver_key:
            self._discard("no session", datagram, f"no session for discriminator {packet.your_discriminator}")
            return
        self._handle(peer, peer.session.receive(packet, time.monotonic()))

    def _discard(self, reason: str, datagram: transport.Datagram, detail: str) -> None:
        self._discarded[reason] += 1
        log.debug("BFD packet from %s discarded: %s", datagram.source, detail)

    def _handle(self, peer: _Peer, step: Step) -> None:
        if step.send is not None:
            try:
                peer.sender.sendto(
                    step.send.encode(),
                    transport.sockaddr(peer.address, transport.CONTROL_PORT, peer.interface),
                )
            except OSError as error:  # a downed link raises ENETUNREACH; the timers carry on
                log.debug("BFD send to %s failed: %s", peer.address, error)
        if step.transition is not None:
            old, new, diag = step.transition.old, step.transition.new, step.transition.diag
            log.info("BFD session %s: %s -> %s (%s)", peer.address, old.name, new.name, diag.name)
            try:
                self._callback(str(peer.address), old, new, diag)
            except Exception:
                log.exception("BFD state callback failed for %s", peer.address)

    def _add(
        self,
        address: transport.IPAddress,
        local: transport.IPAddress,
        settings: BFDSettings,
        interface: str | None,
    ) -> None:
        name = str(address)
        if name in self._peers:
            raise BFDError(f"a BFD session to {name} exists already")
        key = (local, interface)
        if key not in self._receivers:
            receiver = transport.open_receiver(local, interface)
            self._receivers[key] = receiver
            self._selector.register(receiver, selectors.EVENT_READ, key)
        sender = transport.open_sender(local, interface, random.Random(self._rng.random()))
        discriminator = self._new_discriminator()
        session = Session(discriminator, settings, time.monotonic(), random.Random(self._rng.random()))
        peer = _Peer(address, local, interface, session, sender, key)
        self._peers[name] = peer
        self._by_discriminator[discriminator] = peer
        log.info("BFD session %s from %s added (discriminator %d)", name, local, discriminator)

    def _update(self, peer: _Peer, settings: BFDSettings) -> None:
        self._handle(peer, peer.session.update(settings, time.monotonic()))

    def _remove(self, peer: _Peer) -> None:
        self._handle(peer, peer.session.admin_down(time.monotonic()))
        del self._peers[str(peer.address)]
        del self._by_discriminator[peer.session.local_discriminator]
        peer.sender.close()
        if not any(p.receiver_key == peer.receiver_key for p in self._peers.values()):
            receiver = self._receivers.pop(peer.receiver_key)
            self._selector.unregister(receiver)
            receiver.close()

    def _admin_down_all(self) -> None:
        now = time.monotonic()
        for peer in self._peers.values():
            self._handle(peer, peer.session.admin_down(now))

    def _peer(self, name: str) -> _Peer:
        peer = self._peers.get(str(ipaddress.ip_address(name)))
        if peer is None:
            raise BFDError(f"no BFD session to {name}")
        return peer

    def _new_discriminator(self) -> int:
        for _attempt in range(_DISCRIMINATOR_DRAWS):  # 2**32 - 1 values, a handful in use
            candidate = self._rng.randint(1, 2**32 - 1)
            if candidate not in self._by_discriminator:
                return candidate
        raise BFDError("no free discriminator")  # pragma: no cover - needs billions of sessions

    def _close(self) -> None:
        for peer in self._peers.values():
            peer.sender.close()
        for receiver in self._receivers.values():
            receiver.close()
        self._selector.close()
        self._wake_read.close()
        self._wake_write.close()
