"""The speakers' status objects have MetalLB's shape, for both kinds, and read back as written."""

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import (
    SERVICE_BGP_STATUS,
    SERVICE_L2_STATUS,
    STATUS_KINDS,
)
from ansible_collections.baremetal.lb.plugins.module_utils.status_objects import (
    BGP_STATUS_KIND,
    L2_STATUS_KIND,
    reported_service,
    status_labels,
)

# kind, where (unsorted), MetalLB's status for ("shop/web", "node1", where), generateName
SHAPES = [
    (
        L2_STATUS_KIND,
        ["eth1", "eth0"],
        {
            "node": "node1",
            "serviceName": "web",
            "serviceNamespace": "shop",
            "interfaces": [{"name": "eth0"}, {"name": "eth1"}],
        },
        "l2-",
    ),
    (
        BGP_STATUS_KIND,
        ["tor-b", "tor-a"],
        {"node": "node1", "serviceName": "web", "serviceNamespace": "shop", "peers": ["tor-a", "tor-b"]},
        "bgp-",
    ),
    (
        BGP_STATUS_KIND,
        [],
        {"node": "node1", "serviceName": "web", "serviceNamespace": "shop", "peers": []},
        "bgp-",
    ),
]


@pytest.mark.parametrize(("kind", "where", "status", "prefix"), SHAPES)
def test_status_is_metallbs_and_reads_back_sorted(kind, where, status, prefix):
    assert kind.status("shop/web", "node1", where) == status
    assert kind.where(status) == tuple(sorted(where))
    assert kind.generate_name == prefix


def test_the_kinds_are_the_table_s_status_kinds():
    assert (L2_STATUS_KIND.metallb, BGP_STATUS_KIND.metallb) == (SERVICE_L2_STATUS, SERVICE_BGP_STATUS)
    assert STATUS_KINDS == (SERVICE_L2_STATUS, SERVICE_BGP_STATUS)


@pytest.mark.parametrize(
    ("kind", "status", "where"),
    [
        (L2_STATUS_KIND, None, ()),
        (L2_STATUS_KIND, {}, ()),
        (L2_STATUS_KIND, {"interfaces": [{"name": ""}, {}, "eth0", {"name": "eth2"}]}, ("eth2",)),
        (BGP_STATUS_KIND, {"peers": None}, ()),
        (BGP_STATUS_KIND, {"peers": ["", "tor-a"]}, ("tor-a",)),
        (BGP_STATUS_KIND, {"interfaces": [{"name": "eth0"}]}, ()),  # another kind's field
    ],
)
def test_where_ignores_what_names_no_place(kind, status, where):
    assert kind.where(status) == where


def test_labels_are_metallbs():
    assert status_labels("shop/web", "node1") == {
        "metallb.io/node": "node1",
        "metallb.io/service-name": "web",
        "metallb.io/service-namespace": "shop",
    }


@pytest.mark.parametrize(
    ("obj", "reported"),
    [
        ({"metadata": {"labels": status_labels("shop/web", "node1")}}, ("shop", "web", "node1")),
        (
            {
                "metadata": {"labels": status_labels("shop/web", "node1")},
                "status": BGP_STATUS_KIND.status("other/api", "node2", ["tor-a"]),
            },
            ("other", "api", "node2"),  # the status wins over the labels
        ),
        ({"metadata": {}}, (None, None, None)),
        ({}, (None, None, None)),
    ],
)
def test_reported_service_reads_status_then_labels(obj, reported):
    assert reported_service(obj) == reported
