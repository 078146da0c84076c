"""Answer ARP requests and neighbour solicitations for the IPs this node announces.

Each answer socket (one per lane and interface, see below) is an AF_PACKET socket created with
protocol 0 (it receives nothing), given its BPF filter, and only then bound, so the process never
wakes for frames the filter rejects.
Every frame that passes is still checked exactly against the owned set: the filter may be
coarser than the set (see :mod:`.bpf`) and frames queued before a filter swap may be stale.

Answers come from lanes: one thread per CPU the process may run on (at most :data:`MAX_LANES`),
each with its own answer socket on every interface, the sockets of an interface joined in one
``PACKET_FANOUT_CPU`` group. The kernel hands a frame to the lane of the CPU that received it,
and that lane's thread is pinned to that CPU, so the answer is given where the request arrived:
woken without an inter-processor interrupt, and never queued behind a CPU that has stopped
running (a virtual CPU the hypervisor took away). Everything else (filter swaps, announcements,
probes, the watch) is done by one control thread, the one calling :meth:`Responder.run`; other
threads hand it work through :meth:`Responder.update` and :meth:`Responder.announce`, which only
queue a command and wake the loop. Nothing here talks to Kubernetes, so a stall elsewhere never
delays an answer. The VIP is never added to an interface.

Each interface has a second socket, the watch (filter :data:`.bpf.WATCH`): it admits only ARP
packets sent from an owned or probed IP and advertisements of one, so it wakes only when some
host speaks for our address. A frame there from any MAC but the interface's own goes to the
``on_foreign`` callback; :mod:`.conflicts` decides what that means. :meth:`Responder.probe`
sends the RFC 5227 probe for an IP that is watched but not yet answered for.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import logging
import os
import queue
import select
import selectors
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPAddress

from . import arp, bpf, ndp
from .ethernet import (
    ETH_P_ALL,
    ETH_P_ARP,
    ETH_P_IPV6,
    FrameError,
    ipv6_multicast_mac,
    mac_to_str,
    solicited_node_address,
)
from .schedule import AnnounceSchedule

_LOG = logging.getLogger(__name__)

_SOL_PACKET = 263
_PACKET_ADD_MEMBERSHIP = 1
_PACKET_DROP_MEMBERSHIP = 2
_PACKET_MR_MULTICAST = 0
_PACKET_OTHERHOST = 3
_PACKET_FANOUT = 18
_FANOUT_CPU = 2  # the kernel picks the group's socket by the receiving CPU: cpu % members
_FANOUT_FLAG_UNIQUEID = 0x2000  # the kernel gives the first socket a group id nobody else uses
_RECV_BATCH = 64  # frames read per wake-up before other work gets a turn
_ETHERTYPE = struct.Struct("!H")
_LANE_STOP_PATIENCE = 2.0  # seconds a lane gets to notice the stop before its sockets close under it
MAX_LANES = 8  # answering threads at most, whatever the number of CPUs


class OnForeign(Protocol):
    """Told of a frame in which ``mac`` (not ours) speaks for ``ip`` on ``interface``."""

    def __call__(self, ip: IPAddress, mac: str, interface: str, probing: bool) -> None:
        """``probing``: the IP was being probed, not answered for, when the frame came."""


def _ignore_foreign(ip: IPAddress, mac: str, interface: str, probing: bool) -> None:
    """The default: nobody listens for conflicts."""


@dataclass
class Counters:
    """Plain counters for a metrics layer; the per-IP ones match MetalLB's ``metallb_layer2_*``."""

    requests_received: Counter[str] = field(default_factory=Counter)
    responses_sent: Counter[str] = field(default_factory=Counter)
    gratuitous_sent: Counter[str] = field(default_factory=Counter)
    frames_received: int = 0  # every frame the kernel filter let through: the wake-up cost
    frames_ignored: int = 0  # let through but not answered (coarse filter, stale, malformed)
    send_errors: int = 0

    @classmethod
    def total(cls, parts: Iterable[Counters]) -> Counters:
        """The sum of ``parts``, each read as one snapshot while its thread goes on counting."""
        whole = cls()
        for part in parts:
            whole.requests_received.update(dict(part.requests_received))  # dict(): one atomic copy
            whole.responses_sent.update(dict(part.responses_sent))
            whole.gratuitous_sent.update(dict(part.gratuitous_sent))
            whole.frames_received += part.frames_received
            whole.frames_ignored += part.frames_ignored
            whole.send_errors += part.send_errors
        return whole


def lane_cpus(allowed: Collection[int], most: int = MAX_LANES) -> list[frozenset[int]]:
    """The CPUs each answering lane is pinned to, lane ``i`` at index ``i``.

    With ``n`` lanes the kernel gives lane ``i`` the frames received on the CPUs ``c`` with
    ``c % n == i``, so that is where its thread runs; a lane that no allowed CPU maps to (it only
    gets frames received on CPUs we may not use) may run on any of them.
    """
    cpus = sorted(allowed)
    lanes = max(1, min(len(cpus), most))
    return [frozenset(c for c in cpus if c % lanes == i) or frozenset(cpus) for i in range(lanes)]


class _Interface:
    """The raw sockets of one interface (answer socket per lane, watch); the IPs answered and probed."""

    def __init__(self, name: str, lanes: int, counters: Counters, on_foreign: OnForeign) -> None:
        self.name = name
        self.owned: frozenset[IPAddress] = frozenset()
        self.probing: frozenset[IPAddress] = frozenset()
        self._counters = counters  # of what the control thread sends: announcements, probes
        self._on_foreign = on_foreign
        self._groups: Counter[bytes] = Counter()
        self.answer = _answer_sockets(name, lanes)
        self.sock = self.answer[0]  # sends announcements and probes, and holds the multicast groups
        try:
            self.watch = _bound_socket(name, bpf.WATCH)
            self.index = socket.if_nametoindex(name)
        except OSError:
            _close(self.answer)
            raise
        self.mac: bytes = self.sock.getsockname()[4]

    def set_owned(self, owned: frozenset[IPAddress], probing: frozenset[IPAddress] = frozenset()) -> None:
        """Answer for ``owned`` and watch ``owned`` and ``probing`` from now on (atomic filter swaps)."""
        if owned == self.owned and probing - owned == self.probing:
            return  # the decider re-applies on every turn; compiling filters is not free
        self.owned = owned
        self.probing = probing - owned
        answer_filter = bpf.compile_filter(owned)
        for sock in self.answer:
            bpf.attach(sock, answer_filter)
        bpf.attach(self.watch, bpf.compile_filter(owned | self.probing, match=bpf.WATCH))
        wanted = Counter(
            ipv6_multicast_mac(solicited_node_address(ip))
            for ip in owned | self.probing  # a DAD answer goes to all-nodes, an NA of a holder too
            if isinstance(ip, ipaddress.IPv6Address)
        )
        for mac in wanted.keys() - self._groups.keys():
            self._membership(_PACKET_ADD_MEMBERSHIP, mac)
        for mac in self._groups.keys() - wanted.keys():
            self._membership(_PACKET_DROP_MEMBERSHIP, mac)
        self._groups = wanted

    def receive(self, sock: socket.socket, counters: Counters) -> None:
        """Read the frames queued on a lane's ``sock`` (bounded); answer those asking for an owned IP.

        The answer goes out of ``sock``; ``counters`` are the lane's.
        """
        for data, pkttype in _queued(sock, self.name):
            counters.frames_received += 1
            if pkttype >= _PACKET_OTHERHOST or not self._answer(data, sock, counters):
                counters.frames_ignored += 1

    def watch_receive(self) -> None:
        """Read the queued watch frames (bounded); report those where another MAC speaks for our IPs."""
        for data, pkttype in _queued(self.watch, self.name):
            try:
                claim = _claimant(data) if pkttype < _PACKET_OTHERHOST else None
            except FrameError:
                continue
            if claim is None:
                continue
            ip, mac = claim
            if mac != self.mac and (ip in self.owned or ip in self.probing):
                self._on_foreign(ip, mac_to_str(mac), self.name, ip not in self.owned)

    def send_probe(self, ip: IPAddress) -> None:
        """One probe for ``ip``: an ARP request from 0.0.0.0, or a DAD solicitation from ``::``."""
        if isinstance(ip, ipaddress.IPv4Address):
            self._send(arp.probe_frame(self.mac, ip), self.sock, self._counters)
        else:
            self._send(ndp.solicitation_frame(self.mac, ndp.UNSPECIFIED, ip), self.sock, self._counters)

    def send_gratuitous(self, ip: IPAddress) -> None:
        """One round of announcements for ``ip``: ARP request and reply, or an unsolicited NA."""
        if isinstance(ip, ipaddress.IPv4Address):
            frames: tuple[bytes, ...] = arp.gratuitous_frames(ip, self.mac)
        else:
            frames = (ndp.unsolicited_advertisement_frame(ip, self.mac),)
        sent = [self._send(f, self.sock, self._counters) for f in frames]  # all go, even after a failure
        if all(sent):
            self._counters.gratuitous_sent[str(ip)] += 1

    def close(self) -> None:
        """Close the sockets (the kernel drops their multicast memberships with them)."""
        _close([*self.answer, self.watch])

    def _answer(self, data: bytes, sock: socket.socket, counters: Counters) -> bool:
        if len(data) < 14:
            return False
        ethertype = _ETHERTYPE.unpack_from(data, 12)[0]
        try:
            if ethertype == ETH_P_ARP:
                _unused, request = arp.parse_frame(data)
                ip: IPAddress = request.target_ip
                if request.op != arp.OP_REQUEST or request.is_gratuitous or ip not in self.owned:
                    return False
                reply = arp.reply_frame(request, self.mac)
            elif ethertype == ETH_P_IPV6:
                packet = ndp.parse_frame(data)
                message = packet.message
                if not isinstance(message, ndp.NeighborSolicitation) or message.target not in self.owned:
                    return False
                ip = message.target
                reply = ndp.reply_frame(packet, message, self.mac)
            else:
                return False
        except FrameError:
            return False
        counters.requests_received[str(ip)] += 1
        if self._send(reply, sock, counters):
            counters.responses_sent[str(ip)] += 1
        return True

    def _send(self, frame: bytes, sock: socket.socket, counters: Counters) -> bool:
        try:
            sock.send(frame)
        except OSError as err:  # link down (ENETDOWN), buffer full (ENOBUFS)
            counters.send_errors += 1
            _LOG.debug("send on %s: %s", self.name, err)
            return False
        return True

    def _membership(self, op: int, mac: bytes) -> None:
        mreq = struct.pack("iHH8s", self.index, _PACKET_MR_MULTICAST, len(mac), mac)
        self.sock.setsockopt(_SOL_PACKET, op, mreq)


def _answer_sockets(name: str, lanes: int) -> list[socket.socket]:
    """One answer socket on ``name`` per lane, all in one CPU fanout group when there are several.

    Where the kernel refuses the group, the interface gets one socket: answered by lane 0 alone.
    """
    socks = [_bound_socket(name, bpf.ANSWER)]
    try:
        if lanes > 1:
            socks[0].setsockopt(_SOL_PACKET, _PACKET_FANOUT, (_FANOUT_CPU | _FANOUT_FLAG_UNIQUEID) << 16)
            group = socks[0].getsockopt(_SOL_PACKET, _PACKET_FANOUT) & 0xFFFF
            for _unused in range(1, lanes):
                socks.append(_bound_socket(name, bpf.ANSWER))
                socks[-1].setsockopt(_SOL_PACKET, _PACKET_FANOUT, group | _FANOUT_CPU << 16)
    except OSError as err:
        _LOG.warning(
            "answering on %s from one thread only: the kernel refused a CPU fanout group of %d sockets (%s)",
            name,
            lanes,
            err.strerror or err,
        )
        _close(socks)
        return [_bound_socket(name, bpf.ANSWER)]
    return socks


def _close(socks: Iterable[socket.socket]) -> None:
    for sock in socks:
        sock.close()


def _bound_socket(name: str, match: bpf.Match) -> socket.socket:
    """A raw socket on ``name`` that receives nothing until its filter admits something."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        sock.setblocking(False)
        bpf.attach(sock, bpf.compile_filter([], match=match))
        sock.bind((name, ETH_P_ALL))
    except OSError:
        sock.close()
        raise
    return sock


def _queued(sock: socket.socket, name: str) -> Iterator[tuple[bytes, int]]:
    """The frames queued on ``sock`` (at most a batch) with their packet type."""
    for _unused in range(_RECV_BATCH):
        try:
            data, address = sock.recvfrom(2048)
        except BlockingIOError:
            return
        except OSError as err:  # e.g. ENETDOWN after the link went away
            _LOG.debug("receive on %s: %s", name, err)
            return
        yield data, address[2]


def _claimant(data: bytes) -> tuple[IPAddress, bytes] | None:
    """``(ip, mac)`` when ``data`` says ``ip`` is at ``mac``: an ARP packet from ``ip``, or an NA of it."""
    ethertype = _ETHERTYPE.unpack_from(data, 12)[0] if len(data) >= 14 else None
    if ethertype == ETH_P_ARP:
        _unused, packet = arp.parse_frame(data)
        return packet.sender_ip, packet.sender_mac
    if ethertype == ETH_P_IPV6:
        nd = ndp.parse_frame(data)
        if isinstance(nd.message, ndp.NeighborAdvertisement):
            return nd.message.target, nd.message.target_mac or nd.eth_src
    return None


class _Lane:
    """One answering thread, pinned to ``cpus``: it reads its own answer socket of every interface.

    The control thread adds and removes interfaces while the lane runs: the epoll set is the
    kernel's (safe across threads) and the readers are a dict replaced whole, never changed in place.
    """

    def __init__(
        self,
        index: int,
        cpus: frozenset[int],
        stop_fd: int,
        stopping: threading.Event,
        on_failure: Callable[[], None],
    ) -> None:
        self.index = index
        self.cpus = cpus
        self.counters = Counters()
        self.error: Exception | None = None  # what ended the lane before the stop, if anything
        self._on_failure = on_failure
        self._stopping = stopping
        self._epoll = select.epoll()
        self._epoll.register(stop_fd, select.EPOLLIN)  # readable from the stop on; never read
        self._readers: dict[int, Callable[[], None]] = {}
        self._thread = threading.Thread(target=self._run, name=f"answers-{index}", daemon=True)

    def add(self, iface: _Interface) -> None:
        """Answer on ``iface`` from now on (if it has a socket for this lane)."""
        if self.index < len(iface.answer):
            sock = iface.answer[self.index]
            self.read(sock, functools.partial(iface.receive, sock, self.counters))

    def remove(self, iface: _Interface) -> None:
        """Stop reading ``iface`` (before its sockets close)."""
        if self.index < len(iface.answer):
            self.forget(iface.answer[self.index])

    def read(self, sock: socket.socket, reader: Callable[[], None]) -> None:
        """Call ``reader`` in the lane's thread whenever ``sock`` is readable."""
        self._readers = {**self._readers, sock.fileno(): reader}
        self._epoll.register(sock.fileno(), select.EPOLLIN)

    def forget(self, sock: socket.socket) -> None:
        """Stop watching ``sock``."""
        fd = sock.fileno()
        self._epoll.unregister(fd)
        self._readers = {k: v for k, v in self._readers.items() if k != fd}

    def start(self) -> None:
        """Start answering."""
        self._thread.start()

    def close(self, patience: float) -> None:
        """Wait up to ``patience`` seconds for a started thread to see the stop; close the epoll set."""
        if self._thread.is_alive():
            self._thread.join(patience)
        if self._thread.is_alive():
            _LOG.warning("answering lane %d runs on after %.1f s; closing its sockets", self.index, patience)
        self._epoll.close()

    def _run(self) -> None:
        try:
            os.sched_setaffinity(0, self.cpus)  # 0: this thread only
        except OSError as err:
            cpus = sorted(self.cpus)
            _LOG.warning("answering lane %d runs unpinned: CPUs %s refused (%s)", self.index, cpus, err)
        try:
            while not self._stopping.is_set():
                for fd, _unused in self._epoll.poll(1.0):
                    reader = self._readers.get(fd)
                    if reader is not None:
                        reader()
        except Exception as err:  # the control thread raises it, traceback and all: never unnoticed
            self.error = err
            self._on_failure()


class Responder:
    """The ARP/NDP responder for a set of interfaces; run it in its own thread or process."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        on_foreign: OnForeign = _ignore_foreign,
        lanes: Sequence[frozenset[int]] | None = None,
    ) -> None:
        """A responder answering from one thread per entry of ``lanes``, pinned to its CPUs.

        Default: :func:`lane_cpus` of the CPUs this process may use.
        """
        self._clock = clock
        self._on_foreign = on_foreign
        self._interfaces: dict[str, _Interface] = {}
        self._control_counters = Counters()
        self._schedule = AnnounceSchedule()
        self._commands: queue.SimpleQueue[tuple[Callable[[], None], Future[None]]] = queue.SimpleQueue()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, self._drain_wakeups)
        self._stopping = threading.Event()
        self._stop_fd = os.eventfd(0, os.EFD_NONBLOCK)
        cpus = lane_cpus(os.sched_getaffinity(0)) if lanes is None else lanes
        self._lanes = [
            _Lane(i, lane, self._stop_fd, self._stopping, self._wake) for i, lane in enumerate(cpus)
        ]

    @property
    def counters(self) -> Counters:
        """The counters so far, summed over the answering lanes and the control thread."""
        return Counters.total([self._control_counters, *(lane.counters for lane in self._lanes)])

    def update(
        self,
        owned: Mapping[str, Collection[IPAddress]],
        probing: Mapping[str, Collection[IPAddress]] | None = None,
    ) -> Future[None]:
        """Answer for ``owned[iface]``, watch it and ``probing[iface]``; close interfaces not named.

        The returned future completes once the loop has applied the change (filters swapped).
        """
        probed = probing or {}
        snapshot = {
            name: (frozenset(owned.get(name, ())), frozenset(probed.get(name, ())))
            for name in owned.keys() | probed.keys()
        }
        return self._submit(lambda: self._apply(snapshot))

    def probe(self, ip: IPAddress) -> Future[None]:
        """Send one RFC 5227 probe for ``ip`` on every interface probing it now."""
        return self._submit(lambda: self._probe(ip))

    def announce(self, ip: IPAddress) -> Future[None]:
        """Send gratuitous ARP/NA for ``ip`` on every interface owning it now, then every 1.1 s for 5 s."""
        return self._submit(lambda: self._schedule.start(ip, self._clock()))

    def quiet(self, ip: IPAddress) -> Future[None]:
        """Send no more announcements for ``ip`` (it is being handed over); answers go on while owned."""
        return self._submit(lambda: self._schedule.cancel(ip))

    def owned(self) -> dict[str, frozenset[IPAddress]]:
        """The addresses answered per interface, as last applied by the loop."""
        return {name: iface.owned for name, iface in self._interfaces.items()}

    def run(self) -> None:
        """Serve until :meth:`stop` is called; then stop the lanes and close every socket."""
        _LOG.info(
            "answering ARP/NDP in %d lane(s), pinned to CPUs %s",
            len(self._lanes),
            " | ".join(",".join(map(str, sorted(lane.cpus))) for lane in self._lanes),
        )
        for lane in self._lanes:
            lane.start()
        try:
            while not self._stopping.is_set():
                self.poll(1.0)
        finally:
            self.close()

    def stop(self) -> None:
        """Ask :meth:`run` to return (callable from any thread or a signal handler)."""
        self._stopping.set()
        self._wake()
        with contextlib.suppress(OSError):  # closed already
            os.eventfd_write(self._stop_fd, 1)

    def poll(self, timeout: float) -> None:
        """Apply queued commands, send due announcements, read the watch within ``timeout``.

        Raises what ended an answering lane, if one has ended.
        """
        for lane in self._lanes:
            if lane.error is not None:
                raise RuntimeError(f"answering lane {lane.index} has ended") from lane.error
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
        """Stop the lanes, then close every socket; the responder cannot be used afterwards."""
        self.stop()
        for lane in self._lanes:
            lane.close(_LANE_STOP_PATIENCE)
        for iface in self._interfaces.values():
            iface.close()
        self._interfaces.clear()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
        os.close(self._stop_fd)

    def _apply(self, wanted: dict[str, tuple[frozenset[IPAddress], frozenset[IPAddress]]]) -> None:
        for name in self._interfaces.keys() - wanted.keys():
            iface = self._interfaces.pop(name)
            for lane in self._lanes:
                lane.remove(iface)
            self._selector.unregister(iface.watch)
            iface.close()
        for name, (owned, probing) in wanted.items():
            known = self._interfaces.get(name) or self._open(name)
            if known is not None:
                known.set_owned(owned, probing)

    def _probe(self, ip: IPAddress) -> None:
        for iface in self._interfaces.values():
            if ip in iface.probing:
                iface.send_probe(ip)

    def _open(self, name: str) -> _Interface | None:
        try:
            iface = _Interface(name, len(self._lanes), self._control_counters, self._on_foreign)
        except OSError as err:
            _LOG.warning("cannot answer on interface %s: %s", name, err)
            return None
        self._interfaces[name] = iface
        for lane in self._lanes:
            lane.add(iface)
        self._selector.register(iface.watch, selectors.EVENT_READ, iface.watch_receive)
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
