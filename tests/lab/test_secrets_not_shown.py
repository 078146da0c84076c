"""Keys and passwords are never shown: not in Ansible's output, the daemons' logs or metrics,
Events or status.

BGP passwords go through the collection's modules the ways a playbook gives them: bgp_peer
(a create, an unchanged re-run, check mode with a new password, a run that fails) and
metallb_config (a merged peer; a run refused for a bad pool beside a peer), then lb_info and
metallb_config gathered read the result. The play runs twice: with the JSON callback (each
task's status is checked, so the runs really happened) and with the default one at -vvv with
--diff (module arguments, invocations, diffs). Then the controller and a speaker run with those
BGPPeers in the cluster; once the speaker has logged its first attempt at the keyed session
with the lab's BIRD (which has no key for it), its log and metrics, the controller's log, every
Event and the status objects are searched for each password and for the speakers' memberlist
key.
"""

from __future__ import annotations

import base64
import json
import secrets
from functools import partial

from kubernetes import client

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import (
    BGP_PEER,
    GROUP,
    SESSION_KINDS,
    STATUS_KINDS,
)
from lab import topology
from tests.lab.ansible_harness import run_playbook
from tests.lab.conftest import CONFIG_NAMESPACE, delete_if_present
from tests.lab.controller_harness import unique, wait_for
from tests.lab.speaker_harness import SECRET


def _peer(router: dict, name: str, password: str) -> dict:
    return {
        "name": name,
        "my_asn": topology.NODE_ASN,
        "peer_asn": router["asn"],
        "peer_address": router["ipv4"],
        "hold_time": "9s",
        "connect_time": "1s",
        "password": password,
    }


def _tasks(router: dict, names: list[str], passwords: list[str]) -> list[dict]:
    ns = {"namespace": CONFIG_NAMESPACE}
    first, second, third = names
    return [
        {"name": "create", "baremetal.lb.bgp_peer": {**_peer(router, first, passwords[0]), **ns}},
        {"name": "unchanged", "baremetal.lb.bgp_peer": {**_peer(router, first, passwords[0]), **ns}},
        {
            "name": "check a new password",
            "baremetal.lb.bgp_peer": {**_peer(router, first, passwords[1]), **ns},
            "check_mode": True,
            "diff": True,
        },
        {
            "name": "fail with a password",
            "baremetal.lb.bgp_peer": {**_peer(router, unique("bgp-pw"), passwords[2]), "peer_asn": -1, **ns},
            "ignore_errors": True,
        },
        {
            "name": "merged config",
            "baremetal.lb.metallb_config": {
                **ns,
                "config": {"bgp_peers": [_peer(router, second, passwords[3])]},
            },
            "diff": True,
        },
        {
            "name": "refused config",
            "baremetal.lb.metallb_config": {
                **ns,
                "config": {
                    "bgp_peers": [_peer(router, third, passwords[4])],
                    "pools": [{"name": "bad-range", "addresses": ["192.0.2.90-192.0.2.80"]}],
                },
            },
            "ignore_errors": True,
        },
        {"name": "lb_info", "baremetal.lb.lb_info": ns},
        {"name": "gathered", "baremetal.lb.metallb_config": {**ns, "state": "gathered"}},
    ]


def _statuses(stdout: str) -> dict[str, dict]:
    """Each task's result by task name, from the JSON callback's output."""
    tasks = json.loads(stdout)["plays"][0]["tasks"]
    return {task["task"]["name"]: task["hosts"]["localhost"] for task in tasks}


def test_bgp_passwords_and_the_memberlist_key_show_nowhere(
    lab, kube, tmp_path, metallb_namespace, start_controller, speakers
):
    router = lab.routers["bird"]
    names = [unique(f"bgp-pw{i}") for i in range(3)]
    passwords = [f"pw{i}-{secrets.token_hex(8)}" for i in range(5)]
    custom = client.CustomObjectsApi(kube)
    try:
        plays = _tasks(router, names, passwords)
        as_json = run_playbook(lab, tmp_path, plays)
        results = _statuses(as_json.stdout)
        assert results["create"].get("changed") and not results["unchanged"].get("changed"), results
        assert results["check a new password"].get("changed"), "check mode sees the new password"
        assert results["fail with a password"].get("failed"), results["fail with a password"]
        assert results["merged config"].get("changed"), results["merged config"]
        refused = results["refused config"]
        assert refused.get("failed") and "bad-range" in refused["msg"], refused
        verbose = run_playbook(lab, tmp_path, plays, "-vvv", "--diff", callback="ansible.builtin.default")
        assert "TASK [gathered]" in verbose.stdout, verbose.stdout[-3000:]

        controller = start_controller()
        speaker = speakers.start(lab.nodes[0])[0]
        wait_for(
            f"{lab.nodes[0]} to log its keyed session attempt with {router['ipv4']} ({names[0]})",
            lambda: f"bgp peer {names[0]}:" in speaker.logs(),
            timeout=30,
        )
        core = client.CoreV1Api(kube)
        memberlist = base64.b64decode(core.read_namespaced_secret(SECRET, CONFIG_NAMESPACE).data["secretkey"])
        shown = {
            "ansible-playbook, JSON callback": as_json.stdout + as_json.stderr,
            "ansible-playbook -vvv --diff": verbose.stdout + verbose.stderr,
            "the speaker's log": speaker.logs(),
            "the speaker's metrics": speaker.metrics(),
            "the controller's log": controller.logs(),
            "Events": str(core.list_event_for_all_namespaces().to_dict()),
            "status objects": json.dumps(_status_objects(custom)),
        }
        for where, text in shown.items():
            for secret in [*passwords, memberlist.decode(errors="replace")]:
                assert secret not in text, f"{secret!r} is shown in {where}"
    finally:
        for name in names:
            delete_if_present(
                partial(
                    custom.delete_namespaced_custom_object,
                    GROUP,
                    BGP_PEER.version,
                    CONFIG_NAMESPACE,
                    BGP_PEER.plural,
                    name,
                )
            )


def _status_objects(custom: client.CustomObjectsApi) -> list[dict]:
    """Every status object of the metallb.io and frrk8s groups, and the BGPPeers' own status."""
    found = []
    for kind in [*STATUS_KINDS, *SESSION_KINDS]:
        listed = custom.list_namespaced_custom_object(kind.group, kind.version, CONFIG_NAMESPACE, kind.plural)
        found += listed["items"]
    peers = custom.list_namespaced_custom_object(GROUP, BGP_PEER.version, CONFIG_NAMESPACE, BGP_PEER.plural)
    found += [peer.get("status", {}) for peer in peers["items"]]
    return found
