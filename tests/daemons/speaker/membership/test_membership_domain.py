"""The ring protocol across a whole domain of pure views, on a simulated clock and network.

Each node heart-beats its ring neighbours and the buried members it probes every INTERVAL, ticks,
and sends a digest to the next peer in turn every DIGEST_EVERY (the service does the same with
real sockets and a random peer).
Messages are delivered at once unless the sender is down or the path is cut.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.membership.view import Outgoing, View
from ansible_collections.baremetal.lb.daemons.speaker.membership.wire import Kind, Message

INTERVAL = 0.1
DEAD_AFTER = 0.3
TIMEOUT = 0.3
REFUTE_WINDOW = View("x", 0, dead_after=DEAD_AFTER, suspicion_timeout=TIMEOUT).refute_window  # its default
DIGEST_EVERY = 2.0
STEP = 0.05


class Domain:
    """Views of ``names`` joined at time 0, and the network between them."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = sorted(names)
        self.now = 0.0
        self.down: set[str] = set()
        self.cut: set[tuple[str, str]] = set()  # (from, to) paths that lose every datagram
        self.digests = True
        self.views = {n: self.fresh_view(n, 1000) for n in self.names}
        self._queue: deque[tuple[str, Message]] = deque()
        self._steps = 0
        for name in self.names:
            self.say(name, self.views[name].join(self.now))
        self.deliver()

    def fresh_view(self, name: str, incarnation: int) -> View:
        view = View(name, incarnation, dead_after=DEAD_AFTER, suspicion_timeout=TIMEOUT)
        view.set_peers(self.names)
        return view

    def members(self, name: str) -> set[str]:
        """The live set ``name`` sees, itself included while it takes part."""
        view = self.views[name]
        return set(view.live()) | ({name} if view.active else set())

    def say(self, sender: str, outgoing: list[Outgoing]) -> None:
        view = self.views[sender]
        for statement in outgoing:
            entries = view.digest(statement.alive_only) if statement.kind is Kind.DIGEST else ()
            message = Message(
                statement.kind,
                sender,
                view.incarnation,
                0,
                0,
                statement.subject,
                statement.subject_incarnation,
                entries,
            )
            for target in statement.to or [n for n in self.names if n != sender]:
                self._queue.extend([(target, message)] * statement.copies)

    def deliver(self) -> None:
        while self._queue:
            target, message = self._queue.popleft()
            if target not in self.down and (message.sender, target) not in self.cut:
                self.say(target, self.views[target].receive(message, self.now))

    def step(self) -> None:
        """One STEP of time: heartbeats every INTERVAL, digests every DIGEST_EVERY, ticks always."""
        self._steps += 1
        self.now = self._steps * STEP
        beat = self._steps % round(INTERVAL / STEP) == 0
        digest_round, digest_due = divmod(self._steps, round(DIGEST_EVERY / STEP))
        for index, name in enumerate(self.names):
            view = self.views[name]
            if name in self.down or not view.active:
                continue
            if beat:
                self.say(name, [Outgoing(Kind.HEARTBEAT, view.watched() + view.probed())])
            if digest_due == 0 and self.digests:
                to = self.names[(index + 1 + digest_round % (len(self.names) - 1)) % len(self.names)]
                self.say(name, [Outgoing(Kind.DIGEST, (to,))])
            self.deliver()
            self.say(name, view.tick(self.now))
            self.deliver()

    def run_until(self, done: object, within: float) -> float:
        """Step until ``done()`` holds; the time it took. Fails once more than ``within`` seconds passed."""
        started = self.now
        while not done():  # type: ignore[operator]
            if self.now - started > within:
                pytest.fail(f"not converged within {within}s")
            self.step()
        return self.now - started

    def converged(self, expected: set[str], observers: Iterable[str] | None = None) -> bool:
        return all(self.members(n) == expected for n in (observers or expected))

    def crash(self, *names: str) -> None:
        self.down |= set(names)

    def split(self, group: set[str]) -> None:
        other = set(self.names) - group
        self.cut |= {(a, b) for a in group for b in other} | {(b, a) for a in group for b in other}


NAMES = [f"n{i:02}" for i in range(12)]


def settled(names: list[str] = NAMES) -> Domain:
    """A domain whose members all know each other and heart-beat to each other."""
    domain = Domain(names)
    domain.run_until(lambda: domain.converged(set(names)), within=1.0)
    started = domain.now
    domain.run_until(lambda: domain.now - started >= 2 * INTERVAL, within=1.0)
    return domain


@pytest.mark.parametrize(
    ("size", "crashed", "bound"),
    [
        (2, ["n00"], DEAD_AFTER + 0.1),  # its only watcher decides
        (3, ["n01"], DEAD_AFTER + 0.1),
        (12, ["n05"], DEAD_AFTER + 0.1),  # both neighbours agree
        (12, ["n05", "n09"], DEAD_AFTER + 0.1),  # far apart: each has two live watchers
        # neighbours: one healthy watcher each is enough once they had time to refute
        (12, ["n05", "n06"], DEAD_AFTER + REFUTE_WINDOW + 0.1),
        # Three in a row: n06 has no live watcher, so nobody suspects it and n05 and n07 wait for
        # the timeout; then the ring closes over them and n06's new neighbours need one silence.
        (12, ["n05", "n06", "n07"], 2 * DEAD_AFTER + TIMEOUT + 0.15),
    ],
)
def test_crash_is_known_everywhere_within_the_bound(size: int, crashed: list[str], bound: float) -> None:
    domain = settled(NAMES[:size])
    domain.crash(*crashed)
    survivors = set(NAMES[:size]) - set(crashed)
    domain.run_until(lambda: domain.converged(survivors), within=bound)
    domain.run_until(lambda: domain.now > 5.0, within=6.0)
    assert domain.converged(survivors)  # and the reformed ring holds: no false death


def test_one_cut_off_watcher_does_not_evict_a_healthy_node() -> None:
    domain = settled()
    domain.cut.add(("n05", "n04"))  # n04 (a watcher of n05) no longer hears n05; everyone else does
    others = set(NAMES) - {"n04", "n05"}
    while domain.now < 5.0:
        domain.step()
        assert all("n05" in domain.members(n) for n in others), f"n05 evicted at {domain.now:.2f}s"
        assert all("n04" in domain.members(n) for n in set(NAMES) - {"n04"}), "the watcher evicted"


@pytest.mark.parametrize(
    ("left", "deaf_at_first"),
    [
        (set(NAMES[:6]), ""),
        (set(NAMES[::2]), ""),
        ({"n03"}, ""),
        # Routes come back in some order: for two intervals one node of the left half still
        # hears nobody of the right; the refutations it missed must reach it all the same.
        (set(NAMES[:6]), "n02"),
        (set(NAMES[::2]), "n02"),
    ],
    ids=["halves", "every-other", "one-node", "halves-one-deaf-at-first", "every-other-one-deaf-at-first"],
)
def test_a_split_domain_heals_within_one_detection_time_without_digests(
    left: set[str], deaf_at_first: str
) -> None:
    """Each side buries the other; once healed, the probes of the nearest buried members alone
    (digests off) bring everyone back before a failure would even be detected, nobody is buried
    again, and it stays so."""
    domain = settled()
    right = set(NAMES) - left
    domain.split(left)
    domain.run_until(lambda: domain.converged(left) and domain.converged(right), within=30.0)
    domain.digests = False
    deaths = {name: sum(view.deaths.values()) for name, view in domain.views.items()}
    if deaf_at_first:
        domain.cut = {(other, deaf_at_first) for other in right}
        for _unused in range(round(2 * INTERVAL / STEP)):
            domain.step()
    domain.cut.clear()
    took = domain.run_until(lambda: domain.converged(set(NAMES)), within=DEAD_AFTER)
    print(f"\nsplit healed in {took:.2f}s")
    domain.run_until(lambda: domain.now > 8.0, within=9.0)
    assert domain.converged(set(NAMES))
    assert {name: sum(view.deaths.values()) for name, view in domain.views.items()} == deaths, "buried again"


@pytest.mark.parametrize("how", ["restart", "leave and rejoin"])
def test_a_node_comes_back_under_its_name(how: str) -> None:
    domain = settled()
    if how == "restart":
        domain.crash("n03")
        domain.run_until(lambda: domain.converged(set(NAMES) - {"n03"}), within=1.0)
        domain.down.clear()
        domain.views["n03"] = domain.fresh_view("n03", 2000)  # a new process: a later start time
    else:
        domain.say("n03", domain.views["n03"].leave())
        domain.deliver()
        assert domain.converged(set(NAMES) - {"n03"}, observers=set(NAMES) - {"n03"})  # at once
    domain.say("n03", domain.views["n03"].join(domain.now))
    domain.deliver()
    assert domain.converged(set(NAMES))  # the JOIN and the neighbours' digests did it at once
    domain.run_until(lambda: domain.now > 10.0, within=11.0)
    assert domain.converged(set(NAMES))


def test_a_late_joiner_learns_everyone_from_its_neighbours() -> None:
    domain = Domain(NAMES[:-1])
    domain.run_until(lambda: domain.converged(set(NAMES[:-1])), within=1.0)
    domain.names.append(NAMES[-1])
    for view in domain.views.values():
        view.set_peers(NAMES)
    domain.views[NAMES[-1]] = domain.fresh_view(NAMES[-1], 1000)
    domain.say(NAMES[-1], domain.views[NAMES[-1]].join(domain.now))
    domain.deliver()
    assert domain.converged(set(NAMES))
