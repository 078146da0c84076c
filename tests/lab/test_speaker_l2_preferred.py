"""Preferred nodes in layer 2 on the lab's wire: ``preferredNodeSelectors`` pick the announcing node.

Three real speakers and the real controller; one L2Advertisement prefers the nodes labelled
``example.com/edge=true``. The node the hash elects last is labelled: it alone answers ARP for
the VIP, and the speakers' status and lb_info say so; when it dies the hash winner takes over,
when it returns it takes the VIP back (MetalLB's rule), and without the label the hash decides
again. Every phase waits for the client to see the expected node, and only it, answer.
"""

from __future__ import annotations

from ansible_collections.baremetal.lb.plugins.module_utils.ownership import ownership_key, rank
from tests.lab.ansible_harness import run_tasks
from tests.lab.controller_harness import service_manifest, unique, wait_for
from tests.lab.speaker_harness import POOL4, answered_by_only, predicted_owner

EDGE = "example.com/edge"
PREFER_EDGE = [{"weight": 100, "preference": {"matchLabels": {EDGE: "true"}}}]


def _reported_by(l2, namespace: str, node: str) -> None:
    wait_for(
        f"{node}'s ServiceL2Status, and no other",
        lambda: [s["status"]["node"] for s in l2.l2_statuses(namespace, "web") if s.get("status")] == [node],
    )


def test_the_preferred_node_answers_while_alive_and_the_hash_decides_without_it(
    lab, cluster, l2, start_controller, speakers, namespace, label_node, tmp_path
):
    pool = cluster.create_pool(unique("l2"), [POOL4])
    l2.advertise(unique("prefer"), ipAddressPools=[pool], preferredNodeSelectors=PREFER_EDGE)
    start_controller()
    speakers.start()
    l2.deploy(namespace, "web")
    cluster.create_service(namespace, service_manifest("web"))
    ips = cluster.wait_ips(namespace, "web")
    nodes = set(lab.nodes)
    winner, *_rest, preferred = rank(nodes, ownership_key(ips))  # the hash's first and last choices
    answered_by_only(lab, ips[0], winner)  # no node carries the label yet: the hash decides

    label_node(preferred, EDGE, "true")
    answered_by_only(lab, ips[0], preferred)
    _reported_by(l2, namespace, preferred)
    (info,) = run_tasks(
        lab, tmp_path, [{"name": "lb_info", "baremetal.lb.lb_info": {"service_namespace": namespace}}]
    )
    (web,) = [item for item in info["services"] if item["name"] == "web"]
    assert [report["node"] for report in web["announcements"][0]["layer2"]] == [preferred]

    speakers[preferred].crash()
    answered_by_only(lab, ips[0], predicted_owner(ips, nodes - {preferred}))  # any node takes over

    speakers[preferred].start()
    answered_by_only(lab, ips[0], preferred)  # back: it takes the VIP back, as MetalLB does

    label_node(preferred, EDGE, None)
    answered_by_only(lab, ips[0], winner)
    _reported_by(l2, namespace, winner)
