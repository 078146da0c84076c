"""The ring protocol's state machine, one view at a time: each row an input and the promise it keeps."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.membership.service import PROFILES, SUSPICION_FACTOR
from ansible_collections.baremetal.lb.daemons.speaker.membership.view import (
    HEALTHY_STALL,
    Outgoing,
    Status,
    View,
)
from ansible_collections.baremetal.lb.daemons.speaker.membership.wire import DigestEntry, Kind, Message

DEAD_AFTER = 0.3
TIMEOUT = 0.3
REFUTE_WINDOW = View("x", 0, dead_after=DEAD_AFTER, suspicion_timeout=TIMEOUT).refute_window  # its default
T0 = 100.0


def view(me: str = "c", peers: str = "abcdex", known: str = "abde") -> View:
    """``me`` active at incarnation 11, every name in ``known`` heard alive at incarnation 1 at T0
    (and a first tick then, as the service ticks after every receive)."""
    v = View(me, 10, dead_after=DEAD_AFTER, suspicion_timeout=TIMEOUT)
    v.set_peers(peers)
    v.join(T0)
    for name in known:
        v.receive(Message(Kind.HEARTBEAT, name, 1, 0, 0), T0)
    v.tick(T0)
    return v


def heartbeat(sender: str, incarnation: int = 1) -> Message:
    return Message(Kind.HEARTBEAT, sender, incarnation, 0, 0)


def suspect(accuser: str, subject: str, incarnation: int = 1) -> Message:
    return Message(Kind.SUSPECT, accuser, 1, 0, 0, subject=subject, subject_incarnation=incarnation)


def join(sender: str, incarnation: int) -> Message:
    return Message(Kind.JOIN, sender, incarnation, 0, 0)


def alive(sender: str, incarnation: int) -> Message:
    return Message(Kind.ALIVE, sender, incarnation, 0, 0)


def leave(sender: str, incarnation: int = 1) -> Message:
    return Message(Kind.LEAVE, sender, incarnation, 0, 0)


def digest(sender: str, *entries: tuple[str, int, bool]) -> Message:
    return Message(Kind.DIGEST, sender, 1, 0, 0, entries=tuple(DigestEntry(*e) for e in entries))


@dataclass
class Case:
    """Messages fed to a fresh :func:`view` of ``c`` (ring a b c d e: c watches b and d), then a tick."""

    messages: list[Message]
    subject: str
    status: Status | None
    incarnation: int | None = None
    tick_at: float = T0 + 0.01
    sends: list[Outgoing] = field(default_factory=list)


CASES = {
    "a second watcher confirms": Case(
        [suspect("b", "a"), suspect("e", "a")],
        "a",
        Status.DEAD,
    ),
    "a suspect whose other watcher is suspect too is confirmed by one (neighbours died together)": Case(
        [suspect("d", "e"), suspect("b", "a")], "a", Status.DEAD, tick_at=T0 + REFUTE_WINDOW + 0.01
    ),
    "but only once it had time to refute": Case(
        [suspect("d", "e"), suspect("b", "a")], "a", Status.SUSPECT, tick_at=T0 + REFUTE_WINDOW - 0.01
    ),
    "and that death confirms the other one": Case(
        [suspect("d", "e"), suspect("b", "a")], "e", Status.DEAD, tick_at=T0 + REFUTE_WINDOW + 0.01
    ),
    "one accuser is only a suspicion (still a member)": Case([suspect("b", "a")], "a", Status.SUSPECT),
    "the same accuser twice is still one": Case([suspect("b", "a"), suspect("b", "a")], "a", Status.SUSPECT),
    "an unconfirmed suspicion is final after the timeout": Case(
        [suspect("b", "a")], "a", Status.DEAD, tick_at=T0 + TIMEOUT + 0.01
    ),
    "the accused refutes with a higher incarnation": Case(
        [suspect("b", "a"), alive("a", 2), suspect("e", "a")],
        "a",
        Status.ALIVE,
        incarnation=2,
        tick_at=T0 + TIMEOUT + 0.01,
    ),
    "a suspicion of a past incarnation changes nothing": Case(
        [join("a", 2), suspect("b", "a", 1), suspect("e", "a", 1)], "a", Status.ALIVE, incarnation=2
    ),
    "LEAVE buries at once": Case([leave("a")], "a", Status.DEAD),
    "a late heartbeat of the life that left does not revive it, it is told": Case(
        [leave("d"), heartbeat("d")],
        "d",
        Status.DEAD,
        sends=[Outgoing(Kind.SUSPECT, ("d",), "d", 1)],
    ),
    "a restart (higher incarnation) comes back after death": Case(
        [leave("a"), join("a", 5)], "a", Status.ALIVE, incarnation=5
    ),
    "any word from an unknown peer is a join": Case([heartbeat("x", 4)], "x", Status.ALIVE, incarnation=4),
    "a digest teaches members": Case([digest("a", ("x", 3, True))], "x", Status.ALIVE, incarnation=3),
    "a digest teaches deaths": Case([digest("a", ("b", 1, False))], "b", Status.DEAD),
    "a digest does not revive a tombstone of the same life": Case(
        [leave("b"), digest("a", ("b", 1, True))], "b", Status.DEAD
    ),
    "a digest's names outside the peers are ignored": Case([digest("a", ("zz", 3, True))], "zz", None),
    "a stale dead entry does not bury a newer life": Case(
        [join("b", 4), digest("a", ("b", 3, False))],
        "b",
        Status.ALIVE,
        incarnation=4,
        sends=[Outgoing(Kind.DIGEST, ("b",))],  # b is c's neighbour: its JOIN is answered
    ),
    "a watcher still hearing the accused passes the suspicion on to it": Case(
        [suspect("a", "b")],
        "b",
        Status.SUSPECT,
        sends=[Outgoing(Kind.SUSPECT, ("b",), "b", 1)],
    ),
    "a JOIN of a ring neighbour is answered with a digest": Case(
        [join("d", 2)], "d", Status.ALIVE, incarnation=2, sends=[Outgoing(Kind.DIGEST, ("d",))]
    ),
    "a JOIN of a far member is not answered": Case([join("a", 2)], "a", Status.ALIVE, incarnation=2),
    "the retry copy of a JOIN is not answered again": Case(
        [join("d", 2), join("d", 2)], "d", Status.ALIVE, incarnation=2, sends=[Outgoing(Kind.DIGEST, ("d",))]
    ),
    "a refutation of a ring neighbour needs no digest": Case(
        [alive("d", 2)], "d", Status.ALIVE, incarnation=2
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_transition(case: Case) -> None:
    v = view()
    sent = [out for message in case.messages for out in v.receive(message, T0 + 0.005)]
    v.tick(case.tick_at)
    assert v.status(case.subject) is case.status
    if case.incarnation is not None:
        record = v.record(case.subject)
        assert record is not None and record.incarnation == case.incarnation
    assert sent == case.sends


@pytest.mark.parametrize(
    ("message", "refutes"),
    [
        (suspect("b", "c", 11), True),  # suspected at our incarnation
        (suspect("b", "c", 10), False),  # at a past one: already refuted
        (digest("b", ("c", 11, False)), True),  # buried by a view we missed (a healed split)
        (digest("b", ("c", 11, True)), False),
        (heartbeat("b"), False),
    ],
)
def test_self_refutation(message: Message, refutes: bool) -> None:
    v = view()
    sent = v.receive(message, T0)
    if refutes:
        assert v.incarnation == 12
        assert sent == [Outgoing(Kind.ALIVE, copies=2)]
    else:
        assert v.incarnation == 11
        assert Outgoing(Kind.ALIVE, copies=2) not in sent


def test_a_node_that_left_does_not_refute() -> None:
    v = view()
    assert v.leave() == [Outgoing(Kind.LEAVE, copies=2)]
    assert v.receive(suspect("b", "c", 11), T0) == []
    assert v.incarnation == 11
    assert v.leave() == []  # leaving twice says nothing


@pytest.mark.parametrize(
    ("silent_for", "suspected"),
    [
        (DEAD_AFTER - 0.01, set()),
        (DEAD_AFTER + 0.01, {"b", "d"}),  # the ring neighbours of c, and only they
    ],
)
def test_silent_neighbours_are_suspected_to_everyone(silent_for: float, suspected: set[str]) -> None:
    v = view()
    sent = v.tick(T0 + silent_for)
    assert {o.subject for o in sent} == suspected
    assert all(o.kind is Kind.SUSPECT and o.to == () for o in sent)  # to every peer
    assert v.status("a") is Status.ALIVE and v.status("e") is Status.ALIVE  # not ours to watch


def test_both_silent_neighbours_in_a_domain_of_two_is_final() -> None:
    v = view(peers="bc", known="b")
    v.tick(T0 + DEAD_AFTER + 0.01)
    assert v.status("b") is Status.DEAD  # its only watcher is enough


def test_a_new_neighbour_gets_a_grace_period() -> None:
    v = view()
    assert v.watched() == ("d", "b")
    v.receive(heartbeat("b"), T0 + 1.0)
    v.receive(leave("d"), T0 + 1.0)  # e, heard at T0 only, becomes c's neighbour now
    assert v.tick(T0 + 1.0) == []
    assert [o.subject for o in v.tick(T0 + 1.0 + DEAD_AFTER + 0.01)] == ["e", "b"]


def test_next_deadline_is_the_first_silence_to_run_out() -> None:
    v = view()
    assert v.next_deadline() == pytest.approx(T0 + DEAD_AFTER)
    v.receive(suspect("b", "a"), T0 + 0.1)
    v.receive(heartbeat("b"), T0 + 0.2)
    v.receive(heartbeat("d"), T0 + 0.2)
    assert v.next_deadline() == pytest.approx(T0 + 0.1 + REFUTE_WINDOW)  # a's window to refute ends first


def test_digest_states_itself_and_everyone_known() -> None:
    v = view(known="ab")
    v.receive(leave("b"), T0)
    assert v.digest() == (DigestEntry("c", 11, True), DigestEntry("a", 1, True), DigestEntry("b", 1, False))
    v.leave()
    assert DigestEntry("c", 11, True) not in v.digest()


def test_removed_peers_are_forgotten() -> None:
    v = view()
    v.set_peers("abc")
    assert v.live() == {"a", "b"}


def test_a_late_loop_waits_its_slack_before_accusing() -> None:
    v = view()
    v.slack = 0.2  # this node's own wake-ups ran late lately (see LocalHealth)
    assert v.tick(T0 + DEAD_AFTER + 0.1) == []
    assert v.next_deadline() == pytest.approx(T0 + DEAD_AFTER + 0.2)
    assert {o.subject for o in v.tick(T0 + DEAD_AFTER + 0.21)} == {"b", "d"}


@pytest.mark.parametrize(
    ("answer", "wrong"),
    [
        (alive("b", 2), 1),  # b refutes: our accusation was a mistake
        (join("b", 5), 0),  # b restarted: it had died, we were right
        (leave("b"), 0),  # b left on purpose: no verdict either way
    ],
)
def test_an_accusation_refuted_counts_as_a_mistake(answer: Message, wrong: int) -> None:
    v = view()
    v.tick(T0 + DEAD_AFTER + 0.01)  # c accuses b and d
    v.receive(answer, T0 + DEAD_AFTER + 0.05)
    v.receive(alive("a", 2), T0 + DEAD_AFTER + 0.05)  # a was never accused by c
    assert v.events["wrongly accused"] == wrong


CUT_OFF = 3.0  # a peer silent this long was cut off (a split), longer than SPLIT_SILENCE


@pytest.mark.parametrize(
    ("silent_for", "mistakes"),
    [
        (0.4, 1),  # b was starved a moment: our accusation was hasty, it costs us patience
        (CUT_OFF, 0),  # b was cut off: its return heals a split, our verdict was no mistake
    ],
)
def test_a_refuted_accusation_is_a_mistake_unless_the_accused_was_cut_off(
    silent_for: float, mistakes: int
) -> None:
    v = view()
    v.tick(T0 + DEAD_AFTER + 0.01)  # c accuses b and d
    v.receive(alive("b", 2), T0 + silent_for)
    assert v.events["wrongly accused"] == 1  # what happened is still counted
    assert v.mistakes == mistakes


@pytest.mark.parametrize(
    ("silent_for", "mistakes"),
    [
        (0.4, 1),  # b accuses us after a moment: we may be the slow one
        (CUT_OFF, 0),  # b comes back from a split having buried us: no sign of our health
    ],
)
def test_refuting_an_accusation_is_a_mistake_unless_the_accuser_was_cut_off(
    silent_for: float, mistakes: int
) -> None:
    v = view()
    v.receive(suspect("b", "c", 11), T0 + silent_for)
    assert v.events["refuted"] == 1
    assert v.mistakes == mistakes


def test_a_split_heals_without_mistakes_until_as_long_again_after_the_return() -> None:
    v = view()
    back = T0 + CUT_OFF
    v.receive(digest("b", ("c", 11, False)), back)  # b returns, having buried us: we refute
    v.receive(suspect("b", "c", 12), back + 0.1)  # its word from before our refutation
    assert (v.events["refuted"], v.mistakes) == (2, 0)
    v.receive(heartbeat("b"), back + 0.5)
    v.receive(suspect("b", "c", 13), back + 1.5)  # heard all along since: a fresh accusation
    assert (v.events["refuted"], v.mistakes) == (3, 1)


def dead(*names: str) -> Message:
    """A digest from a stating ``names`` dead at incarnation 1 (buried, not left)."""
    return digest("a", *((name, 1, False) for name in names))


@pytest.mark.parametrize(
    ("messages", "probed"),
    [
        ([], ()),  # nobody dead: nothing beyond the neighbours
        ([dead("d")], ("d",)),  # the nearest on the right is dead; b, on the left, lives
        ([dead("d", "e")], ("d",)),  # only the nearest one on each side
        ([dead("b", "d")], ("d", "b")),  # one on each side
        ([leave("d")], ()),  # one that left comes back by itself (JOIN); e, behind it, lives
        ([leave("d"), dead("e")], ("e",)),  # ... and one behind it is the nearest
        ([dead("x")], ()),  # a tombstone behind live members: they are nearer
        ([dead("d", "e", "x")], ("d",)),
        ([dead("a", "b", "d", "e", "x")], ("d", "b")),  # alone: the nearest on each side
        ([dead("d"), heartbeat("d", 2)], ()),  # d is back in a new life: a neighbour again
    ],
    ids=["none", "right", "nearest", "both-sides", "left", "behind-left", "far", "run", "alone", "back"],
)
def test_the_nearest_buried_member_on_each_side_is_probed(
    messages: list[Message], probed: tuple[str, ...]
) -> None:
    v = view(known="abdex")  # ring a b c d e x; c watches b and d
    for message in messages:
        v.receive(message, T0)
    assert v.probed() == probed
    assert not set(v.probed()) & set(v.watched())


def test_a_member_heard_in_a_life_we_buried_is_told_and_learns_whom_we_have_alive() -> None:
    v = view()
    v.receive(dead("d"), T0)
    told = [Outgoing(Kind.SUSPECT, ("d",), "d", 1), Outgoing(Kind.DIGEST, ("d",), alive_only=True)]
    assert v.receive(heartbeat("d"), T0 + 0.01) == told
    assert v.receive(heartbeat("d"), T0 + 0.02) == []  # once per tell_every (a heartbeat interval)
    assert v.receive(heartbeat("d"), T0 + 0.02 + DEAD_AFTER / 3) == told
    assert v.digest(alive_only=True) == tuple(
        DigestEntry(name, incarnation, True)
        for name, incarnation in (("c", 11), ("a", 1), ("b", 1), ("e", 1))
    )


@pytest.mark.parametrize(
    ("buried_by", "stated", "told"),
    [
        (dead("d"), ("d", 1, True), True),  # alive in the life we buried: a healed split, it refutes
        (dead("d"), ("d", 0, True), False),  # an older life: nothing to say
        (leave("d"), ("d", 1, True), False),  # it left: it JOINs when it is back
        (dead("d"), ("d", 1, False), False),
    ],
    ids=["same-life", "older-life", "left", "dead-there-too"],
)
def test_a_digest_that_has_alive_a_member_we_buried_has_it_told(
    buried_by: Message, stated: tuple[str, int, bool], told: bool
) -> None:
    v = view()
    v.receive(buried_by, T0)
    sent = v.receive(digest("b", stated), T0 + 0.01)
    assert sent == ([Outgoing(Kind.SUSPECT, ("d",), "d", 1)] if told else [])
    assert v.status("d") is Status.DEAD  # until it refutes


@pytest.mark.parametrize(
    ("messages", "tick_at", "subject", "because"),
    [
        ([leave("b")], T0 + 0.01, "b", "left"),
        ([digest("a", ("e", 1, False))], T0 + 0.01, "e", "gossiped"),
        ([suspect("b", "a"), suspect("e", "a")], T0 + 0.01, "a", "confirmed"),
        # e (a's other watcher) is suspect itself: b alone decides once a had time to refute
        ([suspect("d", "e"), suspect("b", "a")], T0 + REFUTE_WINDOW + 0.01, "a", "unopposed"),
        ([], T0 + 0.01, "b", ""),  # alive
        ([leave("b"), join("b", 2)], T0 + 0.01, "b", ""),  # back: its old death no longer says anything
    ],
    ids=["left", "gossiped", "confirmed", "unopposed", "alive", "back"],
)
def test_a_dead_member_says_how_its_death_was_decided_until_it_is_back(
    messages: list[Message], tick_at: float, subject: str, because: str
) -> None:
    v = view()
    for message in messages:
        v.receive(message, T0 + 0.005)
    v.tick(tick_at)
    assert v.buried_because(subject) == because


FAST_DEAD_AFTER = PROFILES["fast"].dead_after
FAST_TIMEOUT = SUSPICION_FACTOR * FAST_DEAD_AFTER


def fast_trio() -> View:
    """``a`` of a domain of three at the fast profile's timing; each of a, b and c watches the others."""
    v = View("a", 10, dead_after=FAST_DEAD_AFTER, suspicion_timeout=FAST_TIMEOUT)
    v.set_peers("abc")
    v.join(T0)
    for name in "bc":
        v.receive(heartbeat(name), T0)
    v.tick(T0)
    return v


@pytest.mark.parametrize("stood_still", [0.122, 0.2], ids=["122ms-as-in-a-failed-soak", "200ms"])
def test_two_neighbours_that_stood_still_together_are_not_buried_by_their_third(stood_still: float) -> None:
    """The stall that failed a fast soak: b and c, on a vCPU the hypervisor took, sent nothing.

    Their third watcher suspects both, but neither can be confirmed (the other watcher is the
    other suspect), so both get a healthy stall's time to refute, and refute when they run again.
    """
    v = fast_trio()
    at = T0
    while at < T0 + stood_still:
        at += 0.005
        v.tick(at)
        assert v.live() == {"b", "c"}, f"buried at {at - T0:.3f} s of silence"
    assert {name: v.status(name) for name in "bc"} == {"b": Status.SUSPECT, "c": Status.SUSPECT}
    for name in "bc":
        v.receive(alive(name, 2), at)  # each hears a's SUSPECT on waking and refutes
    v.tick(at)
    assert {name: v.status(name) for name in "bc"} == {"b": Status.ALIVE, "c": Status.ALIVE}
    assert not v.deaths


def test_two_neighbours_that_died_together_are_buried_after_a_healthy_stall() -> None:
    v = fast_trio()
    bound = FAST_DEAD_AFTER + HEALTHY_STALL + 0.01
    at = T0
    while v.live() and at - T0 <= bound:
        at += 0.005
        v.tick(at)
    assert not v.live(), f"still members after {at - T0:.3f} s of silence"
    assert {v.buried_because(name) for name in "bc"} == {"unopposed"}


def test_a_suspicion_that_no_one_confirms_or_refutes_says_it_timed_out() -> None:
    v = view()
    v.receive(suspect("b", "a"), T0 + 0.005)
    for watched_or_watcher in "bde":  # all alive and heard: a's other watcher e does not accuse it
        v.receive(heartbeat(watched_or_watcher), T0 + TIMEOUT)
    v.tick(T0 + TIMEOUT + 0.01)
    assert v.buried_because("a") == "timed out"


def test_a_removed_peer_has_no_death_reason_left() -> None:
    v = view()
    v.receive(leave("b"), T0 + 0.005)
    v.set_peers("acdex")
    assert v.buried_because("b") == ""
