"""The BFD session state machine (RFC 5880 §6.8) driven with packets and a fake clock."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.bfd.packet import ControlPacket, Diag, State
from ansible_collections.baremetal.lb.daemons.speaker.bfd.session import SLOW_TX_US, Session, Transition
from ansible_collections.baremetal.lb.daemons.speaker.bfd.settings import BFDSettings

FAST = BFDSettings(receive_interval_ms=100, transmit_interval_ms=100, detect_multiplier=3)
OURS, THEIRS = 11, 22


def peer(state: State, **fields: Any) -> ControlPacket:
    """A packet from the peer, running 100 ms x 3 like us unless told otherwise."""
    base = ControlPacket(
        state=state,
        my_discriminator=THEIRS,
        your_discriminator=0 if state in (State.DOWN, State.ADMIN_DOWN) else OURS,
        desired_min_tx_us=100_000,
        required_min_rx_us=100_000,
        detect_mult=3,
    )
    return dataclasses.replace(base, **fields)


def session(settings: BFDSettings = FAST, state: State = State.DOWN, now: float = 0.0) -> Session:
    """A session brought into ``state`` by the peer's packets."""
    s = Session(OURS, settings, now, random.Random(7))
    path = {
        State.DOWN: [],
        State.INIT: [State.DOWN],
        State.UP: [State.DOWN, State.UP],
        State.ADMIN_DOWN: [],
    }[state]
    for remote in path:
        s.receive(peer(remote), now)
    if state == State.ADMIN_DOWN:
        s.admin_down(now)
    assert s.state == state
    return s


def up_and_settled(settings: BFDSettings = FAST) -> Session:
    """An Up session whose Poll Sequence for the fast intervals has completed."""
    s = session(settings, State.UP)
    assert s.polling
    s.receive(peer(State.UP, final=True), 0.0)
    assert not s.polling
    return s


@pytest.mark.parametrize(
    ("local", "remote", "new", "diag"),
    [
        (State.DOWN, State.DOWN, State.INIT, Diag.NONE),
        (State.DOWN, State.INIT, State.UP, Diag.NONE),
        (State.DOWN, State.UP, State.DOWN, None),
        (State.DOWN, State.ADMIN_DOWN, State.DOWN, None),
        (State.INIT, State.DOWN, State.INIT, None),
        (State.INIT, State.INIT, State.UP, Diag.NONE),
        (State.INIT, State.UP, State.UP, Diag.NONE),
        (State.INIT, State.ADMIN_DOWN, State.DOWN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN),
        (State.UP, State.DOWN, State.DOWN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN),
        (State.UP, State.INIT, State.UP, None),
        (State.UP, State.UP, State.UP, None),
        (State.UP, State.ADMIN_DOWN, State.DOWN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN),
        (State.ADMIN_DOWN, State.DOWN, State.ADMIN_DOWN, None),
        (State.ADMIN_DOWN, State.UP, State.ADMIN_DOWN, None),
    ],
)
def test_reception_state_table(local: State, remote: State, new: State, diag: Diag | None) -> None:
    s = session(state=local)
    step = s.receive(peer(remote), 1.0)
    assert s.state == new
    assert step.transition == (None if diag is None else Transition(local, new, diag))
    if diag is not None:
        assert s.local_diag == diag
        assert step.send is not None and step.send.state == new, "a state change is told at once"


def test_handshake_packets_carry_discriminators_and_slow_tx_until_up() -> None:
    s = session()
    first = s.tick(s.next_deadline or 0).send
    assert first is not None
    assert (first.state, first.my_discriminator, first.your_discriminator) == (State.DOWN, OURS, 0)
    assert first.desired_min_tx_us == SLOW_TX_US, "at least 1 s while not Up (§6.8.3)"
    assert first.required_min_rx_us == 100_000
    init = s.receive(peer(State.DOWN), 1.0).send
    assert init is not None and (init.state, init.your_discriminator) == (State.INIT, THEIRS)
    assert init.desired_min_tx_us == SLOW_TX_US


def test_going_up_announces_the_fast_interval_with_a_poll_sequence() -> None:
    s = session(state=State.INIT)
    up = s.receive(peer(State.UP), 1.0).send
    assert up is not None and up.state == State.UP
    assert up.poll and not up.final
    assert up.desired_min_tx_us == 100_000
    periodic = s.tick(s.tx_due or 0).send
    assert periodic is not None and periodic.poll, "P stays set until the peer answers with F"
    s.receive(peer(State.UP, final=True), 1.2)
    assert not s.polling
    after = s.tick(s.tx_due or 0).send
    assert after is not None and not after.poll


def test_poll_from_peer_is_answered_at_once_with_final() -> None:
    s = up_and_settled()
    answer = s.receive(peer(State.UP, poll=True, desired_min_tx_us=50_000), 2.0).send
    assert answer is not None and answer.final and not answer.poll


def test_a_larger_local_rx_waits_for_no_poll_but_a_smaller_one_waits_for_the_final() -> None:
    s = up_and_settled()
    s.update(dataclasses.replace(FAST, receive_interval_ms=50), 1.0)
    assert s.polling and s.receive_interval_us == 100_000, "reduced RX only after the Final (§6.8.3)"
    s.receive(peer(State.UP, final=True, desired_min_tx_us=50_000), 1.01)
    assert s.receive_interval_us == 50_000
    s.update(dataclasses.replace(FAST, receive_interval_ms=500), 1.1)
    assert s.receive_interval_us == 500_000, "an increased RX applies at once"


def test_a_larger_local_tx_applies_only_after_the_final() -> None:
    s = up_and_settled()
    step = s.update(dataclasses.replace(FAST, transmit_interval_ms=400), 1.0)
    assert step.send is not None and step.send.poll and step.send.desired_min_tx_us == 400_000
    assert s.transmit_interval_us == 100_000
    s.receive(peer(State.UP, final=True), 1.01)
    assert s.transmit_interval_us == 400_000


@pytest.mark.parametrize(
    ("ours", "their_rx_us", "expected_us"),
    [
        (FAST, 100_000, 100_000),
        (FAST, 300_000, 300_000),  # the peer cannot take our pace: its Required Min RX wins
        (dataclasses.replace(FAST, transmit_interval_ms=500), 100_000, 500_000),
    ],
)
def test_transmit_interval_is_the_larger_of_ours_and_the_peers_rx(
    ours: BFDSettings, their_rx_us: int, expected_us: int
) -> None:
    s = up_and_settled(ours)
    s.receive(peer(State.UP, required_min_rx_us=their_rx_us), 1.0)
    assert s.transmit_interval_us == expected_us


@pytest.mark.parametrize(("mult", "ceiling"), [(3, 1.0), (1, 0.9)])
def test_jitter_stays_between_75_percent_and_the_ceiling(mult: int, ceiling: float) -> None:
    s = up_and_settled(dataclasses.replace(FAST, detect_multiplier=mult))
    gaps = []
    now = 10.0
    for _unused in range(400):
        s.receive(peer(State.UP), now)  # keep the session alive
        s.tick(now)
        due = s.tx_due
        assert due is not None
        gaps.append((due - now) / 0.1)
        now = due
        s.tick(now)
        gaps.append(((s.tx_due or 0) - now) / 0.1)
    assert min(gaps) >= 0.75
    assert max(gaps) <= ceiling
    assert max(gaps) - min(gaps) > 0.5 * (ceiling - 0.75), "jitter actually varies"


def test_transmit_timer_is_rearmed_when_the_peer_lowers_its_rx() -> None:
    s = session(state=State.UP)
    s.receive(peer(State.UP, final=True, required_min_rx_us=1_000_000), 0.0)
    assert s.tx_due is not None and s.tx_due >= 0.75
    s.receive(peer(State.UP, required_min_rx_us=100_000), 0.2)
    assert s.tx_due is not None and s.tx_due <= 0.2 + 0.1, "next packet within the new 100 ms"


def test_detection_time_is_remote_mult_times_the_agreed_interval() -> None:
    s = up_and_settled()
    s.receive(peer(State.UP, detect_mult=5, desired_min_tx_us=200_000), 3.0)
    assert s.detection_time_us == 5 * 200_000
    assert s.detect_due == pytest.approx(4.0)
    assert s.tick(3.99).transition is None
    step = s.tick(4.0)
    assert step.transition == Transition(State.UP, State.DOWN, Diag.CONTROL_DETECTION_TIME_EXPIRED)
    assert s.remote_discriminator == 0, "forgotten on expiry (§6.8.1)"
    assert step.send is not None and step.send.state == State.DOWN and step.send.your_discriminator == 0
    assert step.send.desired_min_tx_us == SLOW_TX_US, "back to 1 s once not Up"


def test_detection_timer_is_off_until_the_peer_is_heard() -> None:
    s = session()
    assert s.detect_due is None
    for _unused in range(5):
        assert s.tick(s.next_deadline or 0).transition is None


def test_down_init_session_expires_too() -> None:
    s = session(state=State.INIT)
    step = s.tick(s.detect_due or 0)
    assert step.transition == Transition(State.INIT, State.DOWN, Diag.CONTROL_DETECTION_TIME_EXPIRED)


def test_passive_session_waits_for_the_peer() -> None:
    s = session(dataclasses.replace(FAST, passive_mode=True))
    assert s.next_deadline is None
    assert s.tick(100.0).send is None
    reply = s.receive(peer(State.DOWN), 100.0).send
    assert reply is not None and reply.state == State.INIT
    assert s.tx_due is not None, "periodic once the peer is known"


def test_passive_session_falls_silent_again_when_the_peer_goes_away() -> None:
    s = up_and_settled(dataclasses.replace(FAST, passive_mode=True))
    s.tick(s.detect_due or 0)
    assert s.state == State.DOWN and s.tx_due is None


def test_peer_required_rx_zero_stops_periodic_transmission() -> None:
    s = up_and_settled()
    s.receive(peer(State.UP, required_min_rx_us=0), 1.0)
    assert s.tx_due is None


def test_admin_down_is_sent_with_its_diag_and_ignores_the_peer() -> None:
    s = up_and_settled()
    step = s.admin_down(2.0)
    assert step.transition == Transition(State.UP, State.ADMIN_DOWN, Diag.ADMINISTRATIVELY_DOWN)
    assert step.send is not None
    assert (step.send.state, step.send.diag) == (State.ADMIN_DOWN, Diag.ADMINISTRATIVELY_DOWN)
    assert s.detect_due is None
    assert s.receive(peer(State.UP), 2.1).transition is None


def test_counters_follow_the_session() -> None:
    s = up_and_settled()
    s.tick(s.detect_due or 0)
    status = s.status()
    assert (status.session_up_events, status.session_down_events) == (1, 1)
    assert status.control_packet_input == 3
    assert status.control_packet_output >= 3
    assert status.state == State.DOWN and status.local_diag == Diag.CONTROL_DETECTION_TIME_EXPIRED
