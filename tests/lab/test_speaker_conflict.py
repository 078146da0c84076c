"""A host on the LAN claiming a Service's VIP: the owner reports it everywhere and keeps the VIP.

The lab's client namespace plays the rogue: plain Linux with the VIP assigned to its interface,
pinging the owner from the VIP, so it broadcasts ARP requests whose sender is the VIP.
"""

from __future__ import annotations

from tests.lab.controller_harness import wait_for
from tests.lab.speaker_harness import announced_web, answering_nodes


def test_a_host_claiming_the_vip_is_reported_while_the_owner_keeps_answering(
    lab, cluster, l2, start_controller, speakers, namespace
):
    ips, owner = announced_web(lab, cluster, l2, start_controller, speakers, namespace)
    vip, rogue = ips[0], lab.hosts["client"]
    service = f"{namespace}/web"

    def claim() -> list[str]:
        """The rogue talks from the VIP once more; the AddressConflict Events so far."""
        lab.exec("client", ["ip", "neigh", "flush", "dev", rogue["interface"]])
        lab.exec("client", ["ping", "-c", "1", "-W", "1", "-I", vip, lab.hosts[owner]["ipv4"]], check=False)
        return cluster.events(namespace, "web", "AddressConflict")

    lab.exec("client", ["ip", "addr", "add", f"{vip}/32", "dev", rogue["interface"]])
    try:
        events = wait_for("an AddressConflict Event on the Service", claim, timeout=30)
        assert rogue["mac"] in events[0] and f"node {owner}" in events[0] and "keeps announcing" in events[0]

        def conflict_condition() -> list[dict]:
            statuses = l2.l2_statuses(namespace, "web")
            return [
                c
                for s in statuses
                for c in (s.get("status") or {}).get("conditions") or []
                if c["type"] == "AddressConflict"
            ]

        (condition,) = wait_for("the AddressConflict condition", conflict_condition, timeout=30)
        assert condition["status"] == "True" and rogue["mac"] in condition["message"]
        labels = f'ip="{vip}",mac="{rogue["mac"]}",node="{owner}",service="{service}"'
        wait_for(
            "the conflict gauge",
            lambda: f"metallb_speaker_address_conflict{{{labels}}} 1.0" in speakers[owner].metrics(),
            timeout=10,
        )
        logs = speakers[owner].logs()
        assert f'"mac": "{rogue["mac"]}"' in logs and f'"service": "{service}"' in logs
        assert owner in answering_nodes(lab, vip)  # it never yields the VIP
    finally:
        lab.exec("client", ["ip", "addr", "del", f"{vip}/32", "dev", rogue["interface"]], check=False)
