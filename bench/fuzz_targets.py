"""The decoders the fuzz bench drives, each with valid seed inputs and the one error it may raise.

Every target is an entry point that reads bytes or objects someone else controls:

* ``arp`` / ``ndp``: a frame the layer-2 responder reads off the wire, parsed and, when it asks
  for an address, answered as the responder would (:mod:`...layer2.arp`, :mod:`...layer2.ndp`);
* ``heartbeat``: a membership datagram (:func:`...membership.wire.decode`); most inputs are
  signed with the key after mutation, so the bytes behind the HMAC get fuzzed too, then
  accounted for by the membership's replay guard, view, holds and version 1 peers;
* ``bgp``: a byte stream of BGP messages (:func:`...bgp.framing.decode_all`, the same header
  check and per-type decoders the session's reader uses); ``bgp_body``: one message body given
  straight to the per-type decoders, without the header check in front;
* ``bfd``: a BFD Control packet (:func:`...bfd.packet.decode`), then what a session does with it;
* ``config``: a set of metallb.io objects, read as the daemons load it (``parse_config``), as
  the Ansible modules check it and as ``lb_info`` reports it (:data:`CONFIG_READERS`); mostly
  the specs are mutated, now and then names, labels and whole objects;
* ``legacy``: a legacy MetalLB ConfigMap, as text or as parsed YAML, through conversion and
  the validation of the converted objects (what module ``legacy_config`` does).

The contract checked: the target returns, or raises exactly its ``expected`` error.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from ansible_collections.baremetal.lb.daemons.speaker.bfd import packet as bfd
from ansible_collections.baremetal.lb.daemons.speaker.bfd import session as bfd_session
from ansible_collections.baremetal.lb.daemons.speaker.bfd.settings import BFDSettings
from ansible_collections.baremetal.lb.daemons.speaker.bgp import messages, update
from ansible_collections.baremetal.lb.daemons.speaker.bgp.errors import BGPError
from ansible_collections.baremetal.lb.daemons.speaker.bgp.framing import decode, decode_all
from ansible_collections.baremetal.lb.daemons.speaker.layer2 import arp, ndp
from ansible_collections.baremetal.lb.daemons.speaker.layer2.ethernet import FrameError
from ansible_collections.baremetal.lb.daemons.speaker.membership import wire
from ansible_collections.baremetal.lb.daemons.speaker.membership.holds import PeerHolds
from ansible_collections.baremetal.lb.daemons.speaker.membership.legacy import LegacyPeers
from ansible_collections.baremetal.lb.daemons.speaker.membership.replay import ReplayGuard
from ansible_collections.baremetal.lb.daemons.speaker.membership.view import View
from ansible_collections.baremetal.lb.plugins.module_utils.config_errors import InvalidConfigError
from ansible_collections.baremetal.lb.plugins.module_utils.config_model import ClusterResources
from ansible_collections.baremetal.lb.plugins.module_utils.legacy_config import (
    LegacyConfigError,
    convert,
    load_yaml,
)
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import cluster_resources
from ansible_collections.baremetal.lb.plugins.module_utils.validation import (
    SERVICE_ALLOCATION_FIELDS,
    SPEC_FIELDS,
    parse_config,
    parse_for_report,
    validate_resources,
)

from .fuzz_mutate import ByteMutator, TreeMutator

OUR_MAC = bytes.fromhex("020000000001")
PEER_MAC = bytes.fromhex("020000000002")
HEARTBEAT_KEY = b"fuzz-bench-key"
NAMESPACE = "metallb-system"


@dataclass(frozen=True)
class Target:
    """One decoder under fuzz: how to make an input, how to feed it, which error is allowed."""

    name: str
    make_input: Callable[[], Any]
    feed: Callable[[Any], object]
    expected: type[Exception]
    show: Callable[[Any], Any] = lambda data: data  # the part of an input worth printing


# ------------------------------------------------------------------------------------- layer 2


def arp_seeds() -> list[bytes]:
    """Valid ARP request, reply and gratuitous frames, to mutate."""
    ours, theirs = ipaddress.IPv4Address("198.51.100.10"), ipaddress.IPv4Address("192.0.2.2")
    request = arp.request_frame(PEER_MAC, theirs, ours)
    _eth, parsed = arp.parse_frame(request)
    return [request, arp.reply_frame(parsed, OUR_MAC), *arp.gratuitous_frames(ours, OUR_MAC)]


def feed_arp(data: bytes) -> object:
    """Parse an ARP frame and build the reply the responder would send to a request."""
    _eth, request = arp.parse_frame(data)
    if request.op == arp.OP_REQUEST and not request.is_gratuitous:
        return arp.reply_frame(request, OUR_MAC)
    return request


def ndp_seeds() -> list[bytes]:
    """Valid Neighbor solicitations (one for DAD) and advertisements, to mutate."""
    ours = ipaddress.IPv6Address("2001:db8::10")
    host = ipaddress.IPv6Address("2001:db8::2")
    solicit = ndp.solicitation_frame(PEER_MAC, host, ours)
    dad = ndp.solicitation_frame(PEER_MAC, ndp.UNSPECIFIED, ours)
    packet = ndp.parse_frame(solicit)
    assert isinstance(packet.message, ndp.NeighborSolicitation)
    return [
        solicit,
        dad,
        ndp.reply_frame(packet, packet.message, OUR_MAC),
        ndp.unsolicited_advertisement_frame(ours, OUR_MAC),
    ]


def fix_ndp(data: bytes) -> bytes:
    """``data`` with the IPv6 payload length and ICMPv6 checksum made to match, to reach the options."""
    start = 14 + 40
    if len(data) < start + 4:
        return data
    buf = bytearray(data)
    buf[18:20] = struct.pack("!H", min(len(buf) - start, 0xFFFF))
    src, dst = ipaddress.IPv6Address(bytes(buf[22:38])), ipaddress.IPv6Address(bytes(buf[38:54]))
    buf[start + 2 : start + 4] = b"\0\0"
    buf[start + 2 : start + 4] = struct.pack("!H", ndp.checksum(src, dst, bytes(buf[start:])))
    return bytes(buf)


def feed_ndp(data: bytes) -> object:
    """Parse an ND frame and build the advertisement the responder would send to a solicitation."""
    packet = ndp.parse_frame(data)
    if isinstance(packet.message, ndp.NeighborSolicitation):
        return ndp.reply_frame(packet, packet.message, OUR_MAC)
    return packet


# ----------------------------------------------------------------------------------- heartbeat


def heartbeat_seeds() -> list[bytes]:
    """Valid signed datagrams of every kind, of both versions, to mutate."""
    message = wire.Message
    kind = wire.Kind
    return [
        wire.encode(HEARTBEAT_KEY, message(kind.HEARTBEAT, "node-a", 1_700_000_000, 7, 1_700_000_001)),
        wire.encode(HEARTBEAT_KEY, message(kind.LEAVE, "n" * wire.MAX_NAME, 2**63, 0, 2**64 - 1)),
        wire.encode(HEARTBEAT_KEY, message(kind.SUSPECT, "node-a", 5, 8, 9, "node-b", 4)),
        wire.encode(
            HEARTBEAT_KEY,
            message(kind.DIGEST, "node-a", 5, 8, 9, entries=(wire.DigestEntry("node-b", 3, False),)),
        ),
        wire.encode(
            HEARTBEAT_KEY,
            message(kind.HOLDS, "node-a", 5, 8, 9, holds=frozenset({ipaddress.ip_address("192.0.2.9")})),
        ),
        wire.encode(HEARTBEAT_KEY, message(kind.HEARTBEAT, "node-a", 5, 8, 9, version=wire.LEGACY_VERSION)),
    ]


def sign_heartbeat(body: bytes) -> bytes:
    """``body`` with a valid HMAC appended, as a sender holding the key would send it."""
    return body + hmac.new(HEARTBEAT_KEY, body, hashlib.sha256).digest()


def feed_heartbeat(data: bytes) -> object:
    """Decode a datagram with the bench's key and account for it as the membership service does."""
    message = wire.decode(HEARTBEAT_KEY, data)
    peers = ["node-a", message.sender]
    guard = ReplayGuard(max_clock_skew=30.0)
    guard.set_peers(peers)
    view = View("node-z", 1, dead_after=3.0, suspicion_timeout=9.0)
    view.set_peers(peers)
    view.join(0.0)
    holds = PeerHolds(fresh_for=9.0)
    legacy = LegacyPeers(dead_after=3.0)
    if not guard.admit(message, message.sent_at_ns):
        return False
    holds.receive(message, 1.0)
    legacy.receive(message, 1.0)
    out = [] if message.version == wire.LEGACY_VERSION else view.receive(message, 1.0)
    return out, view.tick(10.0), holds.expire(10.0, view.live() | legacy.live()), legacy.next_expiry()


# ----------------------------------------------------------------------------------------- BGP


def bgp_seeds() -> list[bytes]:
    """Valid OPENs, KEEPALIVE, NOTIFICATION, ROUTE-REFRESH and UPDATEs with every attribute we read."""
    rid = ipaddress.IPv4Address("192.0.2.1")
    caps = messages.Capabilities(
        families=(messages.IPV4_UNICAST, messages.IPV6_UNICAST),
        four_octet_asn=4200000001,
        route_refresh=True,
        graceful_restart=messages.GracefulRestart(120, (messages.IPV4_UNICAST,)),
    )
    attrs = update.Attributes(
        as_path=(update.AsPathSegment(update.AS_SEQUENCE, (4200000001, 64512)),),
        next_hop=ipaddress.IPv4Address("192.0.2.9"),
        med=5,
        local_pref=200,
        communities=(65000 << 16 | 100,),
        large_communities=((4200000001, 1, 2),),
    )
    v4 = (ipaddress.ip_network("198.51.100.0/24"), ipaddress.ip_network("203.0.113.7/32"))
    v6 = (ipaddress.ip_network("2001:db8:1::/48"), ipaddress.ip_network("2001:db8::5/128"))
    hops = (ipaddress.IPv6Address("2001:db8::1"), ipaddress.IPv6Address("fe80::1"))
    return [
        messages.encode_open(messages.Open(64512, 90, rid, caps)),
        messages.encode_open(messages.Open(64512, 3, rid, messages.Capabilities())),
        messages.encode_keepalive(),
        messages.encode_notification(messages.Notification(6, 2, b"bye")),
        messages.encode_route_refresh(messages.RouteRefresh(messages.IPV6_UNICAST)),
        update.encode_update(update.Update(withdrawn=v4, attributes=attrs, nlri=v4)),
        update.encode_update(update.Update(attributes=attrs, nlri=v4), four_octet=False),
        update.encode_update(
            update.Update(attributes=attrs, mp_reach=update.MpReach(messages.IPV6_UNICAST, hops, v6))
        ),
        update.encode_update(update.Update(mp_unreach=update.MpUnreach(messages.IPV6_UNICAST, v6))),
        update.end_of_rib(messages.IPV4_UNICAST),
    ]


def fix_bgp(data: bytes) -> bytes:
    """``data`` with the marker and the first header's length made right, to reach the body decoders."""
    if len(data) < messages.HEADER_LENGTH:
        return data
    return bytes(messages.MARKER) + struct.pack("!H", min(len(data), 0xFFFF)) + data[18:]


def feed_bgp(item: tuple[bytes, bool]) -> object:
    """Decode every message in a byte string, with 4-octet AS paths or not."""
    data, four_octet = item
    return decode_all(data, four_octet)


def feed_bgp_body(item: tuple[int, bytes, bool]) -> object:
    """Decode one message body by type, as :func:`...bgp.framing.decode` does after the header."""
    kind, body, four_octet = item
    return decode(kind, body, four_octet)


# ----------------------------------------------------------------------------------------- BFD


def bfd_seeds() -> list[bytes]:
    """Valid BFD Control packets in Up, Down and Init, to mutate."""
    up = bfd.ControlPacket(bfd.State.UP, 5, 7, 100_000, 300_000, 3, required_min_echo_rx_us=50_000, poll=True)
    down = bfd.ControlPacket(
        bfd.State.DOWN, 9, 0, 1_000_000, 1_000_000, 3, diag=bfd.Diag.CONTROL_DETECTION_TIME_EXPIRED
    )
    return [
        up.encode(),
        down.encode(),
        bfd.ControlPacket(bfd.State.INIT, 1, 2, 1, 1, 255, final=True).encode(),
    ]


def fix_bfd(data: bytes) -> bytes:
    """``data`` with version 1 and a Length field that matches, to reach the later checks."""
    if len(data) < 4:
        return data
    return bytes([(data[0] & 0x1F) | 0x20, data[1], data[2], min(len(data), 255)]) + data[4:]


def feed_bfd(data: bytes) -> object:
    """Decode a packet, then run it through a fresh session as the engine does, sending what it says."""
    packet = bfd.decode(data)
    session = bfd_session.Session(1, BFDSettings(), now=0.0, rng=random.Random(0))
    steps = [session.receive(packet, 1.0), session.tick(2.0), session.tick(1e7)]
    return [step.send.encode() for step in steps if step.send is not None], session.status()


# -------------------------------------------------------------------------------------- config


def _object(
    kind: str, name: str, spec: dict[str, Any], labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "metallb.io/v1beta1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels or {}},
        "spec": spec,
    }


def config_seed() -> list[dict[str, Any]]:
    """A valid configuration using every kind and most fields, plus two nodes."""
    node = {"kind": "Node", "metadata": {"name": "node-a", "labels": {"rack": "a"}}}
    return [
        _object(
            "IPAddressPool",
            "web",
            {
                "addresses": ["192.0.2.0/26", "2001:db8::/64"],
                "serviceAllocation": {
                    "priority": 5,
                    "namespaces": ["shop"],
                    "serviceSelectors": [{"matchLabels": {"app": "web"}}],
                },
            },
        ),
        _object(
            "IPAddressPool",
            "ops",
            {"addresses": ["198.51.100.10 - 198.51.100.20"], "autoAssign": False, "avoidBuggyIPs": True},
            {"tier": "ops"},
        ),
        _object(
            "L2Advertisement",
            "l2",
            {
                "ipAddressPools": ["web"],
                "interfaces": ["eth0"],
                "nodeSelectors": [{"matchExpressions": [{"key": "rack", "operator": "In", "values": ["a"]}]}],
            },
        ),
        _object(
            "BGPAdvertisement",
            "agg",
            {
                "ipAddressPools": ["web"],
                "aggregationLength": 26,
                "aggregationLengthV6": 64,
                "communities": ["edge", "64500:1"],
                "peers": ["r1"],
            },
        ),
        _object(
            "BGPAdvertisement",
            "plain",
            {"ipAddressPoolSelectors": [{"matchLabels": {"tier": "ops"}}], "localPref": 100},
        ),
        _object("Community", "aliases", {"communities": [{"name": "edge", "value": "large:64500:1:2"}]}),
        _object("BFDProfile", "fast", {"receiveInterval": 100, "detectMultiplier": 3}),
        _object("BFDProfile", "echo", {"echoMode": True, "echoInterval": 60, "passiveMode": True}),
        _object(
            "BGPPeer",
            "r1",
            {
                "myASN": 64500,
                "peerASN": 64501,
                "peerAddress": "192.0.2.254",
                "bfdProfile": "fast",
                "holdTime": "9s",
                "nodeSelectors": [{"matchLabels": {"rack": "a"}}],
                "passwordSecret": {"name": "s", "namespace": NAMESPACE},
            },
        ),
        _object(
            "BGPPeer",
            "r2",
            {
                "myASN": 64500,
                "dynamicASN": "external",
                "peerAddress": "2001:db8::fe",
                "keepaliveTime": "10s",
                "sourceAddress": "2001:db8::1",
                "routerID": "192.0.2.1",
            },
        ),
        node,
    ]


_CONFIG_KEYS = sorted(
    set().union(*SPEC_FIELDS.values())
    | SERVICE_ALLOCATION_FIELDS
    | {"matchLabels", "matchExpressions", "key", "operator", "values", "name", "namespace", "value"}
)
_NAMES = ("web", "ops", "l2", "agg", "r1", "fast", "edge", "x", "")


def mutate_config(
    rng: random.Random, tree: TreeMutator, seed: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The seed with one object's spec (sometimes labels or name) mutated, or objects dropped or doubled."""
    objects = list(seed)
    for _unused in range(rng.randint(1, 2)):
        index = rng.randrange(len(objects))
        obj = objects[index]
        roll = rng.random()
        if roll < 0.8:
            obj = {**obj, "spec": tree.mutate(obj.get("spec"))}
        elif roll < 0.9:
            labels = {rng.choice(_CONFIG_KEYS): rng.choice(_NAMES) for _unused in range(rng.randint(0, 2))}
            if rng.random() < 0.2:  # the API server always sends text to text; the Ansible modules may not
                labels = tree.mutate(labels)
            obj = {**obj, "metadata": {**obj["metadata"], "labels": labels}}
        elif roll < 0.95:
            obj = {**obj, "metadata": {**obj["metadata"], "name": rng.choice(_NAMES)}}
        else:
            objects.insert(rng.randrange(len(objects)), obj)
            continue
        objects[index] = obj
    if rng.random() < 0.1:
        del objects[rng.randrange(len(objects))]
    return objects


# How the configuration is read: as the daemons load it, as the Ansible modules check it
# (strict), and as lb_info reports it (keeping what parses of objects with errors).
CONFIG_READERS: tuple[Callable[[ClusterResources], object], ...] = (
    parse_config,
    partial(validate_resources, strict=True),
    parse_for_report,
)


def feed_config(item: tuple[int, Sequence[dict[str, Any]]]) -> object:
    """Read the objects with ``CONFIG_READERS[index]``; only parse_config raises (InvalidConfigError)."""
    index, objects = item
    return CONFIG_READERS[index](cluster_resources(objects))


# -------------------------------------------------------------------------------------- legacy

LEGACY_SEED = """\
address-pools:
- name: edge_v4
  protocol: bgp
  addresses: [203.0.113.0/26, 203.0.113.100-203.0.113.120]
  auto-assign: false
  bgp-advertisements:
  - aggregation-length: 29
    localpref: 50
    communities: [64500:10, blackhole]
  - aggregation-length-v6: 120
- name: lan
  protocol: layer2
  avoid-buggy-ips: true
  addresses:
  - 192.0.2.32/27
  - 2001:db8:5::/120
bgp-communities:
  blackhole: 65535:666
bfd-profiles:
- name: quick
  detect-multiplier: 5
  receive-interval: 150
  transmit-interval: 150
  passive-mode: true
peers:
- my-asn: 4200000000
  peer-asn: 64501
  peer-address: 198.51.100.1
  peer-port: 1179
  hold-time: 9s
  router-id: 198.51.100.2
  bfd-profile: quick
  node-selectors:
  - match-expressions:
    - {key: rack, operator: NotIn, values: [r9]}
- my-asn: 64500
  peer-asn: 64500
  peer-address: 2001:db8::1
  source-address: 2001:db8::2
  password: sesame
"""

_LEGACY_KEYS = sorted(
    {
        "peers", "address-pools", "bgp-communities", "bfd-profiles", "peer-address", "peer-asn", "my-asn",
        "peer-port", "source-address", "hold-time", "keepalive-time", "router-id", "password", "bfd-profile",
        "ebgp-multihop", "node-selectors", "match-labels", "match-expressions", "key", "operator", "values",
        "name", "protocol", "addresses", "avoid-buggy-ips", "auto-assign", "bgp-advertisements",
        "aggregation-length", "aggregation-length-v6", "localpref", "communities", "receive-interval",
        "transmit-interval", "echo-interval", "echo-mode", "passive-mode", "minimum-ttl", "detect-multiplier",
        "layer2", "bgp",
    }
)  # fmt: skip


def feed_legacy(item: str | object) -> object:
    """Read (text), convert and validate a legacy configuration as module ``legacy_config`` does."""
    data = load_yaml(item) if isinstance(item, str) else item
    conversion = convert(data, NAMESPACE)
    return [conversion.describe(error) for error in validate_resources(cluster_resources(conversion.objects))]


# ------------------------------------------------------------------------------------- targets


def _bytes_target(
    name: str,
    rng: random.Random,
    seeds: list[bytes],
    feed: Callable[[bytes], object],
    expected: type[Exception],
    *,
    fix: Callable[[bytes], bytes] | None = None,
    fix_rate: float = 0.6,
) -> Target:
    mutator = ByteMutator(rng, seeds)

    def make() -> bytes:
        data = mutator.mutate(rng.choice(seeds))
        return fix(data) if fix is not None and rng.random() < fix_rate else data

    return Target(name, make, feed, expected)


def build_targets(rng: random.Random) -> dict[str, Target]:
    """Every target, drawing its randomness from ``rng`` (one seed makes a run repeatable)."""
    heartbeat_bodies = [seed[: -hashlib.sha256().digest_size] for seed in heartbeat_seeds()]
    heartbeat_mutator = ByteMutator(rng, heartbeat_bodies)

    def make_heartbeat() -> bytes:
        body = heartbeat_mutator.mutate(rng.choice(heartbeat_bodies))
        return sign_heartbeat(body) if rng.random() < 0.9 else body

    bgp = bgp_seeds()
    bgp_mutator = ByteMutator(rng, bgp)

    def make_bgp() -> tuple[bytes, bool]:
        data = bgp_mutator.mutate(rng.choice(bgp))
        return (fix_bgp(data) if rng.random() < 0.7 else data), rng.random() < 0.7

    bodies = [seed[messages.HEADER_LENGTH :] for seed in bgp]
    kinds = {seed[messages.HEADER_LENGTH :]: seed[18] for seed in bgp}
    body_mutator = ByteMutator(rng, bodies)

    def make_bgp_body() -> tuple[int, bytes, bool]:
        body = rng.choice(bodies)
        kind = kinds[body] if rng.random() < 0.8 else rng.randint(1, 5)
        return kind, body_mutator.mutate(body), rng.random() < 0.7

    config = config_seed()
    config_tree = TreeMutator(rng, _CONFIG_KEYS)

    legacy_data = load_yaml(LEGACY_SEED)
    legacy_tree = TreeMutator(rng, _LEGACY_KEYS)
    legacy_text = ByteMutator(rng, [LEGACY_SEED.encode()])

    def make_legacy() -> str | object:
        if rng.random() < 0.15:  # YAML parsing is slow; most inputs mutate the parsed tree
            return legacy_text.mutate(LEGACY_SEED.encode()).decode("utf-8", "replace")
        tree: object = legacy_tree.mutate(legacy_data)
        return tree

    return {
        target.name: target
        for target in (
            _bytes_target("arp", rng, arp_seeds(), feed_arp, FrameError),
            _bytes_target("ndp", rng, ndp_seeds(), feed_ndp, FrameError, fix=fix_ndp),
            Target("heartbeat", make_heartbeat, feed_heartbeat, wire.WireError),
            Target("bgp", make_bgp, feed_bgp, BGPError),
            Target("bgp_body", make_bgp_body, feed_bgp_body, BGPError),
            _bytes_target("bfd", rng, bfd_seeds(), feed_bfd, bfd.MalformedPacket, fix=fix_bfd, fix_rate=0.5),
            Target(
                "config",
                lambda: (rng.randrange(len(CONFIG_READERS)), mutate_config(rng, config_tree, config)),
                feed_config,
                InvalidConfigError,
                lambda item: (item[0], [obj for obj in item[1] if obj not in config]),
            ),
            Target("legacy", make_legacy, feed_legacy, LegacyConfigError),
        )
    }
