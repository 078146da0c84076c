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
    pool and IP sharing.
  - With I(wait), returns the IP(s) the baremetal.lb controller assigned; if none comes, the error
    quotes the Service's latest Events (for example a pool that is exhausted).
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
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - baremetal.lb.connection
attributes:
  check_mode:
    description: >-
      Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The apply is sent as a server-side dry run; no IP is waited for.
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode),
      when in diff mode.
    support: full
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
"""

RETURN = r"""
ips:
  description: The LoadBalancer IPs of the Service (empty in check mode or without I(wait) until assigned).
  returned: when I(state=present)
  type: list
  elements: str
  sample: [192.0.2.64]
service:
  description: The Service as the API server returned it.
  returned: when I(state=present)
  type: dict
"""

from ansible_collections.baremetal.lb.plugins.module_utils.ansible_k8s import (
    FIELD_MANAGER,
    api_client,
    dry_run,
    new_module,
)
from ansible_collections.baremetal.lb.plugins.module_utils.expose_runner import (
    apply,
    delete,
    deployment_selector,
    wait_for_ips,
)
from ansible_collections.baremetal.lb.plugins.module_utils.service_expose import (
    ExposeError,
    ExposeRequest,
    check_ips,
    parse_ports,
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
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int", "default": 120},
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
            module.exit_json(changed=gone.changed, diff={"before": gone.before or {}, "after": {}})
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
        )
        applied = apply(api, request, dry_run(module), FIELD_MANAGER)
    except ExposeError as err:
        module.fail_json(msg=str(err))
    service = applied.after or {}
    result = {
        "changed": applied.changed,
        "diff": {"before": applied.before or {}, "after": service},
    }
    if p["wait"] and not module.check_mode:
        families = len(request.load_balancer_ips) or 1
        try:
            service = wait_for_ips(api, name, p["namespace"], families, p["wait_timeout"])
        except TimeoutError as err:
            module.fail_json(msg=str(err), **result)
    module.exit_json(ips=[str(ip) for ip in ingress_ips(service)], service=service, **result)


if __name__ == "__main__":
    main()
