"""Check a whole MetalLB configuration and turn it into typed objects.

Used by the daemons (to keep the last good configuration and say why a new one is refused)
and by the Ansible modules (to refuse bad input before it reaches the cluster). Every error
names the object, the field path and the fix; all errors are returned, not just the first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from .addresses import AddressError, AddressRange, IPFamily, parse_address_entry
from .communities import Community, parse_community
from .config_errors import ConfigError, InvalidConfigError
from .config_model import (
    BFDProfile,
    BGPAdvertisement,
    BGPPeer,
    ClusterResources,
    Config,
    L2Advertisement,
    Manifest,
    NodePreference,
)
from .failback import FAILBACK_ANNOTATION, NON_REVERTIVE, REVERTIVE, policy_problem
from .label_selectors import LabelSelector, matches_any
from .object_reader import ObjectReader
from .pools import AddressPool, ServiceAllocation, find_overlaps

T = TypeVar("T")
MAX_ASN = 2**32 - 1
MAX_PEER_PORT = 16384  # MetalLB's v1beta2 limit
MAX_BGP_TIMER = 65535.0  # seconds; BGP carries the hold time in 16 bits
_DYNAMIC_ASN = ("internal", "external")
_BFD_LIMITS = {
    "receiveInterval": (10, 60000, 300),
    "transmitInterval": (10, 60000, 300),
    "detectMultiplier": (2, 255, 3),
    "echoInterval": (10, 60000, 50),
    "minimumTtl": (1, 254, 254),
}
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_INTERFACE = re.compile(r"^[^/:\s]{1,15}$")
# The spec fields of each kind, as in the CRDs (tests/unit/.../test_validation.py checks
# they match); any other field is refused, as the API server's strict field validation does.
SPEC_FIELDS = {
    "IPAddressPool": frozenset({"addresses", "autoAssign", "avoidBuggyIPs", "serviceAllocation"}),
    "L2Advertisement": frozenset(
        {
            "ipAddressPools",
            "ipAddressPoolSelectors",
            "nodeSelectors",
            "interfaces",
            "serviceSelectors",
            "preferredNodeSelectors",
        }
    ),
    "BGPAdvertisement": frozenset(
        {
            "aggregationLength",
            "aggregationLengthV6",
            "localPref",
            "communities",
            "ipAddressPools",
            "ipAddressPoolSelectors",
            "nodeSelectors",
            "peers",
            "serviceSelectors",
        }
    ),
    "BGPPeer": frozenset(
        {
            "myASN",
            "peerASN",
            "localASN",
            "dynamicASN",
            "peerAddress",
            "interface",
            "sourceAddress",
            "peerPort",
            "holdTime",
            "keepaliveTime",
            "connectTime",
            "routerID",
            "nodeSelectors",
            "password",
            "passwordSecret",
            "bfdProfile",
            "enableGracefulRestart",
            "ebgpMultiHop",
            "vrf",
            "disableMP",
            "dualStackAddressFamily",
        }
    ),
    "Community": frozenset({"communities"}),
    "BFDProfile": frozenset(_BFD_LIMITS) | {"echoMode", "passiveMode"},
}
SERVICE_ALLOCATION_FIELDS = frozenset({"priority", "namespaces", "namespaceSelectors", "serviceSelectors"})
PREFERENCE_FIELDS = frozenset({"weight", "preference"})  # one entry of preferredNodeSelectors
MAX_PREFERENCE_WEIGHT = 100  # as Kubernetes' PreferredSchedulingTerm


def validate_resources(resources: ClusterResources, strict: bool = False) -> list[ConfigError]:
    """Return every error in ``resources`` (empty when the configuration is good).

    ``strict`` also refuses CIDRs with host bits set, which MetalLB quietly reads as their
    network; the Ansible modules use it to catch likely typos.
    """
    return _Parser(resources, strict).parse()[1]


def parse_config(resources: ClusterResources, strict: bool = False) -> Config:
    """Return the typed configuration; raise :class:`InvalidConfigError` listing all errors."""
    config, errors = _Parser(resources, strict).parse()
    if errors:
        raise InvalidConfigError(errors)
    return config


def parse_for_report(resources: ClusterResources) -> tuple[Config, list[ConfigError]]:
    """Return every object as far as it parses, and every error; for reports, never to run on.

    Objects with errors are kept with the parts that parse (a pool with its entries that parse,
    an advertisement with the pools that exist), so a report can still show them.
    """
    return _Parser(resources, strict=False, keep_invalid=True).parse()


class _Parser:
    def __init__(self, resources: ClusterResources, strict: bool, keep_invalid: bool = False) -> None:
        self.resources, self.strict, self.keep_invalid = resources, strict, keep_invalid
        self.errors: list[ConfigError] = []
        self.pool_entries: dict[str, list[tuple[int, AddressRange]]] = {}
        self.pool_labels: dict[str, Mapping[str, str]] = {}

    def parse(self) -> tuple[Config, list[ConfigError]]:
        pools = self._each("IPAddressPool", self.resources.pools, self._pool)
        self._check_overlaps()
        communities = self._communities()
        bfd = self._each("BFDProfile", self.resources.bfd_profiles, self._bfd_profile)
        bfd_names = {str((obj.get("metadata") or {}).get("name")) for obj in self.resources.bfd_profiles}
        peers = self._each("BGPPeer", self.resources.bgp_peers, lambda r: self._peer(r, bfd_names))
        l2 = self._each("L2Advertisement", self.resources.l2_advertisements, self._l2_advertisement)
        bgp_ads = self.resources.bgp_advertisements
        bgp = self._each("BGPAdvertisement", bgp_ads, lambda r: self._bgp(r, communities))
        self._check_local_prefs(bgp)
        self._check_bfd_echo(bgp, peers, {profile.name: profile for profile in bfd})
        config = Config(
            pools=tuple(pools),
            l2_advertisements=tuple(l2),
            bgp_advertisements=tuple(bgp),
            bgp_peers=tuple(peers),
            bfd_profiles={profile.name: profile for profile in bfd},
            communities=communities,
        )
        return config, self.errors

    def _each(self, kind: str, objects: Iterable[Manifest], build: Callable[[ObjectReader], T]) -> list[T]:
        built: list[T] = []
        seen: set[str] = set()
        for obj in objects:
            reader = ObjectReader(kind, obj, self.errors)
            if reader.name in seen:
                reader.fail("metadata.name", f"another {kind} has this name", "give each object its own name")
            seen.add(reader.name)
            _check_known_fields(reader, SPEC_FIELDS[kind], reader.spec, "spec")
            before = len(self.errors)
            item = build(reader)
            if len(self.errors) == before or self.keep_invalid:
                built.append(item)
        return built

    # -- IPAddressPool ---------------------------------------------------------------------------

    def _pool(self, reader: ObjectReader) -> AddressPool:
        entries = reader.spec.get("addresses")
        if not isinstance(entries, list) or not entries:
            reader.fail("spec.addresses", "is missing or empty", "list at least one CIDR or range")
            entries = []
        parsed: list[tuple[int, AddressRange]] = []
        for index, entry in enumerate(entries):
            try:
                parsed.append((index, parse_address_entry(str(entry), self.strict)))
            except AddressError as error:
                reader.fail(f"spec.addresses[{index}]", str(error), "fix or remove the entry")
        self.pool_entries[reader.name] = parsed
        self.pool_labels[reader.name] = reader.labels
        return AddressPool(
            reader.name,
            tuple(entry for _index, entry in parsed),
            auto_assign=reader.boolean("autoAssign", True),
            avoid_buggy_ips=reader.boolean("avoidBuggyIPs", False),
            service_allocation=self._service_allocation(reader),
            labels=reader.labels,
        )

    def _service_allocation(self, reader: ObjectReader) -> ServiceAllocation | None:
        spec = reader.spec.get("serviceAllocation")
        if spec is None:
            return None
        if not isinstance(spec, Mapping):
            reader.fail("spec.serviceAllocation", "must be a mapping", "write its fields as key: value")
            return None
        priority = spec.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int) or priority < 0:
            reader.fail("spec.serviceAllocation.priority", f"{priority!r} is not >= 0", "use 0 or more")
            priority = 0
        path = "spec.serviceAllocation"
        _check_known_fields(reader, SERVICE_ALLOCATION_FIELDS, spec, path)
        namespaces = reader.strings("namespaces", spec, path)
        for index, namespace in enumerate(namespaces):
            if len(namespace) > 63 or not _NAMESPACE.match(namespace):
                reader.fail(
                    f"{path}.namespaces[{index}]",
                    f"{namespace!r} is not a namespace name",
                    "use at most 63 lower-case letters, digits and '-', "
                    "starting and ending with a letter or digit",
                )
        return ServiceAllocation(
            priority=priority,
            namespaces=frozenset(namespaces),
            namespace_selectors=reader.selectors("namespaceSelectors", spec, path),
            service_selectors=reader.selectors("serviceSelectors", spec, path),
        )

    def _check_overlaps(self) -> None:
        owners = (
            ((pool, index), entry) for pool, entries in self.pool_entries.items() for index, entry in entries
        )
        for overlap in find_overlaps(owners):
            (first_pool, first_index), (pool, index) = overlap.first, overlap.second
            self.errors.append(
                ConfigError(
                    "IPAddressPool",
                    pool,
                    f"spec.addresses[{index}]",
                    f"overlaps IPAddressPool {first_pool!r} spec.addresses[{first_index}] "
                    f"on {overlap.shared}",
                    "make every address belong to one entry of one pool",
                )
            )

    # -- Community, BFDProfile, BGPPeer ----------------------------------------------------------

    def _communities(self) -> dict[str, Community]:
        aliases: dict[str, Community] = {}
        owners: dict[str, str] = {}
        for obj in self.resources.communities:
            reader = ObjectReader("Community", obj, self.errors)
            items = reader.spec.get("communities") or []
            for index, item in enumerate(items if isinstance(items, list) else []):
                path = f"spec.communities[{index}]"
                if not isinstance(item, Mapping):
                    reader.fail(path, "must be a mapping", "write the alias as name: and value:")
                    continue
                alias, value = str(item.get("name") or ""), str(item.get("value") or "")
                if not alias:
                    reader.fail(f"{path}.name", "is missing", "name the alias")
                    continue
                if ":" in alias:
                    reader.fail(
                        f"{path}.name",
                        f"alias {alias!r} contains ':' and would read as a community value",
                        "choose an alias name without ':'",
                    )
                    continue
                if alias in owners:
                    reader.fail(
                        f"{path}.name",
                        f"alias {alias!r} is defined in Community {owners[alias]!r} too",
                        "define each alias once",
                    )
                    continue
                try:
                    aliases[alias] = parse_community(value)
                    owners[alias] = reader.name
                except ValueError as error:
                    reader.fail(f"{path}.value", str(error), "write the community value itself, not an alias")
        return aliases

    def _bfd_profile(self, reader: ObjectReader) -> BFDProfile:
        values = {key: reader.integer(key, *limits) for key, limits in _BFD_LIMITS.items()}
        return BFDProfile(
            reader.name,
            receive_interval=values["receiveInterval"],
            transmit_interval=values["transmitInterval"],
            detect_multiplier=values["detectMultiplier"],
            echo_interval=values["echoInterval"],
            minimum_ttl=values["minimumTtl"],
            echo_mode=reader.boolean("echoMode", False),
            passive_mode=reader.boolean("passiveMode", False),
        )

    def _peer(self, reader: ObjectReader, bfd_profiles: set[str]) -> BGPPeer:
        spec = reader.spec
        my_asn = reader.integer("myASN", 1, MAX_ASN, 1) if spec.get("myASN") is not None else 0
        if not my_asn:
            reader.fail("spec.myASN", "is missing", "set the local AS number")
        peer_asn = reader.integer("peerASN", 0, MAX_ASN, 0) or None
        local_asn = reader.integer("localASN", 1, MAX_ASN, 0) or None
        dynamic = spec.get("dynamicASN") or None
        if (peer_asn is None) == (dynamic is None):
            reader.fail(
                "spec.peerASN",
                "exactly one of peerASN and dynamicASN must be set",
                "set peerASN to the peer's AS number, or dynamicASN to internal or external",
            )
        if dynamic is not None and dynamic not in _DYNAMIC_ASN:
            reader.fail("spec.dynamicASN", f"{dynamic!r} is not a mode", "use internal or external")
        address, interface = reader.address("peerAddress"), reader.text("interface")
        if (address is None) == (not interface):
            reader.fail(
                "spec.peerAddress",
                "exactly one of peerAddress and interface must be set",
                "give the peer's address, or the interface for unnumbered BGP",
            )
        ebgp_multihop = reader.boolean("ebgpMultiHop", False)
        if ebgp_multihop and (peer_asn == my_asn or dynamic == "internal"):
            reader.fail(
                "spec.ebgpMultiHop",
                "is set on an iBGP peer (peerASN = myASN, or dynamicASN internal)",
                "remove it, or use a peerASN different from myASN (or dynamicASN: external)",
            )
        source = reader.address("sourceAddress")
        if source is not None and address is not None and source.version != address.version:
            reader.fail(
                "spec.sourceAddress",
                f"{source} and peerAddress {address} are of different address families",
                "use a source address of the peer's family",
            )
        hold, keepalive = reader.duration("holdTime"), reader.duration("keepaliveTime")
        self._check_timers(reader, hold, keepalive)
        connect = reader.duration("connectTime")
        if connect is not None and (not 1 <= connect <= MAX_BGP_TIMER or connect != int(connect)):
            reader.fail(
                "spec.connectTime",
                f"{connect:g}s is not a whole number of seconds from 1s to 65535s",
                "write it like '10s'",
            )
        disable_mp = reader.boolean("disableMP", False)
        dual_stack = reader.boolean("dualStackAddressFamily", False)
        if disable_mp and dual_stack:
            reader.fail(
                "spec.disableMP",
                "disableMP and dualStackAddressFamily contradict each other",
                "keep dualStackAddressFamily (disableMP is deprecated)",
            )
        router_id = reader.address("routerID")
        if router_id is not None and router_id.version != 4:
            reader.fail("spec.routerID", f"{router_id} is not IPv4", "write the router ID as an IPv4 address")
        password, secret = reader.text("password"), _secret_ref(reader)
        if password and secret:
            reader.fail("spec.password", "password and passwordSecret are both set", "keep one of them")
        bfd_profile = reader.text("bfdProfile")
        if bfd_profile and bfd_profile not in bfd_profiles:
            reader.fail(
                "spec.bfdProfile",
                f"BFDProfile {bfd_profile!r} does not exist",
                "create that BFDProfile or name an existing one",
            )
        return BGPPeer(
            reader.name,
            my_asn=my_asn,
            peer_asn=peer_asn,
            local_asn=local_asn,
            dynamic_asn=dynamic,
            address=address,
            interface=_interface(reader, "interface", interface),
            source_address=source,
            port=reader.integer("peerPort", 1, MAX_PEER_PORT, 179),
            hold_time=hold,
            keepalive_time=keepalive,
            connect_time=connect,
            router_id=router_id,
            node_selectors=reader.selectors("nodeSelectors"),
            password=password,
            password_secret=secret,
            bfd_profile=bfd_profile,
            ebgp_multihop=ebgp_multihop,
            graceful_restart=reader.boolean("enableGracefulRestart", False),
            vrf=reader.text("vrf"),
            disable_mp=disable_mp,
            dual_stack_address_family=dual_stack,
        )

    @staticmethod
    def _check_timers(reader: ObjectReader, hold: float | None, keepalive: float | None) -> None:
        # As MetalLB: a missing timer is derived from the other (keepalive = hold / 3).
        for key, value in (("holdTime", hold), ("keepaliveTime", keepalive)):
            if value is not None and value > MAX_BGP_TIMER:
                reader.fail(f"spec.{key}", f"{value:g}s is longer than 65535s", "use 65535s or less")
                return
        if hold is None:
            if keepalive is None:
                return
            hold = keepalive * 3
        keepalive = hold / 3 if keepalive is None else keepalive
        if hold != 0 and hold < 3:
            reader.fail("spec.holdTime", f"{hold:g}s is neither 0 nor at least 3s", "use 0s or 3s and more")
        if keepalive > hold:
            reader.fail(
                "spec.keepaliveTime",
                f"keepaliveTime {keepalive:g}s exceeds holdTime {hold:g}s",
                "make keepaliveTime at most holdTime (usually a third of it)",
            )

    # -- advertisements --------------------------------------------------------------------------

    def _selected_pools(self, reader: ObjectReader) -> frozenset[str]:
        names = reader.strings("ipAddressPools")
        for index, name in enumerate(names):
            if name not in self.pool_entries:
                reader.fail(
                    f"spec.ipAddressPools[{index}]",
                    f"IPAddressPool {name!r} does not exist",
                    "create that pool or fix the name",
                )
        selectors = reader.selectors("ipAddressPoolSelectors")
        if not names and not reader.spec.get("ipAddressPoolSelectors"):
            return frozenset(self.pool_entries)
        chosen = {name for name, labels in self.pool_labels.items() if matches_any(selectors, labels)}
        return frozenset(chosen | (set(names) & set(self.pool_entries)))

    def _l2_advertisement(self, reader: ObjectReader) -> L2Advertisement:
        return L2Advertisement(
            reader.name,
            pools=self._selected_pools(reader),
            node_selectors=reader.selectors("nodeSelectors"),
            interfaces=tuple(
                name
                for index, name in enumerate(reader.strings("interfaces"))
                if _interface(reader, f"interfaces[{index}]", name)
            ),
            service_selectors=reader.selectors("serviceSelectors"),
            preferred_node_selectors=_preferences(reader),
            failback=_failback(reader),
        )

    def _bgp(self, reader: ObjectReader, aliases: Mapping[str, Community]) -> BGPAdvertisement:
        v4 = reader.integer("aggregationLength", 1, 32, 32)
        v6 = reader.integer("aggregationLengthV6", 1, 128, 128)
        service_selectors = reader.selectors("serviceSelectors")
        if service_selectors and (v4, v6) != (32, 128):
            reader.fail(
                "spec.serviceSelectors",
                "need the default aggregationLength 32 and aggregationLengthV6 128 "
                "(an aggregated route cannot follow single Services)",
                "remove serviceSelectors or the aggregation lengths",
            )
        communities = []
        for index, text in enumerate(reader.strings("communities")):
            try:
                communities.append(aliases[text] if text in aliases else parse_community(text))
            except ValueError as error:
                reader.fail(f"spec.communities[{index}]", str(error), "fix the value or define the alias")
        pools = self._selected_pools(reader)
        for pool in sorted(pools):
            self._check_aggregation(reader, pool, v4, v6)
        return BGPAdvertisement(
            reader.name,
            pools=pools,
            aggregation_length=v4,
            aggregation_length_v6=v6,
            local_pref=reader.integer("localPref", 0, MAX_ASN, 0),
            communities=tuple(communities),
            node_selectors=reader.selectors("nodeSelectors"),
            peers=reader.strings("peers"),
            service_selectors=service_selectors,
        )

    def _check_aggregation(self, reader: ObjectReader, pool: str, v4: int, v6: int) -> None:
        # MetalLB's rule: per addresses entry, the aggregation may not be shorter than the entry's
        # widest CIDR, or the aggregated route would cover addresses outside the pool.
        for index, entry in self.pool_entries.get(pool, []):
            v4_entry = entry.family is IPFamily.IPV4
            length, key = (v4, "aggregationLength") if v4_entry else (v6, "aggregationLengthV6")
            widest = entry.widest_prefix_length()
            if length < widest:
                reader.fail(
                    f"spec.{key}",
                    f"/{length} is shorter than /{widest}, the widest prefix of "
                    f"IPAddressPool {pool!r} spec.addresses[{index}] ({entry})",
                    f"use {key} {widest} or longer",
                )

    def _check_local_prefs(self, advertisements: Sequence[BGPAdvertisement]) -> None:
        for index, ad in enumerate(advertisements):
            for other in advertisements[:index]:
                shared = sorted(ad.pools & other.pools)
                if shared and not self._local_prefs_compatible(ad, other, shared):
                    self.errors.append(
                        ConfigError(
                            "BGPAdvertisement",
                            ad.name,
                            "spec.localPref",
                            f"localPref {ad.local_pref} conflicts with localPref {other.local_pref} of "
                            f"BGPAdvertisement {other.name!r} for pool {shared[0]!r} "
                            "(same routes, nodes and peers)",
                            "use the same localPref, or different aggregation lengths, peers or nodes",
                        )
                    )

    def _check_bfd_echo(
        self,
        advertisements: Sequence[BGPAdvertisement],
        peers: Sequence[BGPPeer],
        profiles: Mapping[str, BFDProfile],
    ) -> None:
        # As MetalLB: BFD echo works over IPv4 only, so no peer with an echo profile may be sent
        # the routes of a pool that has IPv6 addresses. One error per peer, naming the first cause.
        echo_peers = [p for p in peers if p.bfd_profile in profiles and profiles[p.bfd_profile].echo_mode]
        for peer in echo_peers:
            cause = next(
                (
                    (ad.name, pool)
                    for ad in advertisements
                    if not ad.peers or peer.name in ad.peers
                    for pool in sorted(ad.pools)
                    if any(entry.family is IPFamily.IPV6 for _i, entry in self.pool_entries.get(pool, []))
                ),
                None,
            )
            if cause is not None:
                self.errors.append(
                    ConfigError(
                        "BGPPeer",
                        peer.name,
                        "spec.bfdProfile",
                        f"BFDProfile {peer.bfd_profile!r} has echoMode, but BGPAdvertisement {cause[0]!r} "
                        f"sends this peer the IPv6 routes of IPAddressPool {cause[1]!r}; "
                        "BFD echo works over IPv4 only",
                        "use a BFDProfile without echoMode for this peer, or leave the peer out of "
                        "that advertisement's peers",
                    )
                )

    def _local_prefs_compatible(
        self, ad: BGPAdvertisement, other: BGPAdvertisement, pools: list[str]
    ) -> bool:
        # As MetalLB: advertisements reaching the same route from the same nodes to the same
        # peers must agree; service selectors make the overlap unknowable, so they pass.
        if ad.local_pref == other.local_pref or ad.service_selectors or other.service_selectors:
            return True
        families = {entry.family for pool in pools for _index, entry in self.pool_entries.get(pool, [])}
        differs = {
            IPFamily.IPV4: ad.aggregation_length != other.aggregation_length,
            IPFamily.IPV6: ad.aggregation_length_v6 != other.aggregation_length_v6,
        }
        if families and all(differs[family] for family in families):
            return True
        if ad.peers and other.peers and not set(ad.peers) & set(other.peers):
            return True
        return not self._may_share_nodes(ad.node_selectors, other.node_selectors)

    def _may_share_nodes(self, first: tuple[LabelSelector, ...], second: tuple[LabelSelector, ...]) -> bool:
        nodes = self.resources.nodes
        if nodes is None:
            # Without the nodes, only selectors that are certainly shared count as overlapping.
            return not first or not second or first == second
        labels = [(node.get("metadata") or {}).get("labels") or {} for node in nodes]
        return any(
            (not first or matches_any(first, item)) and (not second or matches_any(second, item))
            for item in labels
        )


def _check_known_fields(reader: ObjectReader, known: frozenset[str], spec: object, path: str) -> None:
    if not isinstance(spec, Mapping):
        return
    for key in sorted(set(spec) - known):
        reader.fail(
            f"{path}.{key}",
            "is not a field of this object",
            f"remove it or fix its name ({', '.join(sorted(known))})",
        )


def _failback(reader: ObjectReader) -> str | None:
    """The failback policy of an advertisement's annotation; a wrong value is an error naming it."""
    value = reader.annotations.get(FAILBACK_ANNOTATION)
    if value is None:
        return None
    problem = policy_problem(value)
    if problem is not None:
        reader.fail(
            f"metadata.annotations[{FAILBACK_ANNOTATION}]",
            problem,
            f"use {NON_REVERTIVE} (keep IPs where they failed over) or {REVERTIVE} (MetalLB's rule)",
        )
        return None
    return str(value)


def _preferences(reader: ObjectReader) -> tuple[NodePreference, ...]:
    """``spec.preferredNodeSelectors``: weighted label selectors; invalid entries are recorded, left out."""
    key, path = "preferredNodeSelectors", "spec.preferredNodeSelectors"
    items = reader.spec.get(key) or []
    shape = "write entries of weight: (1-100) and preference: (a label selector over Nodes)"
    if not isinstance(items, list):
        reader.fail(path, "must be a list of weighted preferences", shape)
        return ()
    preferences = []
    for index, item in enumerate(items):
        at = f"{path}[{index}]"
        if not isinstance(item, Mapping):
            reader.fail(at, "must be a mapping", shape)
            continue
        _check_known_fields(reader, PREFERENCE_FIELDS, item, at)
        for required in sorted(PREFERENCE_FIELDS - set(item)):
            reader.fail(f"{at}.{required}", "is missing", shape)
        weight = reader.integer("weight", 1, MAX_PREFERENCE_WEIGHT, 0, spec=item, path=at)
        selector = reader.selector(item.get("preference", {}), f"{at}.preference")
        if weight and selector is not None and "preference" in item:
            preferences.append(NodePreference(weight, selector))
    return tuple(preferences)


def _interface(reader: ObjectReader, key: str, name: str) -> str:
    """``name`` when it is a valid interface name ('' when empty); records a problem otherwise."""
    if name and (not _INTERFACE.match(name) or name in (".", "..")):
        reader.fail(
            f"spec.{key}",
            f"{name!r} is not an interface name",
            "use the node's interface name: at most 15 characters, no '/', ':' or spaces",
        )
        return ""
    return name


def _secret_ref(reader: ObjectReader) -> tuple[str, str] | None:
    """The (name, namespace) of ``spec.passwordSecret``; None when unset or wrong (recorded)."""
    secret = reader.spec.get("passwordSecret") or {}
    if not isinstance(secret, Mapping) or not all(
        isinstance(secret.get(key) or "", str) for key in ("name", "namespace")
    ):
        reader.fail(
            "spec.passwordSecret", "must be a mapping of name and namespace", "write name: and namespace:"
        )
        return None
    return (secret["name"], secret.get("namespace") or "") if secret.get("name") else None
