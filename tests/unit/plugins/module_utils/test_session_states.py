"""BGPSessionState objects: frr-k8s's shape, names and labels the API server takes, read back."""

from __future__ import annotations

import re

import pytest

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import BGP_SESSION_STATE
from ansible_collections.baremetal.lb.plugins.module_utils.session_states import (
    BFD_STATES,
    BGP_STATES,
    SessionState,
    bfd_status,
    bgp_status,
    label_value,
    node_sessions,
    not_established,
    object_name,
    pod_owner,
    read_session,
    session_labels,
    session_object,
    session_of,
    sessions_by_peer,
)

LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def test_the_kind_is_frr_k8s_s():
    assert BGP_SESSION_STATE.api_version == "frrk8s.metallb.io/v1beta1"
    assert BGP_SESSION_STATE.resource_name == "bgpsessionstates.frrk8s.metallb.io"
    assert BGP_SESSION_STATE.api_path == "/apis/frrk8s.metallb.io/v1beta1"


@pytest.mark.parametrize(
    ("engine", "expected"),
    [
        ("Established", "Established"),
        ("OpenSent", "OpenSent"),
        ("Idle", "Idle"),
        (None, "Idle"),  # the engine does not run the peer (yet)
        ("Bogus", "Idle"),
    ],
)
def test_bgp_status_is_one_of_the_fsm_states(engine, expected):
    assert bgp_status(engine) == expected
    assert bgp_status(engine) in BGP_STATES


@pytest.mark.parametrize(
    ("engine", "expected"),
    [
        ("UP", "Up"),
        ("DOWN", "Down"),
        ("INIT", "Init"),
        ("ADMIN_DOWN", "AdminDown"),
        (None, "N/A"),  # no BFD profile
        ("weird", "N/A"),
    ],
)
def test_bfd_status_spells_the_engine_s_state_as_frr_k8s(engine, expected):
    assert bfd_status(engine) == expected
    assert bfd_status(engine) in BFD_STATES


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8::1", "2001-db8--1"),
        ("::1", "1"),  # must start with an alphanumeric
        ("", ""),
        ("tor-a", "tor-a"),
    ],
)
def test_label_value(text, expected):
    assert label_value(text) == expected
    assert LABEL_VALUE.match(label_value(text))


def test_a_long_label_value_is_cut_with_a_hash_that_keeps_two_apart():
    one, two = label_value("p" * 80 + "1"), label_value("p" * 80 + "2")
    assert len(one) <= 63 and LABEL_VALUE.match(one)
    assert one != two


@pytest.mark.parametrize(
    ("node", "peer"),
    [
        ("node1", "tor-a"),
        ("Node_1", "TOR.A"),  # not DNS: lowered and replaced
        ("n" * 200, "p" * 200),  # too long: cut
    ],
)
def test_object_name_is_a_dns_subdomain(node, peer):
    name = object_name(node, peer)
    assert len(name) <= 253 and DNS_SUBDOMAIN.match(name), name
    assert object_name(node, peer) == name  # stable: the writer finds its objects by name


def test_object_names_of_pairs_that_read_alike_differ():
    assert object_name("node-a", "x") != object_name("node", "a-x")


STATE = SessionState("node1", "tor-a", "2001:db8::1", "Established", "Up")


def test_the_object_is_frr_k8s_s_with_the_bgppeer_in_a_label_and_the_pod_as_owner():
    owner = pod_owner("speaker-abcde", "0c1d")
    obj = session_object(STATE, "metallb-system", owner)
    assert obj["apiVersion"] == "frrk8s.metallb.io/v1beta1" and obj["kind"] == "BGPSessionState"
    assert obj["metadata"] == {
        "name": object_name("node1", "tor-a"),
        "namespace": "metallb-system",
        "labels": {
            "frrk8s.metallb.io/node": "node1",
            "frrk8s.metallb.io/peer": "2001-db8--1",
            "frrk8s.metallb.io/vrf": "",
            "metallb.io/bgppeer": "tor-a",
        },
        "ownerReferences": [
            {"apiVersion": "v1", "kind": "Pod", "name": "speaker-abcde", "uid": "0c1d", "controller": False}
        ],
    }
    assert obj["status"] == {
        "bgpStatus": "Established",
        "bfdStatus": "Up",
        "node": "node1",
        "peer": "2001:db8::1",
        "vrf": "",
    }
    assert "ownerReferences" not in session_object(STATE, "metallb-system")["metadata"]  # outside a Pod


def test_an_object_reads_back_as_its_session():
    assert read_session(session_object(STATE, "ns")) == STATE
    assert read_session({"metadata": {"labels": session_labels(STATE)}}) == SessionState(
        "node1", "tor-a", "", "Idle", "N/A"
    )  # created, status not written yet
    assert read_session({"metadata": {"labels": {}}, "status": {"node": "node1"}}) is None  # no BGPPeer


@pytest.mark.parametrize(
    ("configured", "reported", "expected"),
    [
        ({}, {"gone": {"state": "Established"}}, {}),  # a peer no longer configured: no object
        (
            {"tor-a": "192.0.2.1"},
            {"tor-a": {"state": "Established", "bfd": "UP", "updates_sent": 9}},
            {"tor-a": SessionState("node1", "tor-a", "192.0.2.1", "Established", "Up")},
        ),
        (
            {"tor-a": "192.0.2.1", "refused": "192.0.2.2"},  # refused: the engine does not run it
            {"tor-a": {"state": "Active", "bfd": None}},
            {
                "tor-a": SessionState("node1", "tor-a", "192.0.2.1", "Active", "N/A"),
                "refused": SessionState("node1", "refused", "192.0.2.2", "Idle", "N/A"),
            },
        ),
    ],
)
def test_node_sessions_one_per_configured_peer(configured, reported, expected):
    assert node_sessions("node1", configured, reported) == expected


def test_a_bgppeer_with_a_name_too_long_for_a_label_is_still_found():
    long_name = "peer-" + "x" * 100
    state = SessionState("node1", long_name, "192.0.2.1", "Established")
    sessions = sessions_by_peer([session_object(state, "ns"), {"metadata": {}}])  # the second names nothing
    assert session_of(sessions, "node1", long_name).established
    assert not_established([("node1", long_name)], sessions) is None
    assert not_established([], sessions) is None  # nobody announces: said elsewhere
    assert not_established([("node2", long_name)], sessions) == f"node2/{long_name}: no BGPSessionState"
