"""An IP that is assigned but announced by nobody is said so in all four places.

The configuration is what the legacy converter makes of a BGP pool without peers: a pool and a
BGPAdvertisement selecting it, and no BGPPeer. The controller assigns an address from it; then
`expose` warns, `lb_info` warns, the controller puts a Warning Event on the Service and the
speaker logs a line, each with the same sentence. Once a BGPPeer exists, lb_info no longer
warns and the controller records no second Event.
"""

from __future__ import annotations

import contextlib

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import BGP_ADVERTISEMENT, BGP_PEER
from tests.lab.ansible_harness import run_tasks
from tests.lab.controller_harness import metallb_manifest, unique, wait_for

BGP_ADS = f"{BGP_ADVERTISEMENT.api_path}/namespaces/metallb-system/{BGP_ADVERTISEMENT.plural}"
BGP_PEERS = f"{BGP_PEER.api_path}/namespaces/metallb-system/{BGP_PEER.plural}"


def test_an_ip_of_a_bgp_pool_without_peers_is_reported_unannounced_everywhere_until_a_peer_comes(
    lab, cluster, start_controller, speakers, namespace, tmp_path
):
    peers = [item["metadata"]["name"] for item in cluster.api.request("GET", BGP_PEERS)["items"]]
    # a BGPAdvertisement naming no peers sends to every BGPPeer: with one, the pool is announced
    assert not peers, f"metallb-system holds BGPPeers {peers} (left by a playbook run?); this case needs none"
    pool = cluster.create_pool(unique("bgp-only"), ["198.51.100.48/28"])
    advertisement, peer = unique("bgp-only"), unique("nowhere")
    cluster.api.request(
        "POST", BGP_ADS, body=metallb_manifest(BGP_ADVERTISEMENT, advertisement, {"ipAddressPools": [pool]})
    )
    try:
        start_controller()
        (speaker,) = speakers.start(next(iter(lab.nodes)))
        expose, info = run_tasks(
            lab,
            tmp_path,
            [
                {
                    "name": "expose",
                    "baremetal.lb.expose": {
                        "name": "web",
                        "namespace": namespace,
                        "selector": {"app": "web"},
                        "ports": [{"port": 80}],
                        "pool": pool,
                        "wait_timeout": 60,
                    },
                },
                {"name": "lb_info", "baremetal.lb.lb_info": {"service_namespace": namespace}},
            ],
        )
        reason = (
            f"pool {pool!r} is announced over BGP only (BGPAdvertisement {advertisement!r}) "
            "and there is no BGPPeer"
        )
        sentence = f"{expose['ips'][0]} from pool {pool!r} is announced by no node: {reason}"
        assert expose["warnings"] == [f"Service {namespace}/web: {sentence}"]
        assert info["warnings"] == [f"Service {namespace}/web: {sentence}"]
        assert info["services"][0]["unannounced"] == reason
        assert wait_for(
            "the NotAnnounced Event", lambda: cluster.events(namespace, "web", "NotAnnounced")
        ) == [sentence]
        wait_for("the speaker's log line", lambda: sentence in speaker.logs(), timeout=30)

        # A BGPPeer makes the pool announced (node selectors aside, which are the speakers'
        # business: this one selects no node, so no session starts in the lab).
        nowhere = {
            "myASN": 64512,
            "peerASN": 64513,
            "peerAddress": "203.0.113.254",
            "nodeSelectors": [{"matchLabels": {"example.com/no-such-node": "none"}}],
        }
        cluster.api.request("POST", BGP_PEERS, body=metallb_manifest(BGP_PEER, peer, nowhere))
        (announced,) = run_tasks(
            lab, tmp_path, [{"name": "lb_info", "baremetal.lb.lb_info": {"service_namespace": namespace}}]
        )
        assert announced.get("warnings", []) == []
        assert announced["services"][0]["unannounced"] is None
        assert cluster.events(namespace, "web", "NotAnnounced") == [sentence]  # no second Event
    finally:
        with contextlib.suppress(Exception):  # expose may have failed before creating it
            cluster.delete_service(namespace, "web")
        cluster.api.request("DELETE", f"{BGP_ADS}/{advertisement}")
        with contextlib.suppress(Exception):  # not created when an assertion before it failed
            cluster.api.request("DELETE", f"{BGP_PEERS}/{peer}")
