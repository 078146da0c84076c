#!/usr/bin/python
# Copyright: baremetal.lb contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: expose
short_description: Expose a Deployment as a LoadBalancer Service and return its external IP
version_added: 0.1.0
description:
  - What C(kubectl expose deployment NAME --type=LoadBalancer --port=...) does, declaratively and
    idempotently (server-side apply), plus the MetalLB annotations for a requested IP, an address
    pool and IP sharing, and the layer-2 failback policy of the Service's IPs (I(failback)).
  - Before anything is written, a requested IP (I(load_balancer_ips)) is checked as the controller
    checks it, against the IPAddressPools of I(metallb_namespace) and the IPs other Services hold;
    an IP outside every pool, taken by a Service it may not share with (see I(sharing_key)), of a
    family the Service does not have, or outside the I(pool) it names, fails the module with the
    option to change, and nothing is written.
  - With I(wait), returns the IP(s) the baremetal.lb controller assigned for this run's request,
    every requested IP and from the requested I(pool); the IPs a Service held before a run that
    changes them are not the answer. When the controller reports that it gives the Service no IP
    (an C(AllocationFailed) Event, for example a pool that is exhausted), the module fails at once
    with that reason; when no IP comes within I(wait_timeout), the error quotes the Service's
    latest Events.
  - On such a failure, a Service this run created is deleted again (unless I(keep_on_failure)),
    so C(changed) is false and nothing stays; a Service that existed keeps this run's change.
options:
  name:
    description: Name of the Service. Defaults to I(deployment).
    type: str
  namespace:
    description: Namespace of the Deployment and the Service.
    type: str
    default: default
  deployment:
    description: Deployment whose C(spec.selector.matchLabels) the Service selects.
    type: str
  selector:
    description: Pod labels to select instead of a Deployment's.
    type: dict
  ports:
    description: Ports to expose.
    type: list
    elements: dict
    suboptions:
      port:
        description: Port on the LoadBalancer IP.
        type: int
        required: true
      target_port:
        description: Container port or port name. Defaults to I(port).
        type: raw
      protocol:
        description: Protocol.
        type: str
        choices: [TCP, UDP, SCTP]
        default: TCP
      name:
        description: Port name. Defaults to C(PROTOCOL-PORT) when there are several ports.
        type: str
      node_port:
        description: NodePort to use instead of one the API server picks.
        type: int
  load_balancer_ips:
    description: IPs to request, at most one per family (annotation C(metallb.io/loadBalancerIPs)).
    type: list
    elements: str
    default: []
  pool:
    description: Address pool to allocate from (annotation C(metallb.io/address-pool)).
    type: str
  sharing_key:
    description: Services with the same key may share an IP (annotation C(metallb.io/allow-shared-ip)).
    type: str
  external_traffic_policy:
    description: C(Local) keeps client source IPs and announces only from nodes with ready endpoints.
    type: str
    choices: [Cluster, Local]
    default: Cluster
  load_balancer_class:
    description: C(spec.loadBalancerClass); the controller serves only the class it was started with.
    type: str
  ip_family_policy:
    description: C(spec.ipFamilyPolicy).
    type: str
    choices: [SingleStack, PreferDualStack, RequireDualStack]
  state:
    description: Whether the Service should exist.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description: Wait until the Service has a LoadBalancer IP (one per requested family).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the IP.
    type: int
    default: 120
  keep_on_failure:
    description:
      - Keep a Service this run created when it gets no IP (the controller's C(AllocationFailed), or
        I(wait_timeout) passes), instead of deleting it again.
    type: bool
    default: false
  metallb_namespace:
    description:
      - Namespace of the metallb.io configuration (where the controller runs); its IPAddressPools are
        read to check I(load_balancer_ips) before anything is written, and its advertisements and
        BGPPeers to warn when no node announces the IPs the Service got.
      - When the pools cannot be read (no metallb.io CRDs, no permission), the check is skipped with a
        warning and the controller has the last word.
    type: str
    default: metallb-system
extends_documentation_fragment:
  - baremetal.lb.metallb.failback
  - kubernetes.core.k8s_auth_options
  - baremetal.lb.connection
attributes:
  check_mode:
    description: >-
      Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - The apply is sent as a server-side dry run, after the same checks of I(load_balancer_ips)
        as a real run, which fail check mode as they would fail the run.
      - C(changed) and the diff are those of the real run; no IP is waited for, and C(ips) are
        predicted (see C(ips)).
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode),
      when in diff mode.
    support: full
    details:
      - Name, namespace, labels, the C(metallb.io/) annotations, C(baremetal.lb/failback) and the
        spec fields this module declares, before and after; no server bookkeeping
        (C(managedFields), C(resourceVersion), C(uid), timestamps, C(status)) nor the cluster IPs
        and node ports the server picks.
author:
  - baremetal.lb maintainers (@baremetal-lb)
"""

EXAMPLES = r"""
- name: kubectl expose deployment web --type=LoadBalancer --port=80, and get the IP
  baremetal.lb.expose:
    deployment: web
    namespace: shop
    ports:
      - port: 80
        target_port: 8080
  register: web

- name: Show where it answers
  ansible.builtin.debug:
    msg: "http://{{ web.ips[0] }}/"

- name: DNS over TCP and UDP on one requested IP, keeping client addresses
  baremetal.lb.expose:
    name: dns
    deployment: coredns
    namespace: kube-system
    load_balancer_ips: [192.0.2.70]
    sharing_key: dns
    external_traffic_policy: Local
    ports:
      - {port: 53, protocol: UDP}
      - {port: 53, protocol: TCP}

- name: Keep the web Service's IP where it failed over when the failed node returns
  baremetal.lb.expose:
    deployment: web
    namespace: shop
    failback: non-revertive
    ports:
      - port: 80
        target_port: 8080
"""

RETURN = r"""
ips:
  description:
    - The LoadBalancer IPs of the Service; without I(wait), those it has at the end of the run
      (possibly none yet).
    - In check mode, the IPs it would have; the requested I(load_balancer_ips) (checked to be
      free), else those the Service has when this run leaves its requested IPs and pool alone,
      else none (the controller picks them).
  returned: when I(state=present)
  type: list
  elements: str
  sample: [192.0.2.64]
service:
  description: The Service as the API server returned it (in check mode, its dry run).
  returned: when I(state=present)
  type: dict
"""

from typing import Any

from ansible_collections.baremetal.lb.plugins.module_utils.ansible_k8s import (
    DRY_RUN_ALL,
    FIELD_MANAGER,
    api_client,
    dry_run,
    new_module,
)
from ansible_collections.baremetal.lb.plugins.module_utils.expose_runner import (
    AllocationFailedError,
    Applied,
    apply,
    delete,
    deployment_selector,
    refusal,
    wait_for_ips,
)
from ansible_collections.baremetal.lb.plugins.module_utils.failback import POLICIES
from ansible_collections.baremetal.lb.plugins.module_utils.lb_info_reader import unannounced_warnings
from ansible_collections.baremetal.lb.plugins.module_utils.service_expose import (
    ExposeError,
    ExposeRequest,
    check_ips,
    diff_view,
    parse_ports,
    predicted_ips,
)
from ansible_collections.baremetal.lb.plugins.module_utils.services import ingress_ips

PORT_SPEC = {
    "port": {"type": "int", "required": True},
    "target_port": {"type": "raw"},
    "protocol": {"type": "str", "choices": ["TCP", "UDP", "SCTP"], "default": "TCP"},
    "name": {"type": "str"},
    "node_port": {"type": "int"},
}
ARGUMENT_SPEC = {
    "name": {"type": "str"},
    "namespace": {"type": "str", "default": "default"},
    "deployment": {"type": "str"},
    "selector": {"type": "dict"},
    "ports": {"type": "list", "elements": "dict", "options": PORT_SPEC},
    "load_balancer_ips": {"type": "list", "elements": "str", "default": []},
    "pool": {"type": "str"},
    "sharing_key": {"type": "str", "no_log": False},  # a label for sharing, not a secret
    "external_traffic_policy": {"type": "str", "choices": ["Cluster", "Local"], "default": "Cluster"},
    "load_balancer_class": {"type": "str"},
    "ip_family_policy": {"type": "str", "choices": ["SingleStack", "PreferDualStack", "RequireDualStack"]},
    "failback": {"type": "str", "choices": list(POLICIES)},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int", "default": 120},
    "keep_on_failure": {"type": "bool", "default": False},
    "metallb_namespace": {"type": "str", "default": "metallb-system"},
}


def main() -> None:
    """Run the module."""
    module = new_module(
        ARGUMENT_SPEC,
        required_one_of=[("name", "deployment")],
        mutually_exclusive=[("deployment", "selector")],
        required_if=[
            ("state", "present", ("ports",)),
            ("state", "present", ("deployment", "selector"), True),
        ],
    )
    p = module.params
    name = p["name"] or p["deployment"]
    api = api_client(module)
    try:
        if p["state"] == "absent":
            gone = delete(api, name, p["namespace"], dry_run(module))
            module.exit_json(changed=gone.changed, diff={"before": diff_view(gone.before, None), "after": {}})
        request = ExposeRequest(
            name=name,
            namespace=p["namespace"],
            selector=p["selector"] or deployment_selector(api, p["deployment"], p["namespace"]),
            ports=parse_ports(p["ports"]),
            load_balancer_ips=check_ips(p["load_balancer_ips"]),
            pool=p["pool"],
            sharing_key=p["sharing_key"],
            external_traffic_policy=p["external_traffic_policy"],
            load_balancer_class=p["load_balancer_class"],
            ip_family_policy=p["ip_family_policy"],
            failback=p["failback"],
        )
        predicted = apply(api, request, DRY_RUN_ALL, FIELD_MANAGER)
        refused, skipped = refusal(api, predicted.after or {}, p["metallb_namespace"])
        if skipped:
            module.warn(skipped)
        if refused:
            raise ExposeError(f"{refused}; nothing was changed")
    except ExposeError as err:
        module.fail_json(msg=str(err), changed=False)
    if module.check_mode:
        module.exit_json(
            ips=predicted_ips(predicted.before, request),
            service=predicted.after,
            **_result(predicted, request),
        )
    try:
        applied = apply(api, request, None, FIELD_MANAGER)
    except ExposeError as err:
        module.fail_json(msg=str(err), changed=False)
    service = applied.after or {}
    if p["wait"]:
        try:
            service = wait_for_ips(api, request, p["wait_timeout"], written_version=_written_version(applied))
        except (AllocationFailedError, TimeoutError, ExposeError) as err:
            _fail_and_clean_up(module, api, applied, request, str(err))
    for warning in unannounced_warnings(api, service, p["metallb_namespace"]):
        module.warn(warning)
    module.exit_json(
        ips=[str(ip) for ip in ingress_ips(service)], service=service, **_result(applied, request)
    )


def _result(applied: Applied, request: ExposeRequest) -> dict[str, Any]:
    return {
        "changed": applied.changed,
        "diff": {"before": diff_view(applied.before, request), "after": diff_view(applied.after, request)},
    }


def _written_version(applied: Applied) -> str | None:
    """The resourceVersion this run's write made, or None when it changed nothing."""
    if not applied.changed:
        return None
    return str(((applied.after or {}).get("metadata") or {}).get("resourceVersion") or "") or None


def _fail_and_clean_up(module: Any, api: Any, applied: Applied, request: ExposeRequest, why: str) -> None:
    """Fail the module; delete the Service first when this run created it and may not keep it."""
    if applied.before is None and not module.params["keep_on_failure"]:
        try:
            delete(api, request.name, request.namespace, None)
        except ExposeError as err:
            failed = f"{why}; deleting the Service this run created failed, so it stays: {err}"
            module.fail_json(msg=failed, **_result(applied, request))
        gone = Applied(None, None)
        module.fail_json(
            msg=f"{why}; the Service this run created was deleted again (keep_on_failure: true keeps it)",
            **_result(gone, request),
        )
    stays = (
        "this run created the Service, and it stays"
        if applied.before is None
        else "the Service keeps this run's change"
    )
    if not applied.changed:
        stays = "the Service was left as it was"
    module.fail_json(msg=f"{why}; {stays}", **_result(applied, request))


if __name__ == "__main__":
    main()
