"""Who is alive, as one node sees it: the ring protocol's state machine. Pure (no sockets, no clock).

Each member has an incarnation and a status: alive, suspect (still a member) or dead (left
counts as dead, and a dead record stays as a tombstone so that late words of that life change
nothing). Statements about a member are ordered by incarnation: a higher incarnation wins; at
the same incarnation dead beats suspect beats alive. Only the member itself raises its
incarnation (a start, a rejoin after its link came back, or a refutation).

A node watches its ring neighbours (:mod:`.ring`): one it has not heard from for ``dead_after``
it suspects, telling everyone at once. A suspect is dead when a second watcher suspects it too
(its only watcher, in a domain of two), or, once it had ``refute_window`` to refute, when every
watcher it had that is still healthy did (two neighbours that died together), or when
``suspicion_timeout`` passes without the accused refuting with a higher incarnation. A watcher
that still hears the accused forwards the suspicion to it, so one watcher cut off from a healthy
node cannot evict it.

A node also heart-beats the nearest buried member on each side of it on the ring of every peer
(:meth:`View.probed`), so that a member buried by a split that healed, or evicted falsely, hears
from the far side within an interval: it is told it was buried and refutes to everyone.

Inputs are authenticated, admitted messages (:class:`~.wire.Message`) and ticks; outputs are
:class:`Outgoing` statements for the service to send.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from .ring import neighbours, ring_of
from .wire import DigestEntry, Kind, Message

JOIN_COPIES = 2  # one loss must not hide a join, a refutation or a planned leave
LEAVE_COPIES = 2
# A peer silent to this node for longer than this (seconds, and at least the suspicion timeout)
# was cut off, not slow: for as long again after it is heard, the verdicts it refutes and the
# accusations it brings are a split healing, not mistakes of judgement (see ``mistakes``).
SPLIT_SILENCE = 1.0
# After a buried member came back, this node tells its ring neighbours whom it has alive this
# many times, a ``tell_every`` apart (see ``View._heal_news``).
HEAL_NEWS_COPIES = 3
# Seconds a healthy node's process may stand still: the hypervisor took 100 ms from a vCPU of the
# lab's 2-vCPU VM, and the speakers on it sent nothing for up to 124 ms. A suspect no second
# watcher can confirm (its other watchers are suspect too, as when both stood still at once)
# gets at least this long to refute before it is buried (see ``View.refute_window``).
HEALTHY_STALL = 0.15


class Status(Enum):
    """A member's status in this view."""

    ALIVE = "alive"
    SUSPECT = "suspect"
    DEAD = "dead"


@dataclass(frozen=True)
class Outgoing:
    """A statement to send: to the named members, or to every configured peer when ``to`` is empty."""

    kind: Kind
    to: tuple[str, ...] = ()
    subject: str = ""
    subject_incarnation: int = 0
    copies: int = 1
    alive_only: bool = False  # a DIGEST of the members alive here only (see View._heard)


@dataclass
class Record:
    """What this node knows of one member."""

    incarnation: int
    status: Status
    heard_at: float  # last direct word from it, or when watching it began (a grace period)
    accusers: set[str] = field(default_factory=set)
    watchers: tuple[str, ...] = ()  # its watchers when the suspicion began
    suspected_at: float = 0.0
    told_dead_at: float = float("-inf")  # when we last told it that it is dead here
    left: bool = False  # buried because it said LEAVE (it JOINs when it comes back: not probed)
    buried_because: str = ""  # while dead: how it was decided (a reason of View.events)


class View:
    """The membership of one node: its own incarnation and its records of the others."""

    def __init__(
        self,
        me: str,
        incarnation: int,
        *,
        dead_after: float,
        suspicion_timeout: float,
        refute_window: float | None = None,
        per_side: int = 1,
    ) -> None:
        if per_side < 1:
            raise ValueError("a node needs at least one watcher on each side")
        self.me = me
        self.incarnation = incarnation
        self.active = False  # taking part: between join/rejoin and leave
        self.dead_after = dead_after
        self.slack = 0.0  # seconds added to dead_after while this node's own loop runs late
        self.suspicion_timeout = suspicion_timeout
        # Half a dead_after, but never less than a healthy node's stall (see HEALTHY_STALL).
        self.refute_window = max(dead_after / 2, HEALTHY_STALL) if refute_window is None else refute_window
        # A member buried here that talks on is told so at most this often: about one heartbeat
        # interval (a third of dead_after in every profile), so a tell lost while a split heals
        # (routes come back one way first) is repeated by the next probe, not a dead_after later.
        self.tell_every = dead_after / 3
        self.per_side = per_side
        self._peers: frozenset[str] = frozenset()
        self._records: dict[str, Record] = {}
        self._ring: tuple[str, ...] | None = None  # caches of what the records imply, see _changed
        self._live: frozenset[str] | None = None
        self._watched: tuple[str, ...] | None = None
        self._probed: tuple[str, ...] | None = None
        self._every_peer: tuple[str, ...] = (me,)  # the ring of every configured peer and this node
        self._suspects: set[str] = set()
        self._undecided: set[str] = set()  # suspects with a new accuser since they were last looked at
        self._statuses_changed = False  # any member's status changed: every suspect may be decided
        self._watching: frozenset[str] = frozenset()
        self.version = 0  # counts changes of the live set (cheap change detection for the service)
        # what happened, for metrics and benches: accused (by us), refuted (we were accused),
        # and how deaths were decided: confirmed, unopposed, timed out, left, gossiped (from a digest)
        self.events: Counter[str] = Counter()
        self.deaths: Counter[str] = Counter()  # times each member was declared dead (not when it left)
        self._accused: dict[str, int] = {}  # members this node accused, and at which incarnation
        # Wrong accusations and refutations that show this node (or its accusers) judging too fast,
        # for the service's local health: those caused by a peer back from a split do not count.
        self.mistakes = 0
        self._split_silence = max(SPLIT_SILENCE, suspicion_timeout)
        self._heard_any: dict[str, float] = {}  # when each sender's last admitted message came
        self._healing_until: dict[str, float] = {}  # senders back from a split, until when
        self._heal_news_due = 0  # heal news still to send (a member came back from a split)
        self._heal_told_at = float("-inf")

    # -- queries -------------------------------------------------------------------------------

    def status(self, name: str) -> Status | None:
        """The status of ``name`` here, None when nothing is known of it."""
        record = self._records.get(name)
        return None if record is None else record.status

    def record(self, name: str) -> Record | None:
        """The record of ``name`` (for inspection), None when nothing is known of it."""
        return self._records.get(name)

    def buried_because(self, name: str) -> str:
        """How ``name``'s death was decided while it is dead here ("": alive, or not a configured peer)."""
        record = self._records.get(name)
        return record.buried_because if record is not None and record.status is Status.DEAD else ""

    def live(self) -> frozenset[str]:
        """The other members alive or suspect (a suspect is a member until it is dead)."""
        if self._live is None:
            self._live = frozenset(n for n, r in self._records.items() if r.status is not Status.DEAD)
        return self._live

    def watched(self) -> tuple[str, ...]:
        """The ring neighbours this node heart-beats to and expects heartbeats from."""
        if self._watched is None:
            self._watched = neighbours(self._current_ring(), self.me, self.per_side)
        return self._watched

    def probed(self) -> tuple[str, ...]:
        """The buried members this node also heart-beats to, so that a healed split shows at once.

        On each side of this node on the ring of every configured peer: the nearest member
        buried as dead (not one that left: it JOINs when it is back), when no live member is
        nearer on that side. One that is alive again hears from us within an interval; we
        buried it, so we tell it, it refutes to everyone and everyone has it back. A domain
        without dead members sends nothing more; each dead one costs its nearest live members
        on either side one datagram an interval.
        """
        if self._probed is None:
            ring, found = self._every_peer, []
            at = ring.index(self.me)
            for step in (1, -1):
                for distance in range(1, len(ring)):
                    name = ring[(at + step * distance) % len(ring)]
                    record = self._records.get(name)
                    if record is None or record.left:
                        continue  # never heard, or back by itself: look further
                    if record.status is Status.DEAD:
                        found.append(name)
                    break
            self._probed = tuple(dict.fromkeys(found))
        return self._probed

    def digest(self, alive_only: bool = False) -> tuple[DigestEntry, ...]:
        """Everything this view knows, for a DIGEST; with ``alive_only``, the members alive here only.

        Suspects are stated alive: suspicion is not gossip.
        """
        entries = [DigestEntry(self.me, self.incarnation, True)] if self.active else []
        entries += (
            DigestEntry(n, r.incarnation, r.status is not Status.DEAD)
            for n, r in sorted(self._records.items())
            if not alive_only or r.status is not Status.DEAD
        )
        return tuple(entries)

    def next_deadline(self) -> float | None:
        """When :meth:`tick` may next have something to do (a silence or a suspicion running out)."""
        if not self.active:
            return None
        times = [
            self._records[n].heard_at + self.dead_after + self.slack
            for n in self.watched()
            if self.me not in self._records[n].accusers
        ]
        times += (self._records[n].suspected_at + self.refute_window for n in self._suspects)
        if self._heal_news_due:
            times.append(self._heal_told_at + self.tell_every)
        times += (self._records[n].suspected_at + self.suspicion_timeout for n in self._suspects)
        return min(times, default=None)

    # -- inputs --------------------------------------------------------------------------------

    def set_peers(self, names: Iterable[str]) -> None:
        """Consider exactly ``names`` (this node excluded) from now on; records of others are dropped."""
        self._peers = frozenset(names) - {self.me}
        self._every_peer = ring_of(self._peers | {self.me})
        for name in self._records.keys() - self._peers:
            del self._records[name]
            self._suspects.discard(name)
            self._accused.pop(name, None)
        for name in self._heard_any.keys() - self._peers:
            del self._heard_any[name]
            self._healing_until.pop(name, None)
        self._changed()

    def join(self, now: float) -> list[Outgoing]:
        """Take part (again): a higher incarnation than any earlier word of ours, told to everyone.

        Every record gets a fresh grace period: while this node was out it heard nothing.
        """
        self.incarnation += 1
        self.active = True
        for record in self._records.values():
            record.heard_at = max(record.heard_at, now)
        return [Outgoing(Kind.JOIN, copies=JOIN_COPIES)]

    def leave(self) -> list[Outgoing]:
        """Stop taking part: LEAVE to everyone."""
        if not self.active:
            return []
        self.active = False
        return [Outgoing(Kind.LEAVE, copies=LEAVE_COPIES)]

    def receive(self, message: Message, now: float) -> list[Outgoing]:
        """Account for an admitted message; returns what to send in reply."""
        healing = self._back_from_split(message.sender, now)
        mistakes_before = self.events["wrongly accused"] + self.events["refuted"]
        out = self._account(message, now)
        if not healing:
            self.mistakes += self.events["wrongly accused"] + self.events["refuted"] - mistakes_before
        return out

    def _back_from_split(self, sender: str, now: float) -> bool:
        """Whether ``sender`` was silent to us for a split's length, within as long again of its return."""
        last = self._heard_any.get(sender)
        self._heard_any[sender] = now
        if last is not None and now - last > self._split_silence:
            self._healing_until[sender] = now + self._split_silence
        return now < self._healing_until.get(sender, float("-inf"))

    def _account(self, message: Message, now: float) -> list[Outgoing]:
        out: list[Outgoing] = []
        news = False
        if message.kind is Kind.ALIVE and message.sender in self._accused:
            del self._accused[message.sender]
            self.events["wrongly accused"] += 1  # it refutes: it was alive when we accused it
        elif message.kind in (Kind.JOIN, Kind.LEAVE):
            self._accused.pop(message.sender, None)  # a new life, or a planned end: no verdict on us
        if message.kind is Kind.LEAVE:
            self._bury(message.sender, message.incarnation, "left")
        else:
            news = self._heard(
                message.sender, message.incarnation, now, out, joined=message.kind is Kind.JOIN
            )
        if message.kind is Kind.JOIN and news and message.sender in self.watched():
            out.append(Outgoing(Kind.DIGEST, (message.sender,)))  # what it needs to find its place
        elif message.kind is Kind.SUSPECT:
            self._suspected(message.sender, message.subject, message.subject_incarnation, now, out)
        elif message.kind is Kind.DIGEST:
            for entry in message.entries:
                self._merge(entry, now, out)
        self._decide_suspects(now)  # a new accuser, or a watcher that died, may settle a suspicion
        return out

    def tick(self, now: float) -> list[Outgoing]:
        """Suspect silent neighbours (telling everyone) and bury suspects whose time ran out."""
        out: list[Outgoing] = []
        if not self.active:
            return out
        watched = self.watched()
        for name in watched:
            record = self._records[name]
            if name not in self._watching:  # a new neighbour: from now on it heart-beats to us
                record.heard_at = max(record.heard_at, now)
            if self.me not in record.accusers and now - record.heard_at > self.dead_after + self.slack:
                out.append(Outgoing(Kind.SUSPECT, (), name, record.incarnation))
                self.events["accused"] += 1
                self._accused[name] = record.incarnation
                self._suspected(self.me, name, record.incarnation, now, out)
        self._watching = frozenset(watched)
        self._decide_suspects(now, everyone=True)  # a refute window may have run out
        for name in list(self._suspects):
            record = self._records[name]
            if now - record.suspected_at > self.suspicion_timeout:
                self._bury(name, record.incarnation, "timed out")
        out += self._heal_news(now)
        return out

    def _heal_news(self, now: float) -> list[Outgoing]:
        """To our ring neighbours, the members alive here, after a buried member came back.

        :data:`HEAL_NEWS_COPIES` times, ``tell_every`` apart: while routes come back one way
        first, news and the tells it causes get lost. A neighbour that learns from it of a
        member back passes it on in turn; one that learns nothing new adds nothing.
        """
        if not self._heal_news_due or now - self._heal_told_at < self.tell_every or not self.watched():
            return []
        self._heal_news_due -= 1
        self._heal_told_at = now
        return [Outgoing(Kind.DIGEST, self.watched(), alive_only=True)]

    # -- transitions ---------------------------------------------------------------------------

    def _current_ring(self) -> tuple[str, ...]:
        if self._ring is None:
            self._ring = ring_of(self.live() | {self.me})
        return self._ring

    def _changed(self) -> None:
        """The live set may have changed: drop what was derived from it."""
        self._ring = self._live = self._watched = self._probed = None
        self._statuses_changed = True
        self.version += 1

    def _alive(self, name: str, incarnation: int, now: float, *, joined: bool = False) -> None:
        """A fresh record: ``name`` alive at ``incarnation``, heard (or in grace) from ``now``.

        One we buried (not one that left) is back: our ring neighbours hear of it at the next
        tick (:meth:`_heal_news`), in case its refutation did not reach them (when a split heals,
        routes often come back one way first). A JOIN reaches everyone itself.
        """
        old = self._records.get(name)
        if not joined and old is not None and old.status is Status.DEAD and not old.left:
            self._heal_news_due = HEAL_NEWS_COPIES
        self._records[name] = Record(incarnation, Status.ALIVE, now)
        self._suspects.discard(name)
        self._changed()

    def _refute(self, accused_incarnation: int) -> Outgoing:
        """Outlive an accusation of ``accused_incarnation``: a higher incarnation, told to everyone."""
        self.incarnation = max(self.incarnation, accused_incarnation) + 1
        self.events["refuted"] += 1
        return Outgoing(Kind.ALIVE, copies=JOIN_COPIES)

    def _heard(
        self, sender: str, incarnation: int, now: float, out: list[Outgoing], *, joined: bool = False
    ) -> bool:
        """Any admitted word from ``sender`` says it is alive at ``incarnation``; True for a new life."""
        record = self._records.get(sender)
        if record is None or incarnation > record.incarnation:
            self._alive(sender, incarnation, now, joined=joined)
            return True
        if record.status is not Status.DEAD:
            record.heard_at = now
        elif self._tell_buried(sender, record, now, out) and not record.left:
            # It talks on in a life we buried (a healed split, a false eviction): it refutes; and
            # it learns whom we have alive, so that those it buried are told and refute too.
            out.append(Outgoing(Kind.DIGEST, (sender,), alive_only=True))
        return False

    def _tell_buried(self, name: str, record: Record, now: float, out: list[Outgoing]) -> bool:
        """Tell ``name``, buried here but alive in that life, so it refutes; True when told.

        At most once per ``tell_every``.
        """
        if now - record.told_dead_at < self.tell_every:
            return False
        record.told_dead_at = now
        out.append(Outgoing(Kind.SUSPECT, (name,), name, record.incarnation))
        return True

    def _suspected(
        self, accuser: str, subject: str, incarnation: int, now: float, out: list[Outgoing]
    ) -> None:
        if subject == self.me:
            if self.active and incarnation >= self.incarnation:
                out.append(self._refute(incarnation))
            return
        record = self._records.get(subject)
        if record is None or record.status is Status.DEAD or incarnation < record.incarnation:
            return
        if incarnation > record.incarnation or record.status is Status.ALIVE:
            record.incarnation = incarnation
            record.status = Status.SUSPECT
            record.suspected_at = now
            record.accusers = set()
            record.watchers = neighbours(self._current_ring(), subject, self.per_side)
            self._suspects.add(subject)
            self._statuses_changed = True  # it no longer counts as a healthy watcher of others
        if accuser in record.accusers:
            return
        record.accusers.add(accuser)
        self._undecided.add(subject)
        still_heard = now - record.heard_at <= self.dead_after
        if accuser != self.me and subject in self.watched() and still_heard:
            out.append(Outgoing(Kind.SUSPECT, (subject,), subject, incarnation))  # let it refute

    def _verdict(self, record: Record, now: float) -> str:
        """How the suspect's death is decided now: "confirmed", "unopposed", or "" (not yet).

        Confirmed: two of its watchers agree (its only one, in a domain of two). Unopposed: every
        healthy watcher did, once the accused had ``refute_window`` to refute.

        A watcher that is itself suspect or dead cannot confirm: when two ring neighbours die
        together each has one healthy watcher left, and that one decides. The window keeps two
        healthy neighbours, each wrongly accused by its other watcher, from burying each other.
        """
        if len(record.accusers) >= max(1, min(2, len(record.watchers))):
            return "confirmed"
        if now - record.suspected_at < self.refute_window:
            return ""
        healthy = [w for w in record.watchers if w == self.me or self.status(w) is Status.ALIVE]
        return "unopposed" if len(record.accusers) >= max(1, min(2, len(healthy))) else ""

    def _decide_suspects(self, now: float, *, everyone: bool = False) -> None:
        """Bury every suspect now confirmed; one burial may confirm another, so repeat until none.

        Only suspects that may have changed are looked at: those with a new accuser, or all of
        them when a member's status changed (a watcher that died or became suspect) or when
        ``everyone`` (time passed: a refute window may have run out). A domain in a storm of
        suspicions must not pay for every suspect on every datagram.
        """
        candidates = set(self._suspects) if everyone or self._statuses_changed else self._undecided
        self._undecided = set()
        self._statuses_changed = False
        while candidates:
            verdicts = {n: self._verdict(self._records[n], now) for n in candidates if n in self._suspects}
            decided = {name: verdict for name, verdict in verdicts.items() if verdict}
            if not decided:
                return
            for name, verdict in decided.items():
                self._bury(name, self._records[name].incarnation, verdict)
            candidates = set(self._suspects) if self._statuses_changed else set()
            self._statuses_changed = False

    def _bury(self, name: str, incarnation: int, reason: str) -> None:
        if name not in self._peers:
            return
        record = self._records.get(name)
        if record is None:
            self._records[name] = Record(
                incarnation, Status.DEAD, float("-inf"), left=reason == "left", buried_because=reason
            )
            self._probed = None  # a tombstone only, but it may be the nearest to probe
            return
        was_live = record.status is not Status.DEAD
        if incarnation < record.incarnation or (incarnation == record.incarnation and not was_live):
            return
        record.incarnation = incarnation
        record.status = Status.DEAD
        record.left = reason == "left"
        record.buried_because = reason
        self._probed = None
        record.accusers = set()
        self._suspects.discard(name)
        if was_live:
            self.events[reason] += 1
            if reason != "left":
                self.deaths[name] += 1
            self._changed()

    def _merge(self, entry: DigestEntry, now: float, out: list[Outgoing]) -> None:
        if entry.name == self.me:
            if not entry.alive and self.active and entry.incarnation >= self.incarnation:
                out.append(self._refute(entry.incarnation))  # someone buried us
            return
        if entry.name not in self._peers:
            return
        record = self._records.get(entry.name)
        if not entry.alive:
            self._bury(entry.name, entry.incarnation, "gossiped")
        elif record is None or entry.incarnation > record.incarnation:
            self._alive(entry.name, entry.incarnation, now)
        elif record.status is Status.DEAD and not record.left and entry.incarnation == record.incarnation:
            self._tell_buried(entry.name, record, now, out)  # alive there: a healed split
