"""An IP that is assigned but announced by nobody is said so in all four places.

The configuration is what the legacy converter makes of a BGP pool without peers: a pool and a
BGPAdvertisement selecting it, and no BGPPeer. The controller assigns an address from it; then
`expose` warns, `lb_info` warns, the controller puts a Warning Event on the Service and the
speaker logs a line, each with the same sentence.
"""

from __future__ import annotations

import contextlib

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import BGP_ADVERTISEMENT
from tests.lab import controller_harness, speaker_harness
from tests.lab.ansible_harness import run_tasks
from tests.lab.controller_harness import unique, wait_for

controller_config = controller_harness.controller_config
cluster = controller_harness.cluster
start_controller = controller_harness.start_controller
speaker_config = speaker_harness.speaker_config
speakers = speaker_harness.speakers

BGP_ADS = f"{BGP_ADVERTISEMENT.api_path}/namespaces/metallb-system/{BGP_ADVERTISEMENT.plural}"


def test_an_ip_of_a_bgp_pool_without_peers_is_reported_unannounced_everywhere(
    lab, cluster, start_controller, speakers, namespace, tmp_path
):
    pool = cluster.create_pool(unique("bgp-only"), ["198.51.100.48/28"])
    advertisement = unique("bgp-only")
    cluster.api.request(
        "POST",
        BGP_ADS,
        body={
            "apiVersion": BGP_ADVERTISEMENT.api_version,
            "kind": BGP_ADVERTISEMENT.kind,
            "metadata": {"name": advertisement, "namespace": "metallb-system"},
            "spec": {"ipAddressPools": [pool]},
        },
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
    finally:
        with contextlib.suppress(Exception):  # expose may have failed before creating it
            cluster.delete_service(namespace, "web")
        cluster.api.request("DELETE", f"{BGP_ADS}/{advertisement}")
