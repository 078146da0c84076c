import pytest
import yaml

from ansible_collections.baremetal.lb.plugins.module_utils.kube_proxy_config import (
    Change,
    KubeProxyConfigError,
    edit,
    restore_mode,
)

# As kubeadm writes it (abridged), with a comment a human added.
KUBEADM = """\
apiVersion: kubeproxy.config.k8s.io/v1alpha1
bindAddress: 0.0.0.0
clusterCIDR: 203.0.113.64/26
# keep the conntrack defaults, see ticket 42
conntrack:
  maxPerCore: null
ipvs:
  excludeCIDRs: null
  scheduler: ""
  strictARP: false
  syncPeriod: 0s
kind: KubeProxyConfiguration
mode: ""
"""


def test_sets_mode_and_strict_arp_changing_only_those_lines():
    result = edit(KUBEADM, mode="ipvs", strict_arp=True)
    assert result.changes == (Change("mode", "", "ipvs"), Change("ipvs.strictARP", False, True))
    assert not result.rewritten
    before, after = KUBEADM.splitlines(), result.text.splitlines()
    assert [(b, a) for b, a in zip(before, after, strict=True) if b != a] == [
        ("  strictARP: false", "  strictARP: true"),
        ('mode: ""', "mode: ipvs"),
    ]


def test_no_change_returns_the_text_untouched():
    once = edit(KUBEADM, mode="ipvs", strict_arp=True).text
    again = edit(once, mode="ipvs", strict_arp=True)
    assert again.changes == () and again.text == once


def test_none_leaves_a_setting_alone():
    result = edit(KUBEADM, strict_arp=True)
    assert [c.path for c in result.changes] == ["ipvs.strictARP"]
    assert yaml.safe_load(result.text)["mode"] == ""


@pytest.mark.parametrize(
    "text",
    [
        "kind: KubeProxyConfiguration\nmode: iptables\n",  # no ipvs section
        "kind: KubeProxyConfiguration\nipvs:\n    scheduler: rr\nmode: iptables",  # 4-space indent, no EOL
        "kind: KubeProxyConfiguration\nipvs:\nmode: iptables\n",  # empty ipvs
    ],
)
def test_missing_keys_are_added_with_the_documents_indentation(text):
    result = edit(text, mode="ipvs", strict_arp=True)
    doc = yaml.safe_load(result.text)
    assert doc["mode"] == "ipvs" and doc["ipvs"]["strictARP"] is True
    assert not result.rewritten


def test_flow_style_falls_back_to_a_rewrite():
    result = edit("{kind: KubeProxyConfiguration, mode: iptables, ipvs: {strictARP: false}}", "ipvs", True)
    assert result.rewritten
    assert yaml.safe_load(result.text) == {
        "kind": "KubeProxyConfiguration",
        "mode": "ipvs",
        "ipvs": {"strictARP": True},
    }


@pytest.mark.parametrize(
    ("text", "mode", "message"),
    [
        ("kind: KubeProxyConfiguration\n", "userspace", "mode must be one of ipvs, iptables, nftables"),
        ("- a list\n", "ipvs", "must be a YAML mapping"),
        ("kind: KubeletConfiguration\n", "ipvs", "expected KubeProxyConfiguration"),
        ("mode: [unclosed\n", "ipvs", "not valid YAML"),
    ],
)
def test_bad_input_says_what_is_wrong(text, mode, message):
    with pytest.raises(KubeProxyConfigError, match=message):
        edit(text, mode=mode)


@pytest.mark.parametrize(
    ("previous", "line"),
    [("nftables", "mode: nftables"), ("iptables", "mode: iptables"), ("", 'mode: ""')],
)
def test_restore_mode_puts_back_any_previous_mode_keeping_the_rest(previous, line):
    switched = edit(KUBEADM.replace('mode: ""', line), mode="ipvs", strict_arp=True)
    restored = restore_mode(switched.text, previous)
    assert restored.changes == (Change("mode", "ipvs", previous),)
    assert restored.text.splitlines()[-1] == line
    assert "strictARP: true" in restored.text and "# keep the conntrack defaults" in restored.text
    assert not restored.rewritten
