"""The routes a session has sent, and the minimal UPDATEs that bring the peer to a new desired set."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from . import update
from .messages import IPV4_UNICAST, IPV6_UNICAST, Family
from .model import Address, Network, Route
from .update import AsPathSegment, Attributes


@dataclass(frozen=True)
class Advert:
    """How one prefix goes on the wire: family, attributes, next hops."""

    family: Family
    attributes: Attributes
    next_hops: tuple[Address, ...]


@dataclass(frozen=True)
class SessionFacts:
    """What the negotiated session decides about encoding."""

    my_asn: int
    internal: bool
    four_octet: bool
    families: frozenset[Family]
    next_hops: Mapping[Family, tuple[Address, ...]]  # the session's own addresses per family


def family_of(prefix: Network) -> Family:
    """The AFI/SAFI of a prefix."""
    return IPV4_UNICAST if prefix.version == 4 else IPV6_UNICAST


def advert(route: Route, facts: SessionFacts) -> Advert | None:
    """The wire form of a route on this session, or None when it cannot go (family, next hop)."""
    family = family_of(route.prefix)
    if family not in facts.families:
        return None
    hops = (route.next_hop,) if route.next_hop is not None else facts.next_hops.get(family, ())
    if not hops or hops[0].version != route.prefix.version:
        return None
    attrs = Attributes(
        as_path=() if facts.internal else (AsPathSegment(update.AS_SEQUENCE, (facts.my_asn,)),),
        local_pref=(route.local_pref if route.local_pref is not None else 100) if facts.internal else None,
        communities=route.communities,
        large_communities=route.large_communities,
    )
    return Advert(family, attrs, hops)


class AdjRibOut:
    """The prefixes announced on one connection, with the advert each went out with."""

    def __init__(self) -> None:
        self.sent: dict[Network, Advert] = {}

    def forget(self, family: Family) -> None:
        """Forget what went out for a family (a ROUTE-REFRESH asks for all of it again)."""
        self.sent = {p: a for p, a in self.sent.items() if a.family != family}

    def changes(self, desired: Iterable[Route], facts: SessionFacts) -> tuple[list[bytes], list[Network]]:
        """The UPDATE messages from what was sent to ``desired``, and the routes that cannot go.

        Withdrawals come first; announcements are grouped by identical adverts so many prefixes
        share one UPDATE.
        """
        wanted: dict[Network, Advert] = {}
        unsendable: list[Network] = []
        for route in desired:
            wire = advert(route, facts)
            if wire is None:
                unsendable.append(route.prefix)
            else:
                wanted[route.prefix] = wire
        gone: dict[Family, list[Network]] = defaultdict(list)
        for prefix, old in self.sent.items():
            if prefix not in wanted:
                gone[old.family].append(prefix)
        fresh: dict[Advert, list[Network]] = defaultdict(list)
        for prefix, new in wanted.items():
            if self.sent.get(prefix) != new:
                fresh[new].append(prefix)
        out: list[bytes] = []
        for family, prefixes in gone.items():
            out += update.withdrawals(family, sorted(prefixes))
        for wire, prefixes in fresh.items():
            out += update.announcements(
                wire.family,
                wire.attributes,
                wire.next_hops,
                sorted(prefixes),
                facts.four_octet,
            )
        self.sent = wanted
        return out, unsendable
