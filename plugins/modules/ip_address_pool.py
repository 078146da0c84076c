#!/usr/bin/python
# Copyright: baremetal.lb contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ip_address_pool
short_description: Manage a MetalLB IPAddressPool (metallb.io/v1beta1)
version_added: 0.1.0
description:
  - Creates, updates or deletes an C(IPAddressPool), a set of addresses that LoadBalancer
    Services can be given.
  - Refuses, before anything is written, entries that do not parse, CIDRs with host bits set
    (naming the network to write instead) and addresses that overlap this or another pool.
options:
  addresses:
    description:
      - Address ranges of the pool (C(addresses)), CIDRs (C(192.0.2.0/24), C(2001:db8::/120)) or
        C(start-end) ranges (C(192.0.2.10-192.0.2.20)); IPv4 and IPv6 may be mixed.
      - No entry may overlap another entry of this or another pool.
      - Required with I(state=present).
    type: list
    elements: str
  auto_assign:
    description:
      - Whether Services that ask for no pool may get addresses from this pool (C(autoAssign)).
      - The API server's default is C(true).
    type: bool
  avoid_buggy_ips:
    description:
      - Skip IPv4 addresses ending in C(.0) or C(.255) (C(avoidBuggyIPs)).
      - The API server's default is C(false).
    type: bool
extends_documentation_fragment:
  - baremetal.lb.metallb
  - baremetal.lb.metallb.service_allocation
  - kubernetes.core.k8s_auth_options
  - baremetal.lb.connection
author:
  - baremetal.lb maintainers (@baremetal-lb)
"""

EXAMPLES = r"""
- name: A pool for layer-2 announcements
  baremetal.lb.ip_address_pool:
    name: lan
    addresses:
      - 192.0.2.64/26
      - 2001:db8:1::100-2001:db8:1::1ff

- name: A pool only Services of namespace shop may take, and only when they ask for it
  baremetal.lb.ip_address_pool:
    name: shop
    addresses: [198.51.100.16/28]
    auto_assign: false
    labels:
      announce: bgp
    service_allocation:
      priority: 10
      namespaces: [shop]
      service_selectors:
        - match_labels: {tier: frontend}

- name: Remove a pool
  baremetal.lb.ip_address_pool:
    name: old
    state: absent
"""

RETURN = r"""
result:
  description: The IPAddressPool after the change (in check mode, as it would be); empty when absent.
  returned: always
  type: dict
  sample:
    apiVersion: metallb.io/v1beta1
    kind: IPAddressPool
    metadata: {name: lan, namespace: metallb-system}
    spec: {addresses: [192.0.2.64/26], autoAssign: true, avoidBuggyIPs: false}
"""

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_runner import run


def main() -> None:
    """Run the module."""
    run("ip_address_pool")


if __name__ == "__main__":
    main()
