from pathlib import Path

import pytest
import yaml

from ansible_collections.baremetal.lb.plugins.module_utils.config_errors import ConfigError
from ansible_collections.baremetal.lb.plugins.module_utils.declared import content
from ansible_collections.baremetal.lb.plugins.module_utils.failback import (
    FAILBACK_ANNOTATION,
    NON_REVERTIVE,
    POLICIES,
    REVERTIVE,
)
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_resources import (
    RESOURCES,
    build_object,
    configuration_with,
    error_messages,
    field_name,
    new_errors,
    normalise,
    option_path,
    redact,
    same_content,
    shown,
)

CRDS = Path(__file__).resolve().parents[4] / "roles" / "install" / "files" / "crds"


def crd_spec_schema(kind, version):
    for path in CRDS.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["spec"]["names"]["kind"] == kind:
                (schema,) = [v for v in doc["spec"]["versions"] if v["name"] == version]
                return schema["schema"]["openAPIV3Schema"]["properties"]["spec"]
    raise LookupError(kind)


def params(module, **values):
    spec = RESOURCES[module].argument_spec()
    return {**{option: None for option in spec}, "namespace": "metallb-system", **values}


def walk_fields(options, schema, path=""):
    """Yield (option path, problem) for every option whose field is not in the CRD schema."""
    properties = schema.get("properties") or (schema.get("items") or {}).get("properties") or {}
    for option, option_spec in options.items():
        name = field_name(option)
        if name not in properties:
            yield f"{path}{option}", f"{name} is not a field of the CRD"
            continue
        field = properties[name]
        if "options" in option_spec and not name.endswith("Selectors"):
            yield from walk_fields(option_spec["options"], field, f"{path}{option}.")


@pytest.mark.parametrize("module", sorted(RESOURCES))
def test_every_option_is_a_crd_field(module):
    resource = RESOURCES[module]
    schema = crd_spec_schema(resource.kind, resource.version)
    assert list(walk_fields(resource.options, schema)) == []


@pytest.mark.parametrize("module", sorted(RESOURCES))
def test_every_crd_field_has_an_option(module):
    resource = RESOURCES[module]
    schema = crd_spec_schema(resource.kind, resource.version)
    fields = {field_name(option) for option in resource.options}
    assert set(schema["properties"]) - fields == set()


def test_field_names():
    assert field_name("auto_assign") == "autoAssign"
    assert field_name("avoid_buggy_ips") == "avoidBuggyIPs"
    assert field_name("ip_address_pool_selectors") == "ipAddressPoolSelectors"
    assert field_name("aggregation_length_v6") == "aggregationLengthV6"
    assert field_name("my_asn") == "myASN"
    assert field_name("ebgp_multihop") == "ebgpMultiHop"
    assert field_name("interfaces") == "interfaces"


def test_pool_object_from_params():
    obj = build_object(
        RESOURCES["ip_address_pool"],
        params(
            "ip_address_pool",
            name="web",
            labels={"tier": "front"},
            addresses=["192.0.2.0/28"],
            auto_assign=False,
            service_allocation={
                "priority": 5,
                "namespaces": ["shop"],
                "namespace_selectors": None,
                "service_selectors": [
                    {
                        "match_labels": {"app.kubernetes.io/name": "web", "some_label": "x"},
                        "match_expressions": [{"key": "team", "operator": "In", "values": ["a"]}],
                    }
                ],
            },
        ),
    )
    assert obj == {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "IPAddressPool",
        "metadata": {"name": "web", "namespace": "metallb-system", "labels": {"tier": "front"}},
        "spec": {
            "addresses": ["192.0.2.0/28"],
            "autoAssign": False,
            "serviceAllocation": {
                "priority": 5,
                "namespaces": ["shop"],
                "serviceSelectors": [
                    {
                        # label keys are user data: never camelCased
                        "matchLabels": {"app.kubernetes.io/name": "web", "some_label": "x"},
                        "matchExpressions": [{"key": "team", "operator": "In", "values": ["a"]}],
                    }
                ],
            },
        },
    }


def test_l2_advertisement_preferred_node_selectors_from_params():
    preference = {"match_labels": {"example.com/edge": "true"}, "match_expressions": None}
    obj = build_object(
        RESOURCES["l2_advertisement"],
        params(
            "l2_advertisement",
            name="prefer-edge",
            ip_address_pools=["lan"],
            preferred_node_selectors=[{"weight": 100, "preference": preference}],
        ),
    )
    assert obj["spec"] == {
        "ipAddressPools": ["lan"],
        "preferredNodeSelectors": [
            {"weight": 100, "preference": {"matchLabels": {"example.com/edge": "true"}}}
        ],
    }


def test_options_left_out_are_left_out_and_false_is_kept():
    obj = build_object(RESOURCES["bfd_profile"], params("bfd_profile", name="fast", echo_mode=False))
    assert obj["spec"] == {"echoMode": False}
    assert "labels" not in obj["metadata"]


def test_peer_uses_v1beta2_and_camel_case():
    obj = build_object(
        RESOURCES["bgp_peer"],
        params(
            "bgp_peer",
            name="r1",
            my_asn=64500,
            dynamic_asn="external",
            peer_address="192.0.2.1",
            password_secret={"name": "bgp", "namespace": None},
            ebgp_multihop=True,
        ),
    )
    assert obj["apiVersion"] == "metallb.io/v1beta2"
    assert obj["spec"] == {
        "myASN": 64500,
        "dynamicASN": "external",
        "peerAddress": "192.0.2.1",
        "passwordSecret": {"name": "bgp"},
        "ebgpMultiHop": True,
    }


def test_community_list_of_aliases():
    obj = build_object(
        RESOURCES["community"],
        params("community", name="c", communities=[{"name": "no-export", "value": "65535:65281"}]),
    )
    assert obj["spec"] == {"communities": [{"name": "no-export", "value": "65535:65281"}]}


def test_normalise_ignores_order_everywhere():
    first = {"addresses": ["b", "a"], "sel": [{"matchLabels": {"x": "1"}}, {"matchExpressions": []}]}
    second = {"sel": [{"matchExpressions": []}, {"matchLabels": {"x": "1"}}], "addresses": ["a", "b"]}
    assert normalise(first) == normalise(second)
    assert normalise({"a": ["x", "y"]}) != normalise({"a": ["x"]})


def server_object(spec, labels=None, **metadata):
    meta = {"name": "web", "namespace": "metallb-system", "resourceVersion": "7", **metadata}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": meta, "spec": spec}


def test_same_content_ignores_bookkeeping_and_order():
    pool = RESOURCES["ip_address_pool"]
    stored = server_object({"addresses": ["192.0.2.0/28", "2001:db8::/120"]}, managedFields=[{"x": 1}])
    applied = server_object({"addresses": ["2001:db8::/120", "192.0.2.0/28"]}, resourceVersion="8")
    assert same_content(pool, stored, applied)
    assert not same_content(pool, stored, server_object({"addresses": ["192.0.2.0/28"]}))
    assert not same_content(pool, stored, server_object(stored["spec"], labels={"a": "b"}))
    assert not same_content(pool, None, stored)
    assert content(None) == {}


L2 = RESOURCES["l2_advertisement"]


def test_l2_advertisement_failback_option_takes_the_policies_of_the_annotation():
    assert L2.argument_spec()["failback"] == {"type": "str", "choices": list(POLICIES)}
    assert L2.annotation_keys == (FAILBACK_ANNOTATION,)
    assert "failback" not in L2.options  # an annotation, never a spec field


@pytest.mark.parametrize(
    ("failback", "annotations"),
    [
        (None, None),  # unset: no annotation, so server-side apply drops one this manager set
        (REVERTIVE, {FAILBACK_ANNOTATION: REVERTIVE}),
        (NON_REVERTIVE, {FAILBACK_ANNOTATION: NON_REVERTIVE}),
    ],
)
def test_l2_advertisement_failback_is_written_as_the_annotation(failback, annotations):
    obj = build_object(
        L2, params("l2_advertisement", name="lan", ip_address_pools=["lan"], failback=failback)
    )
    assert obj["metadata"].get("annotations") == annotations
    assert obj["spec"] == {"ipAddressPools": ["lan"]}


def l2_object(annotations=None, **metadata):
    meta = {"name": "lan", "namespace": "metallb-system", **metadata}
    if annotations is not None:
        meta["annotations"] = annotations
    return {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "L2Advertisement",
        "metadata": meta,
        "spec": {"ipAddressPools": ["lan"]},
    }


KUBECTL = {"kubectl.kubernetes.io/last-applied-configuration": "{}"}


@pytest.mark.parametrize(
    ("current", "predicted", "same"),
    [
        (None, None, True),
        (None, {FAILBACK_ANNOTATION: NON_REVERTIVE}, False),  # option set
        ({FAILBACK_ANNOTATION: REVERTIVE}, {FAILBACK_ANNOTATION: NON_REVERTIVE}, False),  # changed
        ({FAILBACK_ANNOTATION: NON_REVERTIVE}, None, False),  # removed
        ({FAILBACK_ANNOTATION: NON_REVERTIVE}, {FAILBACK_ANNOTATION: NON_REVERTIVE}, True),
        # annotations the module does not manage are neither a change nor shown
        (KUBECTL, None, True),
        ({**KUBECTL, FAILBACK_ANNOTATION: REVERTIVE}, {FAILBACK_ANNOTATION: REVERTIVE}, True),
    ],
)
def test_the_failback_annotation_counts_in_comparison_and_diff(current, predicted, same):
    before, after = l2_object(current, managedFields=[{}]), l2_object(predicted, resourceVersion="8")
    assert same_content(L2, before, after) is same
    assert (shown(L2, before) == shown(L2, after)) is same
    assert set(shown(L2, before)["metadata"].get("annotations") or {}) <= {FAILBACK_ANNOTATION}


def test_other_kinds_do_not_manage_the_failback_annotation():
    pool = RESOURCES["ip_address_pool"]
    annotated = server_object({"addresses": ["192.0.2.0/28"]})
    annotated["metadata"]["annotations"] = {FAILBACK_ANNOTATION: NON_REVERTIVE}
    assert same_content(pool, server_object({"addresses": ["192.0.2.0/28"]}), annotated)
    assert "failback" not in pool.argument_spec()


def test_a_new_password_is_a_change_though_the_diff_masks_both():
    peer = RESOURCES["bgp_peer"]
    old, new = ({"metadata": {"name": "r1"}, "spec": {"password": word}} for word in ("s3cret", "other"))
    assert not same_content(peer, old, new)
    assert shown(peer, old) == shown(peer, new)


def test_redact_masks_the_password_and_drops_managed_fields():
    peer = {"metadata": {"name": "r1", "managedFields": [{}]}, "spec": {"password": "s3cret", "myASN": 1}}
    cleaned = redact(RESOURCES["bgp_peer"], peer)
    assert cleaned == {"metadata": {"name": "r1"}, "spec": {"password": "********", "myASN": 1}}
    assert peer["spec"]["password"] == "s3cret"
    assert redact(RESOURCES["bgp_peer"], None) == {}


@pytest.mark.parametrize(
    ("module", "path", "option"),
    [
        ("ip_address_pool", "spec.addresses[1]", "addresses[1]"),
        ("ip_address_pool", "metadata.name", "name"),
        (
            "ip_address_pool",
            "spec.serviceAllocation.namespaceSelectors[0].matchExpressions[2].values",
            "service_allocation.namespace_selectors[0].match_expressions[2].values",
        ),
        (
            "l2_advertisement",
            "spec.nodeSelectors[0].matchLabels[kubernetes.io/hostname]",
            "node_selectors[0].match_labels[kubernetes.io/hostname]",
        ),
        (
            "l2_advertisement",
            "spec.preferredNodeSelectors[1].preference.matchLabels[zone]",
            "preferred_node_selectors[1].preference.match_labels[zone]",
        ),
        ("l2_advertisement", "spec.preferredNodeSelectors[0].weight", "preferred_node_selectors[0].weight"),
        ("bgp_advertisement", "spec.aggregationLengthV6", "aggregation_length_v6"),
        ("bgp_peer", "spec.myASN", "my_asn"),
        ("community", "spec.communities[3].value", "communities[3].value"),
        ("bfd_profile", "spec.unknownField", "unknownField"),
    ],
)
def test_option_path(module, path, option):
    assert option_path(RESOURCES[module], path) == option


def test_error_messages_name_the_option_for_own_errors():
    resource = RESOURCES["ip_address_pool"]
    own = ConfigError("IPAddressPool", "web", "spec.addresses[1]", "has host bits set", "write x")
    other = ConfigError("IPAddressPool", "db", "spec.addresses[0]", "overlaps IPAddressPool 'web'", "fix")
    lines = error_messages(resource, "web", [own, other])
    assert lines[0] == "addresses[1]: has host bits set; write x (IPAddressPool 'web' spec.addresses[1])"
    assert lines[1].startswith("IPAddressPool 'db', spec.addresses[0]: overlaps IPAddressPool 'web'")
    assert "caused by this IPAddressPool" in lines[1]


def test_configuration_with_replaces_or_removes_the_object():
    old = {"kind": "IPAddressPool", "metadata": {"name": "web"}, "spec": {"addresses": ["a"]}}
    keep = {"kind": "L2Advertisement", "metadata": {"name": "web"}}
    new = {"kind": "IPAddressPool", "metadata": {"name": "web"}, "spec": {"addresses": ["b"]}}
    assert configuration_with([old, keep], new, "IPAddressPool", "web") == [keep, new]
    assert configuration_with([old, keep], None, "IPAddressPool", "web") == [keep]


def test_new_errors():
    a = ConfigError("K", "a", "p", "x", "y")
    b = ConfigError("K", "b", "p", "x", "y")
    assert new_errors([a], [a, b]) == [b]


@pytest.mark.parametrize("module", sorted(RESOURCES))
def test_constraints_name_real_options(module):
    resource = RESOURCES[module]
    spec = resource.argument_spec()
    for group in resource.module_kwargs.get("mutually_exclusive", []):
        assert set(group) <= set(spec)
    for rule in resource.module_kwargs.get("required_if", []):
        assert rule[0] in spec
        assert set(rule[2]) <= set(spec)
