"""BFD Control packets (RFC 5880 §4.1): the 24-byte mandatory section, encoded and checked.

:func:`decode` applies the reception checks of RFC 5880 §6.8.6 that need no session (version,
length, detect multiplier, multipoint, discriminators, authentication) and raises
:class:`MalformedPacket` with the reason; the session-dependent checks live in the session.
This speaker runs no authentication, so a packet with the A bit set is discarded.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

VERSION = 1
LENGTH = 24  # the mandatory section; we never append an authentication section
_FORMAT = struct.Struct("!BBBBIIIII")

_P, _F, _C, _A, _D, _M = 0x20, 0x10, 0x08, 0x04, 0x02, 0x01


class State(enum.IntEnum):
    """Session states (RFC 5880 §4.1, "Sta")."""

    ADMIN_DOWN = 0
    DOWN = 1
    INIT = 2
    UP = 3


class Diag(enum.IntEnum):
    """Diagnostic codes (RFC 5880 §4.1, "Diag"): why the local session last left Up."""

    NONE = 0
    CONTROL_DETECTION_TIME_EXPIRED = 1
    ECHO_FUNCTION_FAILED = 2
    NEIGHBOR_SIGNALED_SESSION_DOWN = 3
    FORWARDING_PLANE_RESET = 4
    PATH_DOWN = 5
    CONCATENATED_PATH_DOWN = 6
    ADMINISTRATIVELY_DOWN = 7
    REVERSE_CONCATENATED_PATH_DOWN = 8


class MalformedPacket(ValueError):
    """A received packet RFC 5880 §6.8.6 says to discard; the message says which rule."""


@dataclass(frozen=True)
class ControlPacket:
    """One BFD Control packet; intervals in microseconds as on the wire."""

    state: State
    my_discriminator: int
    your_discriminator: int
    desired_min_tx_us: int
    required_min_rx_us: int
    detect_mult: int
    diag: int = Diag.NONE  # a Diag; decoded as the raw number (codes 9-31 are reserved, not invalid)
    required_min_echo_rx_us: int = 0
    poll: bool = False
    final: bool = False
    control_plane_independent: bool = False
    authentication: bool = False
    demand: bool = False
    multipoint: bool = False
    length: int = LENGTH
    version: int = VERSION

    def encode(self) -> bytes:
        """The packet's bytes (the Length field as given, normally 24)."""
        flags = (
            (self.state << 6)
            | (_P if self.poll else 0)
            | (_F if self.final else 0)
            | (_C if self.control_plane_independent else 0)
            | (_A if self.authentication else 0)
            | (_D if self.demand else 0)
            | (_M if self.multipoint else 0)
        )
        return _FORMAT.pack(
            (self.version << 5) | self.diag,
            flags,
            self.detect_mult,
            self.length,
            self.my_discriminator,
            self.your_discriminator,
            self.desired_min_tx_us,
            self.required_min_rx_us,
            self.required_min_echo_rx_us,
        )


def decode(data: bytes) -> ControlPacket:
    """Parse a received packet and apply RFC 5880 §6.8.6's session-independent checks.

    Raises :class:`MalformedPacket` for a packet that must be discarded.
    """
    if len(data) < LENGTH:
        raise MalformedPacket(f"{len(data)} bytes is shorter than the {LENGTH}-byte mandatory section")
    vers_diag, flags, mult, length, my_d, your_d, tx, rx, echo = _FORMAT.unpack_from(data)
    version = vers_diag >> 5
    if version != VERSION:
        raise MalformedPacket(f"version {version}, not {VERSION}")
    if length < LENGTH:
        raise MalformedPacket(f"length field {length} is less than {LENGTH}")
    if length > len(data):
        raise MalformedPacket(f"length field {length} exceeds the {len(data)}-byte payload")
    if mult == 0:
        raise MalformedPacket("detect multiplier is zero")
    if flags & _M:
        raise MalformedPacket("multipoint bit set")
    if my_d == 0:
        raise MalformedPacket("my discriminator is zero")
    state = State(flags >> 6)
    if your_d == 0 and state not in (State.DOWN, State.ADMIN_DOWN):
        raise MalformedPacket(f"your discriminator is zero in state {state.name}")
    authentication = bool(flags & _A)
    if authentication:
        # "If the A bit is set and no authentication is in use (bfd.AuthType is zero), the
        # packet MUST be discarded." This speaker runs none.
        raise MalformedPacket("authentication bit set, but no authentication is configured")
    return ControlPacket(
        state=state,
        my_discriminator=my_d,
        your_discriminator=your_d,
        desired_min_tx_us=tx,
        required_min_rx_us=rx,
        detect_mult=mult,
        diag=vers_diag & 0x1F,
        required_min_echo_rx_us=echo,
        poll=bool(flags & _P),
        final=bool(flags & _F),
        control_plane_independent=bool(flags & _C),
        authentication=authentication,
        demand=bool(flags & _D),
        multipoint=False,
        length=length,
    )
