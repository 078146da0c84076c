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
    does (kube-proxy reads its configuration only when it starts) and, with O(wait), waits until
    every node runs a Ready kube-proxy pod of the restarted template and they have stayed Ready
    for 5 seconds (kube-proxy's pods have no readiness probe, so a pod is Ready the moment its
    container starts, also one that exits a second later because it cannot run its mode).
  - A mode change restarts with the DaemonSet's C(minReadySeconds) raised to 5 (put back once the
    rollout is over), so the DaemonSet controller replaces the next node's pod only once the last
    new one has stayed up that long, and a node that cannot run the new mode stops the rollout at
    that node.
  - B(A mode a node cannot run.) kube-proxy checks its mode only when it starts, and a kube-proxy
    asked for IPVS on a kernel without C(ip_vs) first removes the rules of the mode it leaves, then
    exits, again and again, so that node forwards no Service traffic. With O(wait), when the mode
    changed and a new kube-proxy pod exits instead of becoming Ready, the module puts the previous
    mode back (O(strict_arp) stays as asked), restarts kube-proxy again, waits for it, and fails
    (or warns, see O(on_mode_failure)) naming the node, its kernel, the pod's last error line and
    what the node lacks. It records the failure on the ConfigMap (annotation
    C(baremetal.lb/kube-proxy-mode-failure)); later runs asking for the same mode leave the mode
    alone, without restarting anything, while that node's kernel version and kube-proxy's image
    stay the same. Remove the annotation to try again sooner.
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
    description:
      - After a restart, wait until every node runs a Ready kube-proxy pod of the restarted
        template (C(updatedNumberScheduled) and C(numberReady) equal C(desiredNumberScheduled)).
      - Without it a mode the nodes cannot run is not noticed, nor undone.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for the rollout; as many again for the rollout after putting a failed mode back.
      - On timeout the module fails naming each kube-proxy pod that is not Ready and why.
    type: int
    default: 300
  on_mode_failure:
    description:
      - What to do when kube-proxy cannot run the new mode on a node (see above). Either way the
        previous mode is put back and kube-proxy restarted.
      - C(fail) fails the task; with a failure recorded earlier it fails at once, changing nothing.
      - C(warn) warns and goes on, so a play that asks for IPVS keeps a working mode on kernels
        without it (layer-2 announcements do not need IPVS; iptables and nftables modes do not
        put LoadBalancer IPs on the nodes).
    type: str
    choices: [fail, warn]
    default: fail
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - baremetal.lb.connection
attributes:
  check_mode:
    description: >-
      Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Sends the ConfigMap patch as a server-side dry run, restarts nothing and returns
        C(restarted=false) with C(would_restart).
      - It cannot know whether the nodes can run a mode not tried yet; a failure recorded earlier
        is predicted.
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

- name: IPVS where the kernels can do it; elsewhere keep the mode, with a warning
  baremetal.lb.kube_proxy:
    mode: ipvs
    strict_arp: true
    on_mode_failure: warn

- name: Only make sure strictARP is on, whatever the mode
  baremetal.lb.kube_proxy:
    strict_arp: true
    kubeconfig: ~/.kube/config
"""

RETURN = r"""
changes:
  description:
    - Settings that differed, with their old and new values.
    - After a failed mode was put back, only what stayed changed.
  returned: always
  type: list
  elements: dict
  sample: [{path: ipvs.strictARP, before: false, after: true}]
restarted:
  description: Whether the DaemonSet was restarted; always false in check mode.
  returned: always
  type: bool
would_restart:
  description: In check mode, whether the DaemonSet would be restarted; otherwise false.
  returned: always
  type: bool
rollout:
  description: The DaemonSet's rollout once done (after a failed mode was put back, the rollout after that).
  returned: when the DaemonSet was restarted and O(wait)
  type: dict
  sample:
    kind: DaemonSet
    namespace: kube-system
    name: kube-proxy
    ready: true
    progress: 3/3 updated, 3/3 ready
    issues: []
mode_failure:
  description:
    - The mode kube-proxy could not run, now (the previous mode was put back) or recorded earlier
      (the mode was left alone); as recorded in the ConfigMap's annotation.
  returned: when a mode failed
  type: dict
  contains:
    mode:
      description: The mode asked for.
      type: str
    previous_mode:
      description: The mode put back or kept ("" when it was unset).
      type: str
    node:
      description: The node whose kube-proxy pod exited.
      type: str
    kernel:
      description: That node's kernel version.
      type: str
    image:
      description: kube-proxy's image.
      type: str
    pod:
      description: The pod that exited.
      type: str
    log_line:
      description: Its last error line.
      type: str
      sample: >-
        E0102 10:11:12.131415 1 server.go:137] "Error running ProxyServer"
        err="can't use the IPVS proxier: ipvs not supported by the kernel"
    time:
      description: When it was seen.
      type: str
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
    Request,
    Target,
    configure,
)
from ansible_collections.baremetal.lb.plugins.module_utils.rollout_wait import NotRolledOut

ARGUMENT_SPEC = {
    "mode": {"type": "str", "choices": list(MODES)},
    "strict_arp": {"type": "bool"},
    "namespace": {"type": "str", "default": "kube-system"},
    "configmap": {"type": "str", "default": "kube-proxy"},
    "daemonset": {"type": "str", "default": "kube-proxy"},
    "restart": {"type": "bool", "default": True},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int", "default": 300},
    "on_mode_failure": {"type": "str", "choices": ["fail", "warn"], "default": "fail"},
}


def main() -> None:
    """Run the module."""
    module = new_module(ARGUMENT_SPEC, required_one_of=[("mode", "strict_arp")])
    p = module.params
    api = api_client(module)
    target = Target(p["namespace"], p["configmap"], p["daemonset"])
    request = Request(
        mode=p["mode"],
        strict_arp=p["strict_arp"],
        restart=p["restart"],
        wait=p["wait"],
        timeout=p["wait_timeout"],
        on_mode_failure=p["on_mode_failure"],
        dry_run=dry_run(module),
        field_manager=FIELD_MANAGER,
    )
    try:
        outcome = configure(api, target, request)
    except (KubeProxyNotFound, KubeProxyConfigError) as err:
        module.fail_json(msg=str(err))
    except NotRolledOut as err:
        module.fail_json(msg=str(err), changed=True, restarted=True, would_restart=False)
    for warning in outcome.warnings:
        module.warn(warning)
    header = f"{p['namespace']}/{p['configmap']} config.conf"
    result = {
        "changed": bool(outcome.changes) or outcome.restarted,
        "changes": [{"path": c.path, "before": c.before, "after": c.after} for c in outcome.changes],
        "restarted": outcome.restarted,
        "would_restart": outcome.would_restart,
        "diff": {
            "before": outcome.before,
            "after": outcome.after,
            "before_header": header,
            "after_header": header,
        },
    }
    if outcome.rollout is not None:
        result["rollout"] = outcome.rollout
    failure = outcome.failure or outcome.remembered
    if failure is not None:
        result["mode_failure"] = vars(failure)
    message = outcome.failure_message or outcome.remembered_message
    if message and p["on_mode_failure"] == "fail":
        module.fail_json(msg=message, **result)
    if message:
        module.warn(message)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
