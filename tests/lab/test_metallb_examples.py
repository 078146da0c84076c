"""MetalLB v0.16's documented examples apply to our CRDs and mean the same to our parser.

tests/lab/metallb_examples/ holds our own equivalents of every metallb.io example of MetalLB
v0.16's documentation and configsamples/ (see its README). Each file is one configuration: kubectl
applies it (server-side apply, dry run, strict field validation) in the lab's metallb-system
namespace, the whole file is parsed by validation.py without errors, and the
typed configuration says what MetalLB's documentation says the example does. The files name
metallb-system themselves, as MetalLB's examples do.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPFamily
from ansible_collections.baremetal.lb.plugins.module_utils.config_model import Config
from ansible_collections.baremetal.lb.plugins.module_utils.legacy_config import go_yaml_loader
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import cluster_resources
from ansible_collections.baremetal.lb.plugins.module_utils.validation import parse_config

EXAMPLES = Path(__file__).with_name("metallb_examples")
FILES = sorted(EXAMPLES.glob("*.yaml"))
DOCUMENTATION_NETWORKS = [
    ipaddress.ip_network(net)
    for net in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
]


def _load(path: Path) -> list[dict]:
    """The objects of an example file: one v1 List (ansible-test's yamllint wants one document
    per file), read as kubectl reads YAML (an unquoted 1234:1 stays a string, not base 60)."""
    listed = yaml.load(path.read_text(), Loader=go_yaml_loader())
    assert listed["kind"] == "List", path.name
    return list(listed["items"])


def _by_name(items):
    return {item.name: item for item in items}


def _pool(config: Config, name: str):
    return _by_name(config.pools)[name]


def _l2(config: Config, name: str):
    return _by_name(config.l2_advertisements)[name]


def _bgp(config: Config, name: str):
    return _by_name(config.bgp_advertisements)[name]


def _peer(config: Config, name: str):
    return _by_name(config.bgp_peers)[name]


def _sizes(config: Config, name: str) -> tuple[int, int]:
    """How many IPv4 and IPv6 addresses pool ``name`` holds."""
    ranges = _pool(config, name).ranges
    return tuple(sum(r.size for r in ranges if r.family is family) for family in IPFamily)  # type: ignore[return-value]


# What each example means, in MetalLB's documentation's words, as checks on the typed config.
MEANINGS: dict[str, list[tuple[str, Callable[[Config], bool]]]] = {
    "pool_cidr_range_v6.yaml": [
        ("a /24, 5 addresses of a range and a /124", lambda c: _sizes(c, "lab-pool") == (256 + 5, 16)),
        ("auto-assigned, buggy IPs allowed", lambda c: _pool(c, "lab-pool").auto_assign),
    ],
    "pool_range.yaml": [("11 addresses", lambda c: _sizes(c, "range-pool") == (11, 0))],
    "pool_auto_assign.yaml": [
        ("plenty is auto-assigned", lambda c: _pool(c, "plenty").auto_assign),
        ("scarce only on request", lambda c: not _pool(c, "scarce").auto_assign),
    ],
    "pool_service_allocation.yaml": [
        ("avoids buggy IPs", lambda c: _pool(c, "team-pool").avoid_buggy_ips),
        ("priority 50", lambda c: _pool(c, "team-pool").service_allocation.priority == 50),
        (
            "two namespaces",
            lambda c: _pool(c, "team-pool").service_allocation.namespaces == {"team-a", "team-b"},
        ),
        (
            "namespaces labelled team=web",
            lambda c: (
                _pool(c, "team-pool").service_allocation.namespace_selectors[0].matches({"team": "web"})
            ),
        ),
        (
            "Services with app in [shop] only",
            lambda c: (
                [
                    s.matches({"app": "shop"})
                    for s in _pool(c, "team-pool").service_allocation.service_selectors
                ]
                == [True]
                and not _pool(c, "team-pool").service_allocation.service_selectors[0].matches({"app": "x"})
            ),
        ),
    ],
    "l2_all_pools.yaml": [
        ("no spec announces every pool", lambda c: _l2(c, "everything").pools == {"lab-pool"})
    ],
    "l2_by_pool_list.yaml": [("only the named pool", lambda c: _l2(c, "lan-only").pools == {"lan-pool"})],
    "l2_node_selectors.yaml": [
        (
            "every pool, control plane only",
            lambda c: _l2(c, "on-control-plane").pools == {"pool-ab", "pool-c"},
        ),
        (
            "node-a or node-b",
            lambda c: (
                [s.match_labels["kubernetes.io/hostname"] for s in _l2(c, "on-a-or-b").node_selectors]
                == ["node-a", "node-b"]
            ),
        ),
        ("pool-c from node-c", lambda c: _l2(c, "on-c").pools == {"pool-c"}),
    ],
    "l2_interfaces.yaml": [
        ("eth0 and eth1", lambda c: _l2(c, "two-interfaces").interfaces == ("eth0", "eth1")),
        ("eth3 on node-a", lambda c: _l2(c, "one-node-one-interface").interfaces == ("eth3",)),
        ("every pool on eno1", lambda c: _l2(c, "every-pool-on-eno1").pools == {"pool-3", "pool-4"}),
        ("ens18 on node-b", lambda c: _l2(c, "node-b-on-ens18").interfaces == ("ens18",)),
    ],
    "l2_service_selectors.yaml": [
        (
            "frontends on eth0",
            lambda c: (
                _l2(c, "frontends").service_selectors[0].matches({"tier": "frontend"})
                and _l2(c, "frontends").interfaces == ("eth0",)
            ),
        ),
        (
            "backends not by the frontend advertisement",
            lambda c: not _l2(c, "frontends").service_selectors[0].matches({"tier": "backend"}),
        ),
    ],
    "bgp_peers_simple.yaml": [
        (
            "eBGP 64500 to 64501",
            lambda c: (_peer(c, "ebgp-router").my_asn, _peer(c, "ebgp-router").peer_asn) == (64500, 64501),
        ),
        ("iBGP", lambda c: _peer(c, "ibgp-router").my_asn == _peer(c, "ibgp-router").peer_asn == 64512),
    ],
    "bgp_all_pools.yaml": [
        (
            "no spec: every pool, /32 and /128",
            lambda c: (
                (
                    _bgp(c, "everything").pools,
                    _bgp(c, "everything").aggregation_length,
                    _bgp(c, "everything").aggregation_length_v6,
                )
                == ({"dual-pool"}, 32, 128)
            ),
        ),
        ("an IPv6 peer", lambda c: _peer(c, "router-v6").address.version == 6),
    ],
    "bgp_by_pool_list.yaml": [
        ("three pools", lambda c: _bgp(c, "three-pools").pools == {"v4-pool", "v6-pool", "dual-pool"}),
        ("two peers", lambda c: _bgp(c, "to-two-peers").peers == ("peer-a", "peer-b")),
    ],
    "bgp_by_pool_label.yaml": [
        ("only the labelled pool", lambda c: _bgp(c, "by-label").pools == {"labelled-pool"})
    ],
    "bgp_bfd.yaml": [
        (
            "380/270 ms, other values default",
            lambda c: (
                (
                    c.bfd_profiles["fast-detect"].receive_interval,
                    c.bfd_profiles["fast-detect"].transmit_interval,
                    c.bfd_profiles["fast-detect"].detect_multiplier,
                )
                == (380, 270, 3)
            ),
        ),
        ("the peer uses it", lambda c: _peer(c, "bfd-peer").bfd_profile == "fast-detect"),
    ],
    "bgp_local_and_external.yaml": [
        ("the pool is the whole /24", lambda c: _sizes(c, "site-pool") == (256, 0)),
        (
            "inside: /32, localPref 100, NO_ADVERTISE",
            lambda c: (
                (
                    _bgp(c, "inside").aggregation_length,
                    _bgp(c, "inside").local_pref,
                    [str(x) for x in _bgp(c, "inside").communities],
                )
                == (32, 100, ["65535:65282"])
            ),
        ),
        ("outside: one /24", lambda c: _bgp(c, "outside").aggregation_length == 24),
    ],
    "bgp_peer_node_selectors.yaml": [
        ("port 180", lambda c: _peer(c, "rack-router").port == 180),
        (
            "frontend racks that are not slow, or hosts node-a/node-b",
            lambda c: (
                [
                    any(s.matches(labels) for s in _peer(c, "rack-router").node_selectors)
                    for labels in (
                        {"rack": "frontend"},
                        {"rack": "frontend", "network-speed": "slow"},
                        {"kubernetes.io/hostname": "node-b"},
                        {"kubernetes.io/hostname": "node-c"},
                    )
                ]
                == [True, False, True, False]
            ),
        ),
    ],
    "bgp_ad_node_selectors.yaml": [
        ("from node-a or node-b", lambda c: len(_bgp(c, "from-two-nodes").node_selectors) == 2)
    ],
    "bgp_service_selectors.yaml": [
        (
            "production at localPref 200",
            lambda c: (
                _bgp(c, "production-routes").local_pref == 200
                and _bgp(c, "production-routes").service_selectors[0].matches({"environment": "production"})
            ),
        ),
        ("staging at localPref 100", lambda c: _bgp(c, "staging-routes").local_pref == 100),
    ],
    "bgp_source_address.yaml": [
        ("source 192.0.2.7", lambda c: str(_peer(c, "sourced").source_address) == "192.0.2.7")
    ],
    "bgp_communities.yaml": [
        ("vpn-only is 1234:1", lambda c: str(c.communities["vpn-only"]) == "1234:1"),
        (
            "the sandbox carries it",
            lambda c: [str(x) for x in _bgp(c, "sandbox-routes").communities] == ["1234:1"],
        ),
        (
            "NO_ADVERTISE resolves",
            lambda c: [str(x) for x in _bgp(c, "public-no-export").communities] == ["65535:65282"],
        ),
    ],
    "bgp_community_localpref.yaml": [("localPref 150", lambda c: _bgp(c, "preferred").local_pref == 150)],
    "bgp_peer_options.yaml": [
        ("VRF red", lambda c: _peer(c, "in-vrf").vrf == "red"),
        ("connect every 120 s", lambda c: _peer(c, "slow-connect").connect_time == 120),
        ("graceful restart", lambda c: _peer(c, "graceful").graceful_restart),
        (
            "presents AS 65410, runs 64512",
            lambda c: (_peer(c, "other-as").local_asn, _peer(c, "other-as").my_asn) == (65410, 64512),
        ),
    ],
    "bgp_peer_secret.yaml": [
        (
            "hold 540 s, no keepalives",
            lambda c: (_peer(c, "with-secret").hold_time, _peer(c, "with-secret").keepalive_time) == (540, 0),
        ),
        (
            "password from Secret router-md5",
            lambda c: _peer(c, "with-secret").password_secret == ("router-md5", ""),
        ),
        (
            "an empty passwordSecret is no Secret",
            lambda c: _peer(c, "converted-peer").password_secret is None,
        ),
        (
            "the converted advertisement",
            lambda c: [str(x) for x in _bgp(c, "converted-advertisement").communities] == ["64512:1234"],
        ),
    ],
}


def test_every_example_file_has_its_meaning_written_down():
    assert sorted(MEANINGS) == [path.name for path in FILES]


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_example_uses_documentation_addresses_and_says_what_it_mirrors(path):
    assert "# Mirrors: " in path.read_text()
    for doc in _load(path):
        for entry in (doc.get("spec") or {}).get("addresses", []):
            first = ipaddress.ip_address(entry.split("-")[0].split("/")[0].strip())
            assert any(first in net for net in DOCUMENTATION_NETWORKS), (path.name, entry)


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_example_applies_and_means_the_same(crds, kubectl, metallb_namespace, path):
    # kubectl reads the file itself; server-side apply, strict field validation, nothing stored.
    applied = kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=bmlb-tests",
        "-f",
        str(path),
        check=False,
    )
    assert applied.returncode == 0, f"{path.name} does not apply: {applied.stderr}"
    docs = _load(path)
    assert applied.stdout.count("serverside-applied (server dry run)") == len(docs), applied.stdout
    config = parse_config(cluster_resources(docs))
    kinds = [doc["kind"] for doc in docs]
    parsed = {
        "IPAddressPool": len(config.pools),
        "L2Advertisement": len(config.l2_advertisements),
        "BGPAdvertisement": len(config.bgp_advertisements),
        "BGPPeer": len(config.bgp_peers),
        "BFDProfile": len(config.bfd_profiles),
    }
    assert {kind: kinds.count(kind) for kind in parsed} == parsed, "an object was dropped"
    wrong = [meaning for meaning, holds in MEANINGS[path.name] if not holds(config)]
    assert wrong == [], f"{path.name} does not mean: {wrong}"
