"""The part of legacy_config's run that decides, before any write, whether the conversion may go in."""

from ansible_collections.baremetal.lb.plugins.module_utils.legacy_config import convert, load_yaml
from ansible_collections.baremetal.lb.plugins.module_utils.legacy_runner import _blocking_errors

LEGACY = """
address-pools:
- {name: lan, protocol: layer2, addresses: [192.0.2.0/28]}
"""


def obj(kind, name, spec):
    return {"kind": kind, "metadata": {"name": name, "namespace": "metallb-system"}, "spec": spec}


def test_a_second_run_replaces_the_objects_of_the_first():
    conversion = convert(load_yaml(LEGACY), "metallb-system")
    first_run = [obj("IPAddressPool", "lan", {"addresses": ["192.0.2.0/28"]})]
    assert _blocking_errors(conversion, first_run) == []


def test_an_existing_pool_that_overlaps_blocks_the_conversion():
    conversion = convert(load_yaml(LEGACY), "metallb-system")
    existing = [obj("IPAddressPool", "manual", {"addresses": ["192.0.2.8/29"]})]
    errors = _blocking_errors(conversion, existing)
    assert [conversion.describe(error) for error in errors] == [
        "IPAddressPool 'manual', spec.addresses[0]: overlaps IPAddressPool 'lan' spec.addresses[0] on "
        "192.0.2.8/29; make every address belong to one entry of one pool "
        "(an existing object the converted configuration conflicts with)"
    ]


def test_errors_the_cluster_already_had_do_not_block():
    conversion = convert(load_yaml(LEGACY), "metallb-system")
    existing = [obj("L2Advertisement", "stale", {"ipAddressPools": ["gone"]})]
    assert _blocking_errors(conversion, existing) == []
