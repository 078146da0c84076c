"""An IP that is assigned but announced by nobody is said so in all four places.

The configuration is what the legacy converter makes of a BGP pool without peers: a pool and a
BGPAdvertisement selecting it, and no BGPPeer. The controller assigns an address from it; then
`expose` warns, `lb_info` warns, the controller puts a Warning Event on the Service and the
speaker logs a line, each with the same sentence.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import BGP_ADVERTISEMENT
from tests.lab import controller_harness, speaker_harness
from tests.lab.controller_harness import REPO, unique, wait_for

controller_config = controller_harness.controller_config
cluster = controller_harness.cluster
start_controller = controller_harness.start_controller
speaker_config = speaker_harness.speaker_config
speakers = speaker_harness.speakers

BGP_ADS = f"{BGP_ADVERTISEMENT.api_path}/namespaces/metallb-system/{BGP_ADVERTISEMENT.plural}"
VENV_BIN = Path(sys.executable).parent


def _playbook(lab: Any, tmp_path: Path, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run ``tasks`` on localhost against the lab; return each task's result (json callback)."""
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump(play))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("K8S_AUTH_", "KUBECONFIG"))}
    env.update(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", K8S_AUTH_KUBECONFIG=str(lab.kubeconfig))
    argv = [
        str(VENV_BIN / "ansible-playbook"),
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        str(path),
    ]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"playbook failed:\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    return [task["hosts"]["localhost"] for task in json.loads(done.stdout)["plays"][0]["tasks"]]


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
        expose, info = _playbook(
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
