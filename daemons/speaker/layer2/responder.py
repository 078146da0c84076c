"""Answer ARP requests and neighbour solicitations for the IPs this node announces.

One AF_PACKET socket per interface, created with protocol 0 (it receives nothing), given its
BPF filter, and only then bound, so the process never wakes for frames the filter rejects.
Every frame that passes is still checked exactly against the owned set: the filter may be
coarser than the set (see :mod:`.bpf`) and frames queued before a filter swap may be stale.

The responder does all socket work in one thread, the one calling :meth:`Responder.run` (or
:meth:`Responder.poll`); other threads hand it work through :meth:`Responder.update` and
:meth:`Responder.announce`, which only queue a command and wake the loop. Nothing here talks
to Kubernetes, so a stall elsewhere never delays an answer. The VIP is never added to an
interface.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import queue
import selectors
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPAddress

from . import arp, bpf, ndp
from .ethernet import ETH_P_ALL, ETH_P_ARP, ETH_P_IPV6, FrameError, ipv6_multicast_mac, solicited_node_address
from .schedule import AnnounceSchedule

_LOG = logging.getLogger(__name__)

_SOL_PACKET = 263
_PACKET_ADD_MEMBERSHIP = 1
_PACKET_DROP_MEMBERSHIP = 2
_PACKET_MR_MULTICAST = 0
_PACKET_OTHERHOST = 3
_RECV_BATCH = 64  # frames read per wake-up before other work gets a turn
_ETHERTYPE = struct.Struct("!H")


@dataclass
class Counters:
    """Plain counters for a metrics layer; the per-IP ones match MetalLB's ``metallb_layer2_*``."""

    requests_received: Counter[str] = field(default_factory=Counter)
    responses_sent: Counter[str] = field(default_factory=Counter)
    gratuitous_sent: Counter[str] = field(default_factory=Counter)
    frames_received: int = 0  # every frame the kernel filter let through: the wake-up cost
    frames_ignored: int = 0  # let through but not answered (coarse filter, stale, malformed)
    send_errors: int = 0


class _Interface:
    """The raw socket of one interface and the addresses answered on it."""

    def __init__(self, name: str, counters: Counters) -> None:
        self.name = name
        self.owned: frozenset[IPAddress] = frozenset()
        self._counters = counters
        self._groups: Counter[bytes] = Counter()
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            self.sock.setblocking(False)
            bpf.attach(self.sock, bpf.compile_filter([]))
            self.sock.bind((name, ETH_P_ALL))
            self.index = socket.if_nametoindex(name)
        except OSError:
            self.sock.close()
            raise
        self.mac: bytes = self.sock.getsockname()[4]

    def set_owned(self, owned: frozenset[IPAddress]) -> None:
        """Answer for ``owned`` from now on: new filter (atomic swap), multicast groups joined."""
        self.owned = owned
        bpf.attach(self.sock, bpf.compile_filter(owned))
        wanted = Counter(
            ipv6_multicast_mac(solicited_node_address(ip))
            for ip in owned
            if isinstance(ip, ipaddress.IPv6Address)
        )
        for mac in wanted.keys() - self._groups.keys():
            self._membership(_PACKET_ADD_MEMBERSHIP, mac)
        for mac in self._groups.keys() - wanted.keys():
            self._membership(_PACKET_DROP_MEMBERSHIP, mac)
        self._groups = wanted

    def receive(self) -> None:
        """Read the queued frames (bounded) and answer those asking for an owned IP."""
        for _unused in range(_RECV_BATCH):
            try:
                data, address = self.sock.recvfrom(2048)
            except BlockingIOError:
                return
            except OSError as err:  # e.g. ENETDOWN after the link went away
                _LOG.debug("receive on %s: %s", self.name, err)
                return
            self._counters.frames_received += 1
            if address[2] >= _PACKET_OTHERHOST or not self._answer(data):
                self._counters.frames_ignored += 1

    def send_gratuitous(self, ip: IPAddress) -> None:
        """One round of announcements for ``ip``: ARP request and reply, or an unsolicited NA."""
        if isinstance(ip, ipaddress.IPv4Address):
            frames: tuple[bytes, ...] = arp.gratuitous_frames(ip, self.mac)
        else:
            frames = (ndp.unsolicited_advertisement_frame(ip, self.mac),)
        sent = [self._send(f) for f in frames]  # every frame goes out, even after a failure
        if all(sent):
            self._counters.gratuitous_sent[str(ip)] += 1

    def close(self) -> None:
        """Close the socket (the kernel drops its multicast memberships with it)."""
        self.sock.close()

    def _answer(self, data: bytes) -> bool:
        if len(data) < 14:
            return False
        ethertype = _ETHERTYPE.unpack_from(data, 12)[0]
        try:
            if ethertype == ETH_P_ARP:
                return self._answer_arp(data)
            if ethertype == ETH_P_IPV6:
                return self._answer_ns(data)
        except FrameError:
            return False
        return False

    def _answer_arp(self, data: bytes) -> bool:
        _unused, request = arp.parse_frame(data)
        ip = request.target_ip
        if request.op != arp.OP_REQUEST or request.is_gratuitous or ip not in self.owned:
            return False
        self._counters.requests_received[str(ip)] += 1
        if self._send(arp.reply_frame(request, self.mac)):
            self._counters.responses_sent[str(ip)] += 1
        return True

    def _answer_ns(self, data: bytes) -> bool:
        packet = ndp.parse_frame(data)
        message = packet.message
        if not isinstance(message, ndp.NeighborSolicitation) or message.target not in self.owned:
            return False
        ip = message.target
        self._counters.requests_received[str(ip)] += 1
        if self._send(ndp.reply_frame(packet, message, self.mac)):
            self._counters.responses_sent[str(ip)] += 1
        return True

    def _send(self, frame: bytes) -> bool:
        try:
            self.sock.send(frame)
        except OSError as err:  # link down (ENETDOWN), buffer full (ENOBUFS)
            self._counters.send_errors += 1
            _LOG.debug("send on %s: %s", self.name, err)
            return False
        return True

    def _membership(self, op: int, mac: bytes) -> None:
        mreq = struct.pack("iHH8s", self.index, _PACKET_MR_MULTICAST, len(mac), mac)
        self.sock.setsockopt(_SOL_PACKET, op, mreq)


class Responder:
    """The ARP/NDP responder for a set of interfaces; run it in its own thread or process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.counters = Counters()
        self._clock = clock
        self._interfaces: dict[str, _Interface] = {}
        self._schedule = AnnounceSchedule()
        self._commands: queue.SimpleQueue[tuple[Callable[[], None], Future[None]]] = queue.SimpleQueue()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, self._drain_wakeups)
        self._stopping = threading.Event()

    def update(self, owned: Mapping[str, Collection[IPAddress]]) -> Future[None]:
        """Answer for ``owned[interface]`` on each interface named; close interfaces not named.

        The returned future completes once the loop has applied the change (filters swapped).
        """
        snapshot = {name: frozenset(ips) for name, ips in owned.items()}
        return self._submit(lambda: self._apply(snapshot))

    def announce(self, ip: IPAddress) -> Future[None]:
        """Send gratuitous ARP/NA for ``ip`` on every interface owning it now, then every 1.1 s for 5 s."""
        return self._submit(lambda: self._schedule.start(ip, self._clock()))

    def owned(self) -> dict[str, frozenset[IPAddress]]:
        """The addresses answered per interface, as last applied by the loop."""
        return {name: iface.owned for name, iface in self._interfaces.items()}

    def run(self) -> None:
        """Serve until :meth:`stop` is called; then close every socket."""
        try:
            while not self._stopping.is_set():
                self.poll(1.0)
        finally:
            self.close()

    def stop(self) -> None:
        """Ask :meth:`run` to return (callable from any thread or a signal handler)."""
        self._stopping.set()
        self._wake()

    def poll(self, timeout: float) -> None:
        """Apply queued commands, send due announcements, answer what arrives within ``timeout``."""
        self._run_commands()
        now = self._clock()
        for ip in self._schedule.due(now):
            owners = [iface for iface in self._interfaces.values() if ip in iface.owned]
            for iface in owners:
                iface.send_gratuitous(ip)
            if not owners:
                self._schedule.cancel(ip)  # no longer ours anywhere
        due = self._schedule.next_due()
        wait = timeout if due is None else max(0.0, min(timeout, due - now))
        for key, _unused in self._selector.select(wait):
            key.data()

    def close(self) -> None:
        """Close every socket; the responder cannot be used afterwards."""
        for iface in self._interfaces.values():
            iface.close()
        self._interfaces.clear()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def _apply(self, owned: dict[str, frozenset[IPAddress]]) -> None:
        for name in self._interfaces.keys() - owned.keys():
            iface = self._interfaces.pop(name)
            self._selector.unregister(iface.sock)
            iface.close()
        for name, ips in owned.items():
            known = self._interfaces.get(name) or self._open(name)
            if known is not None:
                known.set_owned(ips)

    def _open(self, name: str) -> _Interface | None:
        try:
            iface = _Interface(name, self.counters)
        except OSError as err:
            _LOG.warning("cannot answer on interface %s: %s", name, err)
            return None
        self._interfaces[name] = iface
        self._selector.register(iface.sock, selectors.EVENT_READ, iface.receive)
        return iface

    def _submit(self, command: Callable[[], None]) -> Future[None]:
        done: Future[None] = Future()
        self._commands.put((command, done))
        self._wake()
        return done

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # already awake (buffer full) or closed
            self._wake_w.send(b"\x00")

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _run_commands(self) -> None:
        while True:
            try:
                command, done = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                command()
            except Exception as err:  # reported to the caller through its future
                done.set_exception(err)
            else:
                done.set_result(None)
