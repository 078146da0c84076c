#!/usr/bin/python
# Copyright: baremetal.lb contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bgp_advertisement
short_description: Manage a MetalLB BGPAdvertisement (metallb.io/v1beta1)
version_added: 0.1.0
description:
  - Creates, updates or deletes a C(BGPAdvertisement), which announces the addresses of some
    pools over BGP, with aggregation, LOCAL_PREF and communities.
  - Refuses, before anything is written, names of missing pools, communities that neither parse
    nor name a Community alias, aggregation lengths shorter than a pool's widest CIDR, and a
    LOCAL_PREF that conflicts with another advertisement of the same routes.
  - With I(service_selectors), only the Services they select are announced; they need the
    default aggregation lengths (32 and 128), since an aggregated route cannot follow single
    Services, and such advertisements may set their own I(local_pref) for the same pool.
options:
  aggregation_length:
    description:
      - Prefix length of the IPv4 routes (C(aggregationLength)); the API server's default is 32.
    type: int
  aggregation_length_v6:
    description:
      - Prefix length of the IPv6 routes (C(aggregationLengthV6)); the API server's default is 128.
    type: int
  local_pref:
    description: BGP LOCAL_PREF of the routes (C(localPref)), sent to iBGP peers only.
    type: int
  communities:
    description:
      - BGP communities of the routes (C(communities)), each C(AA:NN), C(large:G:L1:L2) or the name
        of an alias defined by a Community object.
    type: list
    elements: str
  peers:
    description: Names of the BGPPeers to announce to (C(peers)); all peers when left out.
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
- name: Announce pool public to the routers as /32s with a community alias
  baremetal.lb.bgp_advertisement:
    name: public
    ip_address_pools: [public]
    communities: [no-advertise, "64500:100"]
    local_pref: 200
    peers: [router-a, router-b]

- name: Announce the production Services of pool public with a higher LOCAL_PREF
  baremetal.lb.bgp_advertisement:
    name: public-production
    ip_address_pools: [public]
    local_pref: 300
    service_selectors:
      - match_labels: {environment: production}

- name: Announce pool public aggregated to one /24 route
  baremetal.lb.bgp_advertisement:
    name: public-aggregated
    ip_address_pools: [public]
    aggregation_length: 24
"""

RETURN = r"""
result:
  description: The BGPAdvertisement after the change (in check mode, as it would be); empty when absent.
  returned: always
  type: dict
  sample:
    apiVersion: metallb.io/v1beta1
    kind: BGPAdvertisement
    metadata: {name: public, namespace: metallb-system}
    spec: {ipAddressPools: [public], aggregationLength: 32, aggregationLengthV6: 128, localPref: 200}
"""

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_runner import run


def main() -> None:
    """Run the module."""
    run("bgp_advertisement")


if __name__ == "__main__":
    main()
