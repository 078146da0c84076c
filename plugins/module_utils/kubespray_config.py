"""Read kubespray's `metallb_config` variable into the config role's lists of module options.

kubespray users describe MetalLB as
`metallb_config: {address_pools: {NAME: {ip_range, auto_assign}}, layer2: [POOL…],
layer3: {defaults: {peer_port, hold_time}, communities: {NAME: VALUE},
metallb_peers: {NAME: {peer_address, peer_asn, my_asn, …, address_pool: [POOL…]}}}}`.
This produces the same objects kubespray's templates create, as options of this collection's
modules, so `config_kubespray_metallb_config: "{{ metallb_config }}"` migrates a cluster as is.
"""

from __future__ import annotations

from typing import Any

# kubespray always creates these aliases beside the user's communities.
WELL_KNOWN_COMMUNITIES = (
    ("no-export", "65535:65281"),
    ("no-advertise", "65535:65282"),
    ("local-as", "65535:65283"),
    ("nopeer", "65535:65284"),
)
_PEER_OPTIONS = (
    ("peer_address", "peer_address"),
    ("peer_asn", "peer_asn"),
    ("my_asn", "my_asn"),
    ("password", "password"),
    ("router_id", "router_id"),
    ("multihop", "ebgp_multihop"),
)


class KubesprayConfigError(ValueError):
    """A `metallb_config` that kubespray itself would not render; the message names the key."""


def convert(metallb_config: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Map `metallb_config` to {pools, l2_advertisements, bgp_advertisements, bgp_peers, communities}."""
    pools = [_pool(name, spec) for name, spec in (metallb_config.get("address_pools") or {}).items()]
    names = {p["name"] for p in pools}
    l2 = []
    for i, pool in enumerate(metallb_config.get("layer2") or []):
        if pool not in names:
            raise KubesprayConfigError(f"metallb_config.layer2[{i}]: no address pool named {pool!r}")
        l2.append({"name": pool, "ip_address_pools": [pool]})
    converted: dict[str, list[dict[str, Any]]] = {
        "pools": pools,
        "l2_advertisements": l2,
        "bgp_advertisements": [],
        "bgp_peers": [],
        "communities": [],
    }
    layer3 = metallb_config.get("layer3")
    if layer3:
        _layer3(layer3, names, converted)
    return converted


def _pool(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    ranges = spec.get("ip_range")
    if not ranges:
        raise KubesprayConfigError(f"metallb_config.address_pools.{name}.ip_range: list the pool's addresses")
    return {
        "name": name,
        "addresses": list(ranges),
        "auto_assign": bool(spec.get("auto_assign", True)),
        "avoid_buggy_ips": True,  # kubespray's template always sets it
    }


def _layer3(layer3: dict[str, Any], pools: set[str], out: dict[str, list[dict[str, Any]]]) -> None:
    defaults = layer3.get("defaults") or {}
    user_communities = [{"name": n, "value": str(v)} for n, v in (layer3.get("communities") or {}).items()]
    out["communities"] = [
        *({"name": c["name"], "communities": [c]} for c in user_communities),
        {"name": "well-known", "communities": [{"name": n, "value": v} for n, v in WELL_KNOWN_COMMUNITIES]},
    ]
    for name, peer in (layer3.get("metallb_peers") or {}).items():
        peer_pools = list(peer.get("address_pool") or [])
        unknown = [p for p in peer_pools if p not in pools]
        if unknown:
            raise KubesprayConfigError(
                f"metallb_config.layer3.metallb_peers.{name}.address_pool: "
                f"no address pool named {unknown[0]!r}"
            )
        out["bgp_advertisements"] += _advertisements(name, peer, peer_pools)
        out["bgp_peers"].append(_peer(name, peer, defaults))


def _advertisements(name: str, peer: dict[str, Any], pools: list[str]) -> list[dict[str, Any]]:
    aggregation = peer.get("aggregation_length")
    # kubespray aggregates (and adds a local advertisement) only for prefixes of /30 or wider.
    aggregated = aggregation is not None and int(aggregation) <= 30
    external: dict[str, Any] = {"name": f"{name}-external", "ip_address_pools": pools}
    if aggregation is not None and aggregated:
        external["aggregation_length"] = int(aggregation)
    if peer.get("communities"):
        external["communities"] = list(peer["communities"])
    if not aggregated:
        return [external]
    local = {
        "name": f"{name}-local",
        "ip_address_pools": pools,
        "aggregation_length": 32,
        "aggregation_length_v6": 128,
        "communities": ["no-advertise"],
        "local_pref": int(peer.get("localpref", 100)),
    }
    return [local, external]


def _peer(name: str, peer: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    for key in ("peer_address", "peer_asn", "my_asn"):
        if key not in peer:
            raise KubesprayConfigError(f"metallb_config.layer3.metallb_peers.{name}.{key}: required")
    options: dict[str, Any] = {"name": name}
    options.update({ours: peer[theirs] for theirs, ours in _PEER_OPTIONS if theirs in peer})
    port = peer.get("peer_port", defaults.get("peer_port"))
    if port is not None:
        options["peer_port"] = int(port)
    hold_time = peer.get("hold_time", defaults.get("hold_time"))
    if hold_time is not None:
        options["hold_time"] = str(hold_time)
    return options
