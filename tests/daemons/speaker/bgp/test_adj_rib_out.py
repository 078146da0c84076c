"""The Adj-RIB-Out diff: only what changed goes out, withdrawals first, one UPDATE per attribute set."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_network

from ansible_collections.baremetal.lb.daemons.speaker.bgp.adj_rib_out import AdjRibOut, SessionFacts
from ansible_collections.baremetal.lb.daemons.speaker.bgp.framing import decode_all
from ansible_collections.baremetal.lb.daemons.speaker.bgp.messages import IPV4_UNICAST, IPV6_UNICAST
from ansible_collections.baremetal.lb.daemons.speaker.bgp.model import Route
from ansible_collections.baremetal.lb.daemons.speaker.bgp.update import Update

FACTS = SessionFacts(
    my_asn=64512,
    internal=False,
    four_octet=True,
    families=frozenset({IPV4_UNICAST, IPV6_UNICAST}),
    next_hops={IPV4_UNICAST: (IPv4Address("192.0.2.1"),), IPV6_UNICAST: (IPv6Address("2001:db8::1"),)},
)
A, B, C = (Route(ip_network(f"198.51.100.{i}/32")) for i in (1, 2, 3))
V6 = Route(ip_network("2001:db8:5::/48"), communities=(7,))


def updates(rib: AdjRibOut, routes: list[Route]) -> list[Update]:
    wires, unsendable = rib.changes(routes, FACTS)
    assert unsendable == []
    return [m for w in wires for m in decode_all(w)]  # type: ignore[misc]


def test_first_send_groups_prefixes_by_attributes_and_resend_is_empty() -> None:
    rib = AdjRibOut()
    sent = updates(rib, [A, B, C, V6])
    assert [len(u.nlri) for u in sent if u.nlri] == [3]
    assert [u.mp_reach.nlri for u in sent if u.mp_reach] == [(V6.prefix,)]
    assert updates(rib, [A, B, C, V6]) == []


def test_changes_send_withdrawals_and_only_the_changed_routes() -> None:
    rib = AdjRibOut()
    updates(rib, [A, B, V6])
    sent = updates(rib, [Route(A.prefix, communities=(1,)), V6])
    assert sent[0].withdrawn == (B.prefix,)
    assert (
        sent[1].nlri == (A.prefix,)
        and sent[1].attributes is not None
        and sent[1].attributes.communities == (1,)
    )
    assert len(sent) == 2


def test_routes_of_a_family_the_peer_lacks_are_reported_unsendable() -> None:
    facts = SessionFacts(64512, False, True, frozenset({IPV4_UNICAST}), FACTS.next_hops)
    _sendable, unsendable = AdjRibOut().changes([A, V6], facts)
    assert unsendable == [V6.prefix]
