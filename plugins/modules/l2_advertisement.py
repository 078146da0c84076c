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
options:
  interfaces:
    description:
      - Node interfaces to announce on (C(interfaces)); all interfaces when left out.
    type: list
    elements: str
  preferred_node_selectors:
    description:
      - Soft preferences among the nodes I(node_selectors) select (C(preferredNodeSelectors), as in
        MetalLB's development branch); they never make a node eligible.
      - Each node this advertisement selects gains the I(weight) of every preference it matches.
        A Service's score for a node is the sum over the advertisements that announce it; the live
        node with the highest score announces the Service's IPs, and MetalLB's hash breaks ties.
      - When a preferred node fails, the next node in that order takes over; when it returns, it
        takes its IPs back.
    type: list
    elements: dict
    suboptions:
      weight:
        description: What matching I(preference) adds to a node's score, from 1 to 100.
        type: int
        required: true
      preference:
        description:
          - The nodes that gain I(weight), as a Kubernetes label selector; C({}) matches every node
            this advertisement selects.
        type: dict
        required: true
        suboptions:
          match_labels:
            description: Labels that must all be present with these values (C(matchLabels)).
            type: dict
          match_expressions:
            description: Requirements that must all hold (C(matchExpressions)).
            type: list
            elements: dict
            suboptions:
              key:
                description: The label key.
                type: str
                required: true
              operator:
                description: How the label relates to I(values).
                type: str
                required: true
                choices: [In, NotIn, Exists, DoesNotExist]
              values:
                description:
                  - Values for C(In) and C(NotIn) (at least one); none for C(Exists) and
                    C(DoesNotExist).
                type: list
                elements: str
extends_documentation_fragment:
  - baremetal.lb.metallb
  - baremetal.lb.metallb.pool_selection
  - baremetal.lb.metallb.node_selectors
  - baremetal.lb.metallb.service_selectors
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
    metadata: {name: lan, namespace: metallb-system}
    spec: {ipAddressPools: [lan], interfaces: [eth0]}
"""

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_runner import run


def main() -> None:
    """Run the module."""
    run("l2_advertisement")


if __name__ == "__main__":
    main()
