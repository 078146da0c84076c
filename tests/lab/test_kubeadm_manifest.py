"""The lab's kube-proxy is kubeadm's, for this lab: its addresses, its release, a mode this kernel has,
and conntrack settings that leave the machine alone. No lab needed: these read the manifest.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from ansible_collections.baremetal.lb.plugins.module_utils.kube_proxy_config import edit
from lab import build, images, kubeadm, topology

OBJECTS = {(obj["kind"], obj["metadata"]["name"]): obj for obj in kubeadm.kube_proxy_objects()}


def _configmap() -> dict[str, Any]:
    return OBJECTS[("ConfigMap", "kube-proxy")]


def _config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(_configmap()["data"]["config.conf"])
    return config


def _pod() -> dict[str, Any]:
    pod: dict[str, Any] = OBJECTS[("DaemonSet", "kube-proxy")]["spec"]["template"]["spec"]
    return pod


def test_kubeadm_creates_these_objects():
    assert list(OBJECTS) == [
        ("ServiceAccount", "kube-proxy"),
        ("ClusterRoleBinding", "kubeadm:node-proxier"),
        ("Role", "kube-proxy"),
        ("RoleBinding", "kube-proxy"),
        ("ConfigMap", "kube-proxy"),
        ("DaemonSet", "kube-proxy"),
    ]
    binding = OBJECTS[("ClusterRoleBinding", "kubeadm:node-proxier")]
    assert binding["roleRef"]["name"] == "system:node-proxier"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "kube-proxy", "namespace": "kube-system"}
    ]


def test_the_manifest_names_this_labs_api_server_and_pod_ranges():
    plan = topology.Plan(lab_id="0000", nodes=1, host_link_slot=0, routers=())
    kubeconfig = yaml.safe_load(_configmap()["data"]["kubeconfig.conf"])
    assert (
        kubeconfig["clusters"][0]["cluster"]["server"]
        == f"https://{plan.host('cp').ipv4}:{topology.API_PORT}"
    )
    assert _config()["clusterCIDR"] == f"{topology.POD_CIDR},{topology.POD_CIDR6}"


def test_the_image_is_the_kube_proxy_the_lab_builds():
    release = next(c for c in build.COMPONENTS if c.name == "kubernetes").version()
    container = _pod()["containers"][0]
    assert container["image"] == images.kube_proxy_ref() == f"registry.k8s.io/kube-proxy:{release}"
    assert container["command"][0] == images.KUBE_PROXY_BINARY
    assert "kube-proxy" in images.NODE_IMAGES, "every node has the image"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("maxPerCore", 0),  # no nf_conntrack_max (machine-wide) from the CPU count
        ("min", 0),
        ("tcpEstablishedTimeout", "0s"),
        ("tcpCloseWaitTimeout", "0s"),
        ("tcpBeLiberal", False),
        ("udpTimeout", "0s"),
        ("udpStreamTimeout", "0s"),
    ],
)
def test_kube_proxy_leaves_the_machines_conntrack_settings_alone(key, value):
    assert _config()["conntrack"][key] == value


def test_nftables_mode_the_kernel_has():
    assert _config()["mode"] == "nftables"


def test_the_daemonset_is_kubeadms():
    pod = _pod()
    container = pod["containers"][0]
    assert pod["hostNetwork"] is True
    assert pod["serviceAccountName"] == "kube-proxy"
    assert pod["priorityClassName"] == "system-node-critical"
    assert pod["tolerations"] == [{"operator": "Exists"}]
    assert container["securityContext"] == {"privileged": True}
    assert container["command"] == [
        "/usr/local/bin/kube-proxy",
        "--config=/var/lib/kube-proxy/config.conf",
        "--hostname-override=$(NODE_NAME)",
    ]
    assert container["env"] == [
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
    ]
    assert {v["name"]: {k: x for k, x in v.items() if k != "name"} for v in pod["volumes"]} == {
        "kube-proxy": {"configMap": {"name": "kube-proxy"}},
        "xtables-lock": {"hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}},
        "lib-modules": {"hostPath": {"path": "/lib/modules"}},
    }


def test_the_kube_proxy_module_edits_kubeadms_text_line_by_line():
    text = _configmap()["data"]["config.conf"]
    result = edit(text, mode="ipvs", strict_arp=True)
    assert not result.rewritten
    changed = [(b, a) for b, a in zip(text.splitlines(), result.text.splitlines(), strict=True) if b != a]
    assert changed == [("  strictARP: false", "  strictARP: true"), ("mode: nftables", "mode: ipvs")]
