#!/usr/bin/python
# Copyright: baremetal.lb contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: l2_advertisement
short_description: Manage a MetalLB L2Advertisement (metallb.io/v1beta1)
version_added: 0.1.0
description:
  - Creates, updates or deletes an C(L2Advertisement), which announces the addresses of some
    pools on the local network with ARP (IPv4) and NDP (IPv6).
  - Refuses names of IPAddressPools that do not exist and invalid or repeated label selectors
    before anything is written.
  - With I(service_selectors), only the Services they select are announced (by their labels).
  - With I(failback=non-revertive), an IP stays on the node that took it over when the node it
    left returns, instead of moving back (MetalLB's rule, C(revertive)).
options:
  interfaces:
    description:
      - Node interfaces to announce on (C(interfaces)); all interfaces when left out.
    type: list
    elements: str
extends_documentation_fragment:
  - baremetal.lb.metallb
  - baremetal.lb.metallb.pool_selection
  - baremetal.lb.metallb.node_selectors
  - baremetal.lb.metallb.preferred_node_selectors
  - baremetal.lb.metallb.service_selectors
  - baremetal.lb.metallb.failback
  - kubernetes.core.k8s_auth_options
  - baremetal.lb.connection
author:
  - baremetal.lb maintainers (@baremetal-lb)
"""

EXAMPLES = r"""
- name: Announce pool lan from the nodes labelled for it, on eth0 only
  baremetal.lb.l2_advertisement:
    name: lan
    ip_address_pools: [lan]
    interfaces: [eth0]
    node_selectors:
      - match_labels:
          example.com/edge: "true"

- name: Announce the frontend Services of pool lan on eth0, the backend ones on eth1
  baremetal.lb.l2_advertisement:
    name: "{{ item.tier }}"
    ip_address_pools: [lan]
    interfaces: ["{{ item.interface }}"]
    service_selectors:
      - match_labels: {tier: "{{ item.tier }}"}
  loop:
    - {tier: frontend, interface: eth0}
    - {tier: backend, interface: eth1}

- name: Announce pool lan from any node, from the edge nodes while one of them is alive
  baremetal.lb.l2_advertisement:
    name: prefer-edge
    ip_address_pools: [lan]
    preferred_node_selectors:
      - weight: 100
        preference:
          match_labels:
            example.com/edge: "true"

- name: Announce pool lan; a node that took an IP over keeps it when the failed node returns
  baremetal.lb.l2_advertisement:
    name: lan
    ip_address_pools: [lan]
    failback: non-revertive

- name: Announce every pool labelled announce=l2
  baremetal.lb.l2_advertisement:
    name: by-label
    ip_address_pool_selectors:
      - match_labels: {announce: l2}
"""

RETURN = r"""
result:
  description: The L2Advertisement after the change (in check mode, as it would be); empty when absent.
  returned: always
  type: dict
  sample:
    apiVersion: metallb.io/v1beta1
    kind: L2Advertisement
    metadata:
      name: lan
      namespace: metallb-system
      annotations: {baremetal.lb/failback: non-revertive}
    spec: {ipAddressPools: [lan], interfaces: [eth0]}
"""

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_runner import run


def main() -> None:
    """Run the module."""
    run("l2_advertisement")


if __name__ == "__main__":
    main()
