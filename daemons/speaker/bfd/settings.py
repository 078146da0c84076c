"""What a BFD session is configured with (a BFDProfile, as the speaker runs it) and what it refuses.

Ranges are MetalLB's BFDProfile ranges (FRR's): intervals 10-60000 ms, detect multiplier 2-255,
minimum TTL 1-254. Echo mode and multi-hop sessions are not implemented: a profile that asks for
them raises :class:`UnsupportedProfile`, whose message names the field and the fix, so the caller
can turn it into a status condition.

``minimum_ttl`` is a multi-hop knob (as in FRR and MetalLB): a single-hop session accepts only
packets with TTL/hop limit 255 (RFC 5881 §5), which is stricter than any ``minimum_ttl``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_INTERVAL_MS = (10, 60000)
_DETECT_MULTIPLIER = (2, 255)
_MINIMUM_TTL = (1, 254)


class UnsupportedProfile(ValueError):
    """A profile asks for something this BFD implementation does not do; the message says the fix."""


class InvalidSettings(ValueError):
    """A setting is out of its range; the message names it."""


@dataclass(frozen=True)
class BFDSettings:
    """One session's BFD parameters; intervals in milliseconds (defaults as MetalLB's)."""

    receive_interval_ms: int = 300
    transmit_interval_ms: int = 300
    detect_multiplier: int = 3
    passive_mode: bool = False
    minimum_ttl: int = 254
    echo_mode: bool = False
    echo_interval_ms: int = 50

    @classmethod
    def from_profile(cls, profile: Any) -> BFDSettings:
        """The settings of a ``config_model.BFDProfile`` (duck-typed: any object with its fields)."""
        return cls(
            receive_interval_ms=profile.receive_interval,
            transmit_interval_ms=profile.transmit_interval,
            detect_multiplier=profile.detect_multiplier,
            passive_mode=profile.passive_mode,
            minimum_ttl=profile.minimum_ttl,
            echo_mode=profile.echo_mode,
            echo_interval_ms=profile.echo_interval,
        )


def check_supported(settings: BFDSettings, multihop: bool = False) -> None:
    """Raise UnsupportedProfile or InvalidSettings unless this implementation can run ``settings``."""
    if settings.echo_mode:
        raise UnsupportedProfile("echoMode: echo mode is not implemented; set echoMode: false")
    if multihop:
        raise UnsupportedProfile(
            "multi-hop BFD (a BGP peer with ebgpMultiHop) is not implemented; "
            "remove the peer's bfdProfile or make the peer directly connected"
        )
    for name, value, (low, high) in (
        ("receiveInterval", settings.receive_interval_ms, _INTERVAL_MS),
        ("transmitInterval", settings.transmit_interval_ms, _INTERVAL_MS),
        ("echoInterval", settings.echo_interval_ms, _INTERVAL_MS),
        ("detectMultiplier", settings.detect_multiplier, _DETECT_MULTIPLIER),
        ("minimumTtl", settings.minimum_ttl, _MINIMUM_TTL),
    ):
        if not low <= value <= high:
            raise InvalidSettings(f"{name}: {value} is outside {low}-{high}")
