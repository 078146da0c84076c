"""Layer-2 announcement on the lab's wire: who answers ARP/NDP for a VIP, and what is published.

Three real speakers (one per node namespace) and the real controller; Services get their IPs
from an on-link pool, so the client namespace ARPs/solicits for them and we compare the MACs
of the answers with the node the MetalLB rule predicts.
"""

from __future__ import annotations

from tests.lab.controller_harness import service_manifest, unique, wait_for
from tests.lab.speaker_harness import POOL4, POOL6, answered_by_only, answering_nodes, predicted_owner


def _setup(cluster, l2, start_controller, speakers, **advertisement):
    pool = cluster.create_pool(unique("l2"), [POOL4, POOL6])
    l2.advertise(unique("l2"), ipAddressPools=[pool], **advertisement)
    start_controller()
    speakers.start()
    return pool


def _answered_by(lab, vip, expected, timeout=10):
    answered_by_only(lab, vip, expected, timeout)


def test_arp_and_ndp_answered_by_the_predicted_node_only(
    lab, cluster, l2, start_controller, speakers, namespace
):
    _setup(cluster, l2, start_controller, speakers)
    l2.deploy(namespace, "web4", replicas=1)
    cluster.create_service(namespace, service_manifest("web4"))
    cluster.create_service(namespace, service_manifest("web6", ipv6=True, selector=None))
    l2.endpoint_slice(namespace, "web6", ["node1"])
    ip4 = cluster.wait_ips(namespace, "web4")
    ip6 = cluster.wait_ips(namespace, "web6")
    owner4 = predicted_owner(ip4, set(lab.nodes))
    owner6 = predicted_owner(ip6, set(lab.nodes))
    _answered_by(lab, ip4[0], owner4)
    _answered_by(lab, ip6[0], owner6)

    # What users see: a ServiceL2Status from the owner, an Event, logs and metrics.
    status = wait_for(
        "a ServiceL2Status", lambda: [s for s in l2.l2_statuses(namespace, "web4") if s.get("status")]
    )
    assert len(status) == 1
    assert status[0]["status"]["node"] == owner4
    assert status[0]["status"]["serviceName"] == "web4"
    assert status[0]["status"]["serviceNamespace"] == namespace
    assert status[0]["status"]["interfaces"] == [{"name": "eth0"}]
    events = wait_for("a nodeAssigned Event", lambda: cluster.events(namespace, "web4", "nodeAssigned"))
    assert any(f'node "{owner4}" with protocol "layer2"' in message for message in events)
    owner = speakers[owner4]
    assert f'"ip": "{ip4[0]}"' in owner.logs() and f'"service": "{namespace}/web4"' in owner.logs()
    metrics = wait_for(
        "the layer2 counters",
        lambda: (m := owner.metrics()) and f'metallb_layer2_responses_sent{{ip="{ip4[0]}"}}' in m and m,
    )
    labels = f'ip="{ip4[0]}",node="{owner4}",protocol="layer2",service="{namespace}/web4"'
    assert f"metallb_speaker_announced{{{labels}}} 1.0" in metrics
    assert f'metallb_layer2_requests_received{{ip="{ip4[0]}"}}' in metrics
    assert f'metallb_layer2_gratuitous_sent{{ip="{ip4[0]}"}}' in metrics


def test_local_traffic_policy_announces_only_from_nodes_with_ready_endpoints(
    lab, cluster, l2, start_controller, speakers, namespace
):
    _setup(cluster, l2, start_controller, speakers)
    cluster.create_service(namespace, service_manifest("web", externalTrafficPolicy="Local"))
    ips = cluster.wait_ips(namespace, "web")
    cluster_owner = predicted_owner(ips, set(lab.nodes))
    host = next(node for node in lab.nodes if node != cluster_owner)  # so the policy is what decides
    # No endpoint anywhere yet: nobody answers.
    assert answering_nodes(lab, ips[0]) == []
    l2.deploy(namespace, "web", replicas=1, node=host)
    wait_for("a ready endpoint", lambda: l2.ready_endpoint_nodes(namespace, "web") == {host})
    _answered_by(lab, ips[0], host)


def test_node_selectors_restrict_the_announcing_nodes(
    lab, cluster, l2, start_controller, speakers, namespace
):
    # Find out who would own the first address, then allow every node but that one.
    pool = cluster.create_pool(unique("l2"), [POOL4])
    start_controller()
    l2.deploy(namespace, "web")
    cluster.create_service(namespace, service_manifest("web"))
    probe_ips = cluster.wait_ips(namespace, "web")
    unrestricted = predicted_owner(probe_ips, set(lab.nodes))
    allowed = sorted(set(lab.nodes) - {unrestricted})
    selector = [
        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": allowed}]}
    ]
    l2.advertise(unique("l2"), ipAddressPools=[pool], nodeSelectors=selector)
    speakers.start()
    _answered_by(lab, probe_ips[0], predicted_owner(probe_ips, set(allowed)))


def test_shared_ip_is_announced_from_one_node(lab, cluster, l2, start_controller, speakers, namespace):
    _setup(cluster, l2, start_controller, speakers)
    l2.deploy(namespace, "web")
    shared = {"metallb.io/allow-shared-ip": "k"}
    for name, port in (("http", 80), ("https", 443)):
        manifest = service_manifest(name, annotations=shared, ports=(port,), selector={"app": "web"})
        cluster.create_service(namespace, manifest)
    ips = cluster.wait_ips(namespace, "http")
    assert cluster.wait_ips(namespace, "https") == ips
    owner = predicted_owner(ips, set(lab.nodes))
    _answered_by(lab, ips[0], owner)
    statuses = wait_for(
        "both reports",
        lambda: len(s := l2.l2_statuses(namespace, "http") + l2.l2_statuses(namespace, "https")) == 2 and s,
    )
    assert {s["metadata"]["labels"]["metallb.io/node"] for s in statuses} == {owner}


def test_removed_ip_is_no_longer_answered(lab, cluster, l2, start_controller, speakers, namespace):
    _setup(cluster, l2, start_controller, speakers)
    l2.deploy(namespace, "web")
    cluster.create_service(namespace, service_manifest("web"))
    ips = cluster.wait_ips(namespace, "web")
    _answered_by(lab, ips[0], predicted_owner(ips, set(lab.nodes)))
    cluster.delete_service(namespace, "web")
    wait_for(f"{ips[0]} to go unanswered", lambda: answering_nodes(lab, ips[0], wait=0.5) == [], timeout=10)
    wait_for("the ServiceL2Status to go", lambda: not l2.l2_statuses(namespace, "web"))


STALE = "metallb_k8s_client_config_stale_bool"


def _stale(speaker) -> float | None:
    for line in speaker.metrics().splitlines():
        if line.startswith(f"{STALE} "):
            return float(line.split()[1])
    return None


def test_an_invalid_configuration_keeps_every_speaker_announcing_on_the_last_good_one(
    lab, cluster, l2, start_controller, speakers, namespace
):
    _setup(cluster, l2, start_controller, speakers)
    cluster.create_service(namespace, service_manifest("before", selector=None))
    l2.endpoint_slice(namespace, "before", ["node1"])  # announced only with a ready endpoint
    before = cluster.wait_ips(namespace, "before")
    _answered_by(lab, before[0], predicted_owner(before, set(lab.nodes)))

    bad = cluster.create_pool(unique("bad"), [POOL4])  # overlaps: the schema cannot see it, the check does
    for node in lab.nodes:
        wait_for(f"the stale gauge of the speaker on {node}", lambda s=speakers[node]: _stale(s) == 1)
        said = [line for line in speakers[node].logs().splitlines() if "keeping the last good one" in line]
        assert len(said) == 1 and bad in said[0], (node, said)

    # Still planning on the last good configuration: the old VIP keeps its owner, a new one is announced.
    _answered_by(lab, before[0], predicted_owner(before, set(lab.nodes)))
    cluster.create_service(namespace, service_manifest("during", selector=None))
    l2.endpoint_slice(namespace, "during", ["node1"])
    during = cluster.wait_ips(namespace, "during")
    _answered_by(lab, during[0], predicted_owner(during, set(lab.nodes)))

    cluster.delete_pool(bad)
    for node in lab.nodes:
        wait_for(
            f"the stale gauge of the speaker on {node} to clear", lambda s=speakers[node]: _stale(s) == 0
        )
