import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.kubespray_config import (
    KubesprayConfigError,
    convert,
)

# The shape kubespray documents in its MetalLB role (documentation addresses).
METALLB_CONFIG = {
    "address_pools": {
        "primary": {"ip_range": ["192.0.2.64-192.0.2.95"], "auto_assign": True},
        "pool1": {"ip_range": ["203.0.113.0/26"], "auto_assign": False},
    },
    "layer2": ["primary"],
    "layer3": {
        "defaults": {"peer_port": 179, "hold_time": "120s"},
        "communities": {"vpn-only": "1234:1"},
        "metallb_peers": {
            "peer1": {
                "peer_address": "192.0.2.201",
                "peer_asn": 64512,
                "my_asn": 64500,
                "communities": ["vpn-only"],
                "address_pool": ["pool1"],
            },
            "peer2": {
                "peer_address": "192.0.2.202",
                "peer_asn": 64513,
                "my_asn": 64500,
                "aggregation_length": 26,
                "address_pool": ["pool1"],
                "password": "s3cret",
                "hold_time": "90s",
            },
        },
    },
}


def test_pools_and_layer2():
    out = convert(METALLB_CONFIG)
    assert out["pools"] == [
        {
            "name": "primary",
            "addresses": ["192.0.2.64-192.0.2.95"],
            "auto_assign": True,
            "avoid_buggy_ips": True,
        },
        {"name": "pool1", "addresses": ["203.0.113.0/26"], "auto_assign": False, "avoid_buggy_ips": True},
    ]
    assert out["l2_advertisements"] == [{"name": "primary", "ip_address_pools": ["primary"]}]


def test_peers_get_kubesprays_advertisements_and_defaults():
    out = convert(METALLB_CONFIG)
    assert [a["name"] for a in out["bgp_advertisements"]] == [
        "peer1-external",
        "peer2-local",
        "peer2-external",
    ]
    assert out["bgp_advertisements"][0]["communities"] == ["vpn-only"]
    local = out["bgp_advertisements"][1]
    assert local["communities"] == ["no-advertise"] and local["local_pref"] == 100
    assert out["bgp_advertisements"][2]["aggregation_length"] == 26
    peer1, peer2 = out["bgp_peers"]
    assert peer1 == {
        "name": "peer1",
        "peer_address": "192.0.2.201",
        "peer_asn": 64512,
        "my_asn": 64500,
        "peer_port": 179,
        "hold_time": "120s",
    }
    assert peer2["password"] == "s3cret" and peer2["hold_time"] == "90s"
    assert [c["name"] for c in out["communities"]] == ["vpn-only", "well-known"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"address_pools": {"a": {}}}, r"address_pools.a.ip_range: list the pool's addresses"),
        ({"address_pools": {}, "layer2": ["missing"]}, r"layer2\[0\]: no address pool named 'missing'"),
        (
            {
                "layer3": {
                    "metallb_peers": {
                        "p": {
                            "peer_address": "192.0.2.1",
                            "peer_asn": 1,
                            "my_asn": 2,
                            "address_pool": ["nope"],
                        }
                    }
                }
            },
            r"metallb_peers.p.address_pool: no address pool named 'nope'",
        ),
        ({"layer3": {"metallb_peers": {"p": {"peer_asn": 1}}}}, r"metallb_peers.p.peer_address: required"),
    ],
)
def test_bad_input_names_the_key(config, message):
    with pytest.raises(KubesprayConfigError, match=message):
        convert(config)
