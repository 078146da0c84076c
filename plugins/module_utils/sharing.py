"""IP sharing between Services: who uses one address, and whether one more may join.

Two Services share an address when their sharing keys are equal and non-empty, their backend
keys are equal, and no (protocol, port) is used by both. A Service that is alone on an
address may always change its own keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from .services import Port


@dataclass(frozen=True, slots=True)
class SharingKey:
    """The sharing key (``allow-shared-ip``) and the backend key of a Service."""

    sharing: str
    backend: str


def quoted(name: str) -> str:
    """``name`` in double quotes, as Kubernetes and MetalLB messages quote names (``"tiny"``).

    The allocator's reasons end up in Events beside Go-quoted Service keys; they quote alike.
    """
    return json.dumps(name)


def sharing_refusal(existing: SharingKey, new: SharingKey) -> str | None:
    """Return why a Service with key ``new`` may not join users holding ``existing``, or None."""
    if not existing.sharing:
        return "the Service using it does not allow sharing (no allow-shared-ip annotation)"
    if not new.sharing:
        return "it is in use; set the same allow-shared-ip annotation on both Services to share it"
    if existing.sharing != new.sharing:
        return f"it is shared under allow-shared-ip {quoted(existing.sharing)}, not {quoted(new.sharing)}"
    if existing.backend != new.backend:
        return (
            "the Services sharing it select other backends with externalTrafficPolicy Local "
            f"({quoted(existing.backend)} vs {quoted(new.backend)}); use the same selector or Cluster policy"
        )
    return None


@dataclass(slots=True)
class AddressUsers:
    """The Services using one address, the ports each holds there, and their common key.

    ``services`` is a tuple, not a set: almost every address has one user, and the controller
    keeps one of these for each of up to 100,000 addresses (a set of one is 216 bytes, a tuple 48).
    """

    key: SharingKey
    ports: dict[Port, str] = field(default_factory=dict)
    services: tuple[str, ...] = ()

    def refusal(self, service: str, key: SharingKey, ports: Iterable[Port]) -> str | None:
        """Return why ``service`` may not use this address with ``key`` and ``ports``, or None."""
        others = sorted(other for other in self.services if other != service)
        if not others:
            return None
        reason = sharing_refusal(self.key, key)
        if reason is not None:
            return f"{reason} (used by {', '.join(others)})"
        taken = sorted(
            f"{proto}/{port}" for proto, port in ports if self.ports.get((proto, port), service) != service
        )
        if taken:
            return f"port(s) {', '.join(taken)} already used there by another Service sharing it"
        return None

    def add(self, service: str, key: SharingKey, ports: Iterable[Port]) -> None:
        """Record ``service`` as a user; the caller checked :meth:`refusal` first."""
        self.key = key
        if service not in self.services:
            self.services += (service,)
        self.ports.update((port, service) for port in ports)

    def remove(self, service: str) -> None:
        """Forget ``service`` and the ports it held."""
        self.services = tuple(other for other in self.services if other != service)
        self.ports = {port: owner for port, owner in self.ports.items() if owner != service}
