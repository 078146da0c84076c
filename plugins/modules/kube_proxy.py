#!/usr/bin/python
# Copyright: baremetal.lb contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kube_proxy
short_description: Set kube-proxy's proxy mode and IPVS strictARP, restarting it only when they change
version_added: 0.1.0
description:
  - Edits C(config.conf) in the C(kube-system/kube-proxy) ConfigMap (a KubeProxyConfiguration) that
    kubeadm-style clusters use. Only C(mode) and C(ipvs.strictARP) are changed, line by line, so
    the rest of the document is kept byte for byte.
  - In IPVS mode every node holds every LoadBalancer IP on C(kube-ipvs0); without
    C(strictARP) every node answers ARP for them and layer-2 announcements break.
  - When something changed, restarts the kube-proxy DaemonSet the way C(kubectl rollout restart)
    does, and can wait for the rollout.
  - Clusters without that ConfigMap (k3s, RKE2, OpenShift) get a message saying so instead of a change.
options:
  mode:
    description: Proxy mode. Omit to leave it as it is.
    type: str
    choices: [ipvs, iptables, nftables]
  strict_arp:
    description: Value of C(ipvs.strictARP). Omit to leave it as it is.
    type: bool
  namespace:
    description: Namespace of the ConfigMap and DaemonSet.
    type: str
    default: kube-system
  configmap:
    description: Name of the ConfigMap holding C(config.conf).
    type: str
    default: kube-proxy
  daemonset:
    description: Name of the kube-proxy DaemonSet to restart.
    type: str
    default: kube-proxy
  restart:
    description: Restart the DaemonSet after a change.
    type: bool
    default: true
  wait:
    description: After a restart, wait until every kube-proxy pod runs the new configuration.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for the rollout.
    type: int
    default: 300
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - baremetal.lb.connection
attributes:
  check_mode:
    description: >-
      Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Sends the ConfigMap and DaemonSet patches as a server-side dry run.
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode),
      when in diff mode.
    support: full
author:
  - baremetal.lb maintainers (@baremetal-lb)
"""

EXAMPLES = r"""
- name: IPVS with strictARP, as layer-2 announcements need
  baremetal.lb.kube_proxy:
    mode: ipvs
    strict_arp: true
    wait: true

- name: Only make sure strictARP is on, whatever the mode
  baremetal.lb.kube_proxy:
    strict_arp: true
    kubeconfig: ~/.kube/config
"""

RETURN = r"""
changes:
  description: Settings that differed, with their old and new values.
  returned: always
  type: list
  elements: dict
  sample: [{path: ipvs.strictARP, before: false, after: true}]
restarted:
  description: Whether the DaemonSet was restarted (in check mode, whether it would be).
  returned: always
  type: bool
rollout:
  description: Pod counts of the DaemonSet once rolled out.
  returned: when I(wait) and the DaemonSet was restarted
  type: dict
  sample: {desired: 3, updated: 3, available: 3}
"""

from ansible_collections.baremetal.lb.plugins.module_utils.ansible_k8s import (
    FIELD_MANAGER,
    api_client,
    dry_run,
    new_module,
)
from ansible_collections.baremetal.lb.plugins.module_utils.kube_proxy_config import (
    MODES,
    KubeProxyConfigError,
)
from ansible_collections.baremetal.lb.plugins.module_utils.kube_proxy_rollout import (
    KubeProxyNotFound,
    Target,
    configure,
    wait_rolled_out,
)

ARGUMENT_SPEC = {
    "mode": {"type": "str", "choices": list(MODES)},
    "strict_arp": {"type": "bool"},
    "namespace": {"type": "str", "default": "kube-system"},
    "configmap": {"type": "str", "default": "kube-proxy"},
    "daemonset": {"type": "str", "default": "kube-proxy"},
    "restart": {"type": "bool", "default": True},
    "wait": {"type": "bool", "default": False},
    "wait_timeout": {"type": "int", "default": 300},
}


def main() -> None:
    """Run the module."""
    module = new_module(ARGUMENT_SPEC, required_one_of=[("mode", "strict_arp")])
    p = module.params
    api = api_client(module)
    target = Target(p["namespace"], p["configmap"], p["daemonset"])
    try:
        outcome = configure(
            api,
            target,
            mode=p["mode"],
            strict_arp=p["strict_arp"],
            restart=p["restart"],
            dry_run=dry_run(module),
            field_manager=FIELD_MANAGER,
        )
    except (KubeProxyNotFound, KubeProxyConfigError) as err:
        module.fail_json(msg=str(err))
    for warning in outcome.warnings:
        module.warn(warning)
    result = {
        "changed": bool(outcome.changes),
        "changes": [{"path": c.path, "before": c.before, "after": c.after} for c in outcome.changes],
        "restarted": outcome.restarted,
        "diff": {
            "before": outcome.before,
            "after": outcome.after,
            "before_header": f"{p['namespace']}/{p['configmap']} config.conf",
            "after_header": f"{p['namespace']}/{p['configmap']} config.conf",
        },
    }
    if outcome.restarted and p["wait"] and not module.check_mode:
        try:
            result["rollout"] = wait_rolled_out(api, target, p["wait_timeout"])
        except TimeoutError as err:
            module.fail_json(msg=str(err), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
