"""The metallb_config resource module's pure part: targets, plans, errors and round trips."""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.failback import (
    FAILBACK_ANNOTATION,
    NON_REVERTIVE,
    POLICIES,
    REVERTIVE,
)
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_config import (
    absent_keys,
    blocking_errors,
    by_namespace,
    config_from_objects,
    declared_objects,
    duplicate_names,
    entry_spec,
    error_lines,
    key,
    plan,
    target,
)
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import L2_ADVERTISEMENT

NS = "metallb-system"
DMZ = {
    "pools": [{"name": "dmz", "addresses": ["192.0.2.64/28"]}],
    "l2_advertisements": [{"name": "dmz", "ip_address_pools": ["dmz"]}],
}
BGP = {
    "bfd_profiles": [{"name": "fast", "receive_interval": 100}],
    "pools": [{"name": "bgp", "addresses": ["198.51.100.0/28"]}],
    "bgp_peers": [{"name": "tor", "my_asn": 64512, "peer_asn": 64513, "peer_address": "192.0.2.1"}],
    "bgp_advertisements": [{"name": "bgp", "ip_address_pools": ["bgp"], "peers": ["tor"]}],
}


def objects(config):
    return declared_objects(config, NS)


def keys(objs):
    return [key(obj) for obj in objs]


def test_declared_objects_come_in_dependency_order_whatever_the_order_of_config():
    config = {"bgp_advertisements": BGP["bgp_advertisements"], "bgp_peers": BGP["bgp_peers"], **BGP}
    assert keys(objects(config)) == [
        ("BFDProfile", "fast"),
        ("IPAddressPool", "bgp"),
        ("BGPPeer", "tor"),
        ("BGPAdvertisement", "bgp"),
    ]


@pytest.mark.parametrize(
    ("state", "declared", "applies", "deletes"),
    [
        ("merged", DMZ, [("IPAddressPool", "dmz"), ("L2Advertisement", "dmz")], []),
        ("replaced", {"pools": DMZ["pools"]}, [("IPAddressPool", "dmz")], []),
        (
            "overridden",
            DMZ,
            [("IPAddressPool", "dmz"), ("L2Advertisement", "dmz")],
            [
                ("BGPAdvertisement", "bgp"),
                ("BGPPeer", "tor"),
                ("IPAddressPool", "bgp"),
                ("BFDProfile", "fast"),
            ],
        ),
        ("deleted", {"bgp_advertisements": [{"name": "bgp"}]}, [], [("BGPAdvertisement", "bgp")]),
        (
            "deleted",
            {},
            [],
            [
                ("BGPAdvertisement", "bgp"),
                ("BGPPeer", "tor"),
                ("IPAddressPool", "bgp"),
                ("BFDProfile", "fast"),
            ],
        ),
    ],
)
def test_plan_applies_in_dependency_order_and_deletes_in_reverse(state, declared, applies, deletes):
    writes = plan(state, objects(BGP), objects(declared))
    assert keys(writes.applies) == applies
    assert list(writes.deletes) == deletes


def test_merged_keeps_fields_and_labels_not_declared_and_replaced_drops_them():
    existing = objects(
        {"pools": [{"name": "p", "addresses": ["192.0.2.0/28"], "auto_assign": False, "labels": {"a": "1"}}]}
    )
    declared = objects({"pools": [{"name": "p", "addresses": ["192.0.2.16/28"], "labels": {"b": "2"}}]})
    (merged,) = target("merged", existing, declared)
    (replaced,) = target("replaced", existing, declared)
    assert merged["spec"] == {"addresses": ["192.0.2.16/28"], "autoAssign": False}
    assert merged["metadata"]["labels"] == {"a": "1", "b": "2"}
    assert replaced["spec"] == {"addresses": ["192.0.2.16/28"]}
    assert replaced["metadata"]["labels"] == {"b": "2"}


@pytest.mark.parametrize(
    ("state", "existing", "declared", "expected"),
    [
        # the README's pattern: a new pool and the advertisement naming it, as one
        ("merged", {}, DMZ, []),
        (
            "merged",
            {},
            {"l2_advertisements": DMZ["l2_advertisements"]},
            ["config.l2_advertisements[0].ip_address_pools[0]"],
        ),
        (
            "merged",
            DMZ,
            {"pools": [{"name": "other", "addresses": ["192.0.2.70/32"]}]},
            ["config.pools[0].addresses[0]"],
        ),
        ("deleted", DMZ, {"pools": [{"name": "dmz"}]}, ["L2Advertisement 'dmz', spec.ipAddressPools[0]"]),
        ("deleted", DMZ, DMZ, []),
        ("overridden", BGP, DMZ, []),
        ("replaced", BGP, {"pools": [{"name": "bgp", "addresses": ["2001:db8::/64"]}]}, []),
    ],
)
def test_blocking_errors_validate_the_declared_set_as_one_configuration(state, existing, declared, expected):
    declared_objs = objects(declared)
    lines = error_lines(declared_objs, blocking_errors(state, objects(existing), declared_objs))
    assert [line.split(" (")[0].split(":")[0] for line in lines] == expected


def test_gathered_config_round_trips_to_the_same_objects_with_passwords_masked():
    config = {**BGP, "bgp_peers": [{**BGP["bgp_peers"][0], "password": "s3cret"}]}
    gathered = config_from_objects(objects(config))
    assert gathered["bgp_peers"][0]["password"] == "********"
    assert gathered["bfd_profiles"] == [{"name": "fast", "receive_interval": 100}]
    unmasked = {**gathered, "bgp_peers": config["bgp_peers"]}
    assert objects(unmasked) == objects(config)


def test_preferred_node_selectors_round_trip_through_gathered():
    preferring = {
        "name": "dmz",
        "ip_address_pools": ["dmz"],
        "preferred_node_selectors": [{"weight": 100, "preference": {"match_labels": {"edge": "true"}}}],
    }
    config = {**DMZ, "l2_advertisements": [preferring]}
    (l2,) = [obj for obj in objects(config) if obj["kind"] == "L2Advertisement"]
    assert l2["spec"]["preferredNodeSelectors"] == [
        {"weight": 100, "preference": {"matchLabels": {"edge": "true"}}}
    ]
    gathered = config_from_objects(objects(config))
    assert (
        gathered["l2_advertisements"][0]["preferred_node_selectors"] == preferring["preferred_node_selectors"]
    )
    assert objects(gathered) == objects(config)


def l2(failback=None, **extra):
    """DMZ's advertisement with ``failback`` (left out when None) and ``extra`` options."""
    entry = {**DMZ["l2_advertisements"][0], **extra}
    return {**entry, "failback": failback} if failback is not None else entry


def test_a_config_entry_takes_the_failback_option():
    assert entry_spec(L2_ADVERTISEMENT)["failback"] == {"type": "str", "choices": list(POLICIES)}


@pytest.mark.parametrize("failback", [None, REVERTIVE, NON_REVERTIVE])
def test_failback_round_trips_through_gathered_as_the_annotation(failback):
    config = {**DMZ, "l2_advertisements": [l2(failback)]}
    (advertisement,) = [obj for obj in objects(config) if obj["kind"] == "L2Advertisement"]
    expected = {FAILBACK_ANNOTATION: failback} if failback else None
    assert advertisement["metadata"].get("annotations") == expected
    gathered = config_from_objects(objects(config))
    assert gathered["l2_advertisements"] == [l2(failback)]
    assert objects(gathered) == objects(config)


def test_gathered_leaves_out_annotations_without_an_option():
    (advertisement,) = objects({"l2_advertisements": [l2(NON_REVERTIVE)]})
    advertisement["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = "{}"
    assert config_from_objects([advertisement])["l2_advertisements"] == [l2(NON_REVERTIVE)]


KUBECTL = "kubectl.kubernetes.io/last-applied-configuration"


@pytest.mark.parametrize(
    ("current", "declared", "merged", "replaced"),
    [
        # merged keeps the policy when the entry leaves it out; replaced drops it (unset again)
        ({FAILBACK_ANNOTATION: NON_REVERTIVE}, None, {FAILBACK_ANNOTATION: NON_REVERTIVE}, None),
        # the declared policy wins in both
        (
            {FAILBACK_ANNOTATION: NON_REVERTIVE},
            REVERTIVE,
            {FAILBACK_ANNOTATION: REVERTIVE},
            {FAILBACK_ANNOTATION: REVERTIVE},
        ),
        (None, NON_REVERTIVE, {FAILBACK_ANNOTATION: NON_REVERTIVE}, {FAILBACK_ANNOTATION: NON_REVERTIVE}),
        # annotations no option sets are never applied by this collection
        ({KUBECTL: "{}"}, None, None, None),
    ],
)
def test_merged_keeps_the_failback_annotation_not_declared_and_replaced_drops_it(
    current, declared, merged, replaced
):
    (existing,) = objects({"l2_advertisements": [l2()]})
    if current is not None:
        existing["metadata"]["annotations"] = current
    declared_objs = objects({"l2_advertisements": [l2(declared)]})
    (after_merged,) = target("merged", [existing], declared_objs)
    (after_replaced,) = target("replaced", [existing], declared_objs)
    assert after_merged["metadata"].get("annotations") == merged
    assert after_replaced["metadata"].get("annotations") == replaced


def test_duplicate_names_are_named():
    assert duplicate_names(objects({"pools": DMZ["pools"] * 2})) == ["IPAddressPool 'dmz'"]


def test_role_lists_become_one_replaced_run_per_namespace_with_its_deletions():
    lists = {
        "pools": [
            {"name": "a", "addresses": ["192.0.2.0/28"]},
            {"name": "b", "state": "absent"},
            {"name": "c", "namespace": "other", "addresses": ["192.0.2.16/28"], "state": "present"},
        ],
        "l2_advertisements": [{"name": "a", "ip_address_pools": ["a"]}],
    }
    assert by_namespace(lists, NS) == [
        {
            "namespace": NS,
            "state": "replaced",
            "config": {
                "pools": [lists["pools"][0], {"name": "b", "state": "absent"}],
                "l2_advertisements": lists["l2_advertisements"],
            },
        },
        {
            "namespace": "other",
            "state": "replaced",
            "config": {"pools": [{"name": "c", "addresses": ["192.0.2.16/28"]}]},
        },
    ]


@pytest.mark.parametrize(
    ("lists", "runs"),
    [
        pytest.param(
            {
                "bgp_peers": BGP["bgp_peers"],
                "communities": [{"name": "gone", "state": "absent"}],
                "bgp_advertisements": [{"name": "b", "namespace": "other", "peers": ["tor"]}],
            },
            [
                {"namespace": NS, "state": "overridden", "config": {"bgp_peers": BGP["bgp_peers"]}},
                {
                    "namespace": "other",
                    "state": "overridden",
                    "config": {"bgp_advertisements": [{"name": "b", "peers": ["tor"]}]},
                },
            ],
            id="one overridden run per namespace, absent entries left undeclared",
        ),
        pytest.param(
            {}, [{"namespace": NS, "state": "overridden", "config": {}}], id="nothing declared: all goes"
        ),
    ],
)
def test_role_lists_with_prune_become_one_overridden_run_per_namespace(lists, runs):
    assert by_namespace(lists, NS, prune=True) == runs


OLD_POOL = {"name": "old", "addresses": ["192.0.2.80/28"]}


@pytest.mark.parametrize(
    ("existing", "config", "deletes", "errors"),
    [
        pytest.param(
            {"pools": [OLD_POOL], "l2_advertisements": [{"name": "dmz", "ip_address_pools": ["old"]}]},
            {**DMZ, "pools": [*DMZ["pools"], {"name": "old", "state": "absent"}]},
            (("IPAddressPool", "old"),),
            [],
            id="an advertisement moved to a new pool and the old pool deleted, in one run",
        ),
        pytest.param(
            {"pools": [OLD_POOL], "l2_advertisements": [{"name": "keep", "ip_address_pools": ["old"]}]},
            {**DMZ, "pools": [*DMZ["pools"], {"name": "old", "state": "absent"}]},
            (("IPAddressPool", "old"),),
            ["L2Advertisement 'keep', spec.ipAddressPools[0]"],
            id="a deletion that breaks a kept advertisement refuses the whole run",
        ),
        pytest.param(
            {},
            {"pools": [{"name": "never-was", "state": "absent"}]},
            (),
            [],
            id="an absent object that does not exist is nothing to do",
        ),
    ],
)
def test_absent_entries_are_deleted_and_validated_with_the_rest_of_the_run(existing, config, deletes, errors):
    (run,) = by_namespace(config, NS)
    declared, absent = objects(run["config"]), absent_keys(run["config"])
    assert all(key(obj)[1] != "old" for obj in declared)
    assert plan(run["state"], objects(existing), declared, absent).deletes == deletes
    lines = error_lines(declared, blocking_errors(run["state"], objects(existing), declared, absent))
    assert [line.split(" (")[0].split(":")[0] for line in lines] == errors


def test_an_object_both_declared_and_absent_is_a_duplicate():
    config = {"pools": [*DMZ["pools"], {"name": "dmz", "state": "absent"}]}
    assert duplicate_names(objects(config), absent_keys(config)) == ["IPAddressPool 'dmz'"]


def test_pruning_deletes_every_kind_no_longer_declared_in_reverse_dependency_order():
    existing = objects(
        {**BGP, "communities": [{"name": "c", "communities": [{"name": "x", "value": "1:1"}]}]}
    )
    (run,) = by_namespace({"pools": BGP["pools"]}, NS, prune=True)
    result = plan(run["state"], existing, objects(run["config"]))
    assert [obj["kind"] for obj in result.applies] == ["IPAddressPool"]
    assert result.deletes == (
        ("BGPAdvertisement", "bgp"),
        ("BGPPeer", "tor"),
        ("Community", "c"),
        ("BFDProfile", "fast"),
    )
