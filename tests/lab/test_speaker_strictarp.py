"""Why kube-proxy's IPVS mode needs strictARP, shown on the wire.

IPVS puts every LoadBalancer IP on ``kube-ipvs0`` of every node. Here each node gets the VIP on
a port-less bridge named ``kube-ipvs0`` (this kernel has no dummy interfaces). With
``arp_ignore=0`` every node's kernel answers ARP for it on eth0, besides the speaker; with
strictARP's sysctls (``arp_ignore=1``, ``arp_announce=2``) the kernels stay silent and only the
speaker's owner answers.
"""

from __future__ import annotations

import contextlib

from tests.lab.speaker_harness import announced_web, answering_nodes

IPVS = "kube-ipvs0"


def _sysctls(lab, node, ignore, announce):
    for scope in ("all", lab.hosts[node]["interface"]):
        lab.exec(node, ["sysctl", "-qw", f"net.ipv4.conf.{scope}.arp_ignore={ignore}"])
        lab.exec(node, ["sysctl", "-qw", f"net.ipv4.conf.{scope}.arp_announce={announce}"])


def test_strict_arp_leaves_only_the_speakers_owner_answering(
    lab, cluster, l2, start_controller, speakers, namespace
):
    ips, owner = announced_web(lab, cluster, l2, start_controller, speakers, namespace)
    try:
        for node in lab.nodes:
            lab.exec(node, ["ip", "link", "add", IPVS, "type", "bridge"])
            lab.exec(node, ["ip", "link", "set", IPVS, "up"])
            lab.exec(node, ["ip", "addr", "add", f"{ips[0]}/32", "dev", IPVS])
            _sysctls(lab, node, 0, 0)
        loose = answering_nodes(lab, ips[0])
        print(f"\narp_ignore=0: answers from {loose}")
        assert set(loose) == set(lab.nodes)  # every kernel answers: L2 mode is broken

        for node in lab.nodes:
            _sysctls(lab, node, 1, 2)
        strict = answering_nodes(lab, ips[0])
        print(f"strictARP: answers from {strict}")
        assert strict == [owner]
    finally:
        for node in lab.nodes:
            with contextlib.suppress(Exception):
                lab.exec(node, ["ip", "link", "del", IPVS])
            with contextlib.suppress(Exception):
                _sysctls(lab, node, 0, 0)
