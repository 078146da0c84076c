"""One BFD session's state machine (RFC 5880 §6.8), asynchronous mode, without sockets or clocks.

The owner feeds it received packets and the time (:meth:`Session.receive`, :meth:`Session.tick`)
and gets back a :class:`Step`: the state change, if any, and the packet to send now, if any.
:attr:`Session.next_deadline` says when ``tick`` must run next.

Timing rules, all from RFC 5880:

* while not Up, the advertised Desired Min TX is at least 1 s (§6.8.3); on Up it becomes the
  profile's value, announced with a Poll Sequence (P bit until the peer answers with F);
* a larger TX interval or a smaller RX interval takes effect only when the Poll Sequence ends
  (§6.8.3); the other directions at once;
* transmit interval = max(our Desired Min TX, the peer's Required Min RX), jittered to 75-100 %
  (75-90 % when our detect multiplier is 1) (§6.8.7); the timer is re-armed as soon as the peer
  changes its Required Min RX (FRR lowers it after Up);
* detection time = the peer's detect multiplier x max(our Required Min RX, the peer's Desired
  Min TX) (§6.8.4), armed by every accepted packet; on expiry Init/Up go Down with diag 1 and the
  remote discriminator is forgotten;
* a passive session sends nothing until it knows the peer's discriminator (§6.1); no session
  sends periodically while the peer's Required Min RX is zero (§6.8.7);
* a packet with P set is answered at once with F set (§6.8.6); we also send at once on every
  state change, so the three-way handshake does not wait for the slow 1 s timer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .packet import ControlPacket, Diag, State
from .settings import BFDSettings

SLOW_TX_US = 1_000_000  # RFC 5880 §6.8.3: at least one second while the session is not Up
_US = 1e-6

# The reception state table of RFC 5880 §6.8.6: (our state, the peer's) -> (new state, diag).
# AdminDown locally never gets here: such packets are discarded first.
_RECEPTION = {
    (State.DOWN, State.DOWN): (State.INIT, Diag.NONE),
    (State.DOWN, State.INIT): (State.UP, Diag.NONE),
    (State.INIT, State.INIT): (State.UP, Diag.NONE),
    (State.INIT, State.UP): (State.UP, Diag.NONE),
    (State.INIT, State.ADMIN_DOWN): (State.DOWN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN),
    (State.UP, State.ADMIN_DOWN): (State.DOWN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN),
    (State.UP, State.DOWN): (State.DOWN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN),
}


@dataclass(frozen=True)
class Transition:
    """A change of the local session state and its reason."""

    old: State
    new: State
    diag: Diag


@dataclass(frozen=True)
class Step:
    """What one input produced: a state change and/or a packet to send now."""

    transition: Transition | None = None
    send: ControlPacket | None = None


@dataclass(frozen=True)
class SessionStatus:
    """A session as metrics and status show it; intervals in milliseconds."""

    state: State
    remote_state: State
    local_diag: Diag
    remote_diag: int
    local_discriminator: int
    remote_discriminator: int
    transmit_interval_ms: float  # negotiated: what we send at (before jitter)
    receive_interval_ms: float  # negotiated: what we expect from the peer
    detection_time_ms: float  # 0 until the peer has been heard
    remote_detect_multiplier: int
    polling: bool
    control_packet_input: int
    control_packet_output: int
    session_up_events: int
    session_down_events: int


class Session:
    """The RFC 5880 state variables of one session and the rules that change them."""

    def __init__(
        self, local_discriminator: int, settings: BFDSettings, now: float, rng: random.Random | None = None
    ) -> None:
        self.local_discriminator = local_discriminator
        self.settings = settings
        self.state = State.DOWN
        self.local_diag = Diag.NONE
        self.remote_state = State.DOWN
        self.remote_discriminator = 0
        self.remote_diag = 0
        self.remote_detect_mult = 0
        self.remote_min_rx_us = 1  # §6.8.1: initialised to 1
        self.remote_desired_min_tx_us = 0
        # What we advertise (bfd.DesiredMinTxInterval, bfd.RequiredMinRxInterval) ...
        self.desired_min_tx_us = max(settings.transmit_interval_ms * 1000, SLOW_TX_US)
        self.required_min_rx_us = settings.receive_interval_ms * 1000
        # ... and what our timers use; they differ while a Poll Sequence runs (§6.8.3).
        self._tx_in_effect_us = self.desired_min_tx_us
        self._rx_in_effect_us = self.required_min_rx_us
        self.polling = False
        self.tx_due: float | None = None
        self.detect_due: float | None = None
        self.packets_in = self.packets_out = self.up_events = self.down_events = 0
        self._rng = rng or random.Random()
        self._schedule_tx(now)

    # -- inputs -------------------------------------------------------------------------------

    def receive(self, packet: ControlPacket, now: float) -> Step:
        """Process a packet addressed to this session (already checked by ``packet.decode``)."""
        self.packets_in += 1
        old_remote_rx = self.remote_min_rx_us
        self.remote_discriminator = packet.my_discriminator
        self.remote_state = packet.state
        self.remote_diag = packet.diag
        self.remote_detect_mult = packet.detect_mult
        self.remote_min_rx_us = packet.required_min_rx_us
        self.remote_desired_min_tx_us = packet.desired_min_tx_us
        rearm = old_remote_rx != packet.required_min_rx_us or self.tx_due is None
        if packet.final and self.polling:
            rearm |= self._end_poll()
        if self.state == State.ADMIN_DOWN:
            return Step()  # §6.8.6: discarded, and the detection timer is not reset
        transition = self._next_state(packet.state, now)
        self.detect_due = now + self.detection_time_us * _US
        if transition is not None or rearm:
            self._schedule_tx(now)
        send = None
        if packet.poll:
            send = self._packet(final=True)
        elif transition is not None:
            send = self._packet()
        return Step(transition, self._sent(send))

    def tick(self, now: float) -> Step:
        """Run the timers that are due: detection expiry, then periodic transmission."""
        transition = None
        if self.detect_due is not None and now >= self.detect_due:
            self.detect_due = None
            self.remote_discriminator = 0  # §6.8.1: forgotten when the detection time expires
            self.remote_state = State.DOWN
            if self.state in (State.INIT, State.UP):
                transition = self._change(State.DOWN, Diag.CONTROL_DETECTION_TIME_EXPIRED, now)
            self._schedule_tx(now)
        send = None
        if transition is not None and self._may_transmit():
            send = self._packet()  # tell the peer at once, in case only one direction failed
        elif self.tx_due is not None and now >= self.tx_due:
            send = self._packet()
            self._schedule_tx(now)
        return Step(transition, self._sent(send))

    def update(self, settings: BFDSettings, now: float) -> Step:
        """Apply new settings; while Up, announce changed intervals with a Poll Sequence."""
        self.settings = settings
        desired = self._desired_tx_for(self.state)
        required = settings.receive_interval_ms * 1000
        if (desired, required) == (self.desired_min_tx_us, self.required_min_rx_us):
            self._schedule_tx(now)  # passive mode may have changed
            return Step()
        self._advertise(desired, required, now)
        return Step(send=self._sent(self._packet()) if self.polling and self._may_transmit() else None)

    def admin_down(self, now: float) -> Step:
        """Go AdminDown (diag 7) and say so to the peer at once; periodic packets continue."""
        if self.state == State.ADMIN_DOWN:
            return Step()
        transition = self._change(State.ADMIN_DOWN, Diag.ADMINISTRATIVELY_DOWN, now)
        self.detect_due = None
        self._schedule_tx(now)
        return Step(transition, self._sent(self._packet()) if self._may_transmit() else None)

    # -- derived values -----------------------------------------------------------------------

    @property
    def transmit_interval_us(self) -> int:
        """The interval between our periodic packets, before jitter."""
        return max(self._tx_in_effect_us, self.remote_min_rx_us)

    @property
    def receive_interval_us(self) -> int:
        """The interval we expect between the peer's packets."""
        return max(self._rx_in_effect_us, self.remote_desired_min_tx_us)

    @property
    def detection_time_us(self) -> int:
        """How long without a packet before the session is declared down (0: peer not heard yet)."""
        return self.remote_detect_mult * self.receive_interval_us

    @property
    def next_deadline(self) -> float | None:
        """When :meth:`tick` must run next; None when no timer runs."""
        due = [t for t in (self.tx_due, self.detect_due) if t is not None]
        return min(due) if due else None

    def status(self) -> SessionStatus:
        """A snapshot for metrics and status."""
        return SessionStatus(
            state=self.state,
            remote_state=self.remote_state,
            local_diag=self.local_diag,
            remote_diag=self.remote_diag,
            local_discriminator=self.local_discriminator,
            remote_discriminator=self.remote_discriminator,
            transmit_interval_ms=self.transmit_interval_us / 1000,
            receive_interval_ms=self.receive_interval_us / 1000,
            detection_time_ms=self.detection_time_us / 1000,
            remote_detect_multiplier=self.remote_detect_mult,
            polling=self.polling,
            control_packet_input=self.packets_in,
            control_packet_output=self.packets_out,
            session_up_events=self.up_events,
            session_down_events=self.down_events,
        )

    # -- internals ----------------------------------------------------------------------------

    def _next_state(self, remote: State, now: float) -> Transition | None:
        change = _RECEPTION.get((self.state, remote))
        return None if change is None else self._change(*change, now)

    def _change(self, new: State, diag: Diag, now: float) -> Transition:
        old = self.state
        self.state = new
        if new == State.UP:
            self.up_events += 1
            self.local_diag = Diag.NONE
        else:
            self.local_diag = diag
            if old == State.UP:
                self.down_events += 1
        desired = self._desired_tx_for(new)
        if desired != self.desired_min_tx_us:
            self._advertise(desired, self.required_min_rx_us, now)
        elif new != State.UP:
            self._end_poll()
        return Transition(old, new, diag)

    def _desired_tx_for(self, state: State) -> int:
        configured = self.settings.transmit_interval_ms * 1000
        return configured if state == State.UP else max(configured, SLOW_TX_US)

    def _advertise(self, desired_tx: int, required_rx: int, now: float) -> None:
        """Change the advertised intervals (§6.8.3); while Up, through a Poll Sequence."""
        self.desired_min_tx_us, self.required_min_rx_us = desired_tx, required_rx
        if self.state != State.UP:
            self._end_poll()
        else:
            self.polling = True
            # Faster sending and slower expectations are safe at once; the rest waits for the Final.
            self._tx_in_effect_us = min(self._tx_in_effect_us, desired_tx)
            self._rx_in_effect_us = max(self._rx_in_effect_us, required_rx)
        self._schedule_tx(now)

    def _end_poll(self) -> bool:
        """Stop polling and put the advertised intervals into effect; True if the TX interval moved."""
        self.polling = False
        before = self.transmit_interval_us
        self._tx_in_effect_us = self.desired_min_tx_us
        self._rx_in_effect_us = self.required_min_rx_us
        return before != self.transmit_interval_us

    def _may_transmit(self) -> bool:
        passive_waiting = self.settings.passive_mode and self.remote_discriminator == 0
        return not passive_waiting and self.remote_min_rx_us != 0

    def _schedule_tx(self, now: float) -> None:
        if not self._may_transmit():
            self.tx_due = None
            return
        ceiling = 0.9 if self.settings.detect_multiplier == 1 else 1.0
        self.tx_due = now + self.transmit_interval_us * _US * self._rng.uniform(0.75, ceiling)

    def _packet(self, final: bool = False) -> ControlPacket:
        return ControlPacket(
            state=self.state,
            diag=self.local_diag,
            my_discriminator=self.local_discriminator,
            your_discriminator=self.remote_discriminator,
            desired_min_tx_us=self.desired_min_tx_us,
            required_min_rx_us=self.required_min_rx_us,
            detect_mult=self.settings.detect_multiplier,
            poll=self.polling and not final,
            final=final,
        )

    def _sent(self, packet: ControlPacket | None) -> ControlPacket | None:
        if packet is not None:
            self.packets_out += 1
        return packet
