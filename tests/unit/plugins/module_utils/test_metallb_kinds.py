"""The metallb.io kinds table says what the CRDs, the modules and the parser say."""

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.baremetal.lb.plugins.module_utils.config_model import ClusterResources
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import (
    ALL_KINDS,
    BY_KIND,
    CONFIG_KINDS,
    FRRK8S_GROUP,
    GROUP,
    SESSION_KINDS,
    STATUS_KINDS,
    cluster_resources,
)
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_resources import RESOURCES
from ansible_collections.baremetal.lb.plugins.module_utils.validation import parse_config

ROOT = Path(__file__).resolve().parents[4]
CRDS = ROOT / "roles" / "install" / "files" / "crds"


def _crds():
    docs = [yaml.safe_load(path.read_text()) for path in sorted(CRDS.glob("*.yaml"))]
    return {doc["spec"]["names"]["kind"]: doc for doc in docs}


def test_every_crd_has_one_entry_and_every_entry_a_crd():
    assert set(_crds()) == set(BY_KIND) == {kind.kind for kind in ALL_KINDS}


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda kind: kind.kind)
def test_group_plural_and_versions_are_the_crds(kind):
    crd = _crds()[kind.kind]
    group = FRRK8S_GROUP if kind.kind == "BGPSessionState" else GROUP  # frr-k8s's kind, frr-k8s's group
    assert kind.group == group
    assert crd["spec"]["group"] == group
    assert crd["spec"]["names"]["plural"] == kind.plural
    assert crd["metadata"]["name"] == kind.resource_name
    served = [version["name"] for version in crd["spec"]["versions"] if version["served"]]
    (storage,) = [version["name"] for version in crd["spec"]["versions"] if version["storage"]]
    assert tuple(served) == kind.versions
    assert storage == kind.version
    assert kind.api_version == f"{group}/{kind.version}"
    assert kind.api_path == f"/apis/{group}/{kind.version}"


def test_the_modules_are_the_table_s_modules_and_each_runs_its_kind():
    assert set(RESOURCES) == {kind.module for kind in CONFIG_KINDS}
    written_by_speakers = (*STATUS_KINDS, *SESSION_KINDS)
    assert all(kind.module is None and kind.resources_field is None for kind in written_by_speakers)
    for name, resource in RESOURCES.items():
        assert resource.definition.module == name
        source = (ROOT / "plugins" / "modules" / f"{name}.py").read_text()
        assert re.search(rf'run\("{name}"\)', source), name
        assert f"{resource.kind} (metallb.io/{resource.version})" in source or (
            f"{resource.kind}, metallb.io/{resource.version}" in source
        ), f"{name}: its short_description names another version"


def test_every_configuration_field_is_some_kind_s():
    fields = {field.name for field in dataclasses.fields(ClusterResources)} - {"nodes"}
    assert {kind.resources_field for kind in CONFIG_KINDS} == fields


MINIMAL = {
    "IPAddressPool": {"addresses": ["192.0.2.0/28"]},
    "L2Advertisement": {},
    "BGPAdvertisement": {},
    "BGPPeer": {"myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.254"},
    "Community": {"communities": [{"name": "no-export-alias", "value": "65535:65281"}]},
    "BFDProfile": {},
}


@pytest.mark.parametrize("kind", CONFIG_KINDS, ids=lambda kind: kind.kind)
def test_the_parser_turns_each_kind_into_its_model(kind):
    obj = {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": {"name": "x"}}
    config = parse_config(cluster_resources([{**obj, "spec": MINIMAL[kind.kind]}]))
    parsed = {
        "pools": config.pools,
        "l2_advertisements": config.l2_advertisements,
        "bgp_advertisements": config.bgp_advertisements,
        "bgp_peers": config.bgp_peers,
        "communities": tuple(config.communities.values()),
        "bfd_profiles": tuple(config.bfd_profiles.values()),
    }[str(kind.resources_field)]
    assert len(parsed) == 1
    assert isinstance(parsed[0], kind.model)


def test_cluster_resources_sorts_by_kind_keeps_nodes_and_ignores_the_rest():
    pool = {"kind": "IPAddressPool", "metadata": {"name": "p"}}
    peer = {"kind": "BGPPeer", "metadata": {"name": "q"}}
    node = {"kind": "Node", "metadata": {"name": "n"}}
    statuses = [{"kind": kind.kind, "metadata": {"name": "s"}} for kind in STATUS_KINDS]
    resources = cluster_resources([pool, peer, node, *statuses, {"kind": "ConfigMap"}])
    assert {name: list(value) for name, value in dataclasses.asdict(resources).items()} == {
        "pools": [pool],
        "l2_advertisements": [],
        "bgp_advertisements": [],
        "bgp_peers": [peer],
        "communities": [],
        "bfd_profiles": [],
        "nodes": [node],
    }
    assert cluster_resources([]).nodes is None
