#!/usr/bin/python
# Copyright: baremetal.lb contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lb_info
short_description: Report address pools with their usage, and which node announces each LoadBalancer IP
version_added: 0.1.0
description:
  - Reads the IPAddressPools of the namespace the controller and speakers run in, and reports for
    each its size and how many addresses are in use, per IP family. Sizes are computed, never by
    listing the addresses, so an IPv6 /64 is reported as cheaply as a /28.
  - An address is in use when a Service holds it in C(status.loadBalancer.ingress); an address
    several Services share counts once. Usage always counts the Services of every namespace.
  - Lists the Services of type LoadBalancer with their addresses, their pool (annotation
    C(metallb.io/ip-allocated-from-pool), else the pool holding the address), and, for each
    address, the node that announces it in layer 2 and on which interfaces, from the speakers'
    C(ServiceL2Status) objects.
  - When the namespace has BGPAdvertisements, also which nodes announce each address over BGP, to
    which BGPPeers, with which prefix, LOCAL_PREF and communities, as the speakers decide it (the
    same planner, from the configuration, the Nodes and the Services' EndpointSlices; every Node
    is taken to run a speaker). If the credentials may not list Nodes or EndpointSlices, the
    module warns and reports no BGP announcements.
  - Then also each node's BGP session to each peer, with its BGP and BFD state, from the
    speakers' C(BGPSessionState) objects (frr-k8s's kind, C(frrk8s.metallb.io/v1beta1), in the
    namespace); each BGP route says the state of the session it goes out on, and the module
    warns for each address announced over BGP on no Established session. If the objects
    cannot be read (CRD missing, access denied), the module warns and C(sessions) is null.
  - Reads the namespace's metallb.io configuration with the same parser the controller and the
    speakers use, and reports its errors, if any, each naming the object, the field and the fix.
    While the configuration has errors the daemons keep running on their last valid one; the report
    then still shows every object as far as it parses (a pool with its address entries that parse,
    an advertisement with the pools that exist).
  - Changes nothing.
options:
  namespace:
    description: Namespace of the metallb.io configuration and of the C(ServiceL2Status) objects.
    type: str
    default: metallb-system
  service_namespace:
    description:
      - Only report the Services of this namespace (pool usage still counts all of them).
      - If the credentials may not list Services in all namespaces, usage then counts only the
        Services of this namespace, and the module warns.
    type: str
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - baremetal.lb.connection
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Only reads, in check mode as otherwise.
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode), when in diff
      mode.
    support: none
    details: Nothing changes.
author:
  - baremetal.lb maintainers (@baremetal-lb)
"""

EXAMPLES = r"""
- name: Pools and LoadBalancer Services
  baremetal.lb.lb_info:
  register: lb

- name: Fail when a pool is nearly full
  ansible.builtin.assert:
    that: item.ipv4.free > 5
    fail_msg: "pool {{ item.name }} has {{ item.ipv4.free }} IPv4 addresses left"
  loop: "{{ lb.pools }}"
  loop_control:
    label: "{{ item.name }}"

- name: Where the shop's Services are announced
  baremetal.lb.lb_info:
    service_namespace: shop
  register: shop
"""

RETURN = r"""
pools:
  description: The IPAddressPools with their size and usage per family.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the pool.
      type: str
    addresses:
      description: The pool's address entries that parse (CIDRs or ranges).
      type: list
      elements: str
    auto_assign:
      description: Whether Services that name no pool may get addresses from it.
      type: bool
    avoid_buggy_ips:
      description: Whether IPv4 addresses ending in .0 and .255 are skipped.
      type: bool
    protocols:
      description: How the pool is announced, C(layer2) and/or C(bgp), from the advertisements selecting it.
      type: list
      elements: str
    ipv4:
      description: C(total), C(in_use) and C(free) IPv4 addresses.
      type: dict
    ipv6:
      description: C(total), C(in_use) and C(free) IPv6 addresses.
      type: dict
  sample:
    - name: lan
      addresses: [192.0.2.64/26]
      auto_assign: true
      avoid_buggy_ips: false
      protocols: [layer2]
      ipv4: {total: 64, in_use: 3, free: 61}
      ipv6: {total: 0, in_use: 0, free: 0}
services:
  description: The Services of type LoadBalancer, by namespace and name.
  returned: always
  type: list
  elements: dict
  contains:
    namespace:
      description: Namespace of the Service.
      type: str
    name:
      description: Name of the Service.
      type: str
    ips:
      description: The Service's addresses (C(status.loadBalancer.ingress)).
      type: list
      elements: str
    pool:
      description: The pool the addresses came from; null when unknown.
      type: str
    load_balancer_class:
      description: C(spec.loadBalancerClass); null when unset.
      type: str
    external_traffic_policy:
      description: C(Cluster) or C(Local).
      type: str
    requested_pool:
      description: The pool the Service asks for (annotation C(metallb.io/address-pool)); null when none.
      type: str
    pending:
      description: True while the Service has no address.
      type: bool
    pending_reason:
      description:
        - While the Service has no address, why, as the controller said it last (the message of
          its C(AllocationFailed) or C(LoadBalancerFailed) Event); null otherwise or when the
          controller has said nothing yet.
      type: str
    unannounced:
      description:
        - Why no node announces the Service's addresses (no advertisement selects its pool, the
          ones that do select other Services, or its pool is announced over BGP only and there
          is no peer); null when they are announced, or while it has none.
      type: str
    announcements:
      description:
        - One entry per address, with its C(ip), C(family), C(pool), C(layer2) (a list of
          C(node), C(interfaces) and C(conflict), empty when no speaker reports announcing it),
          C(failback) and C(bgp).
        - C(failback) is the address's layer-2 failback policy, from the C(baremetal.lb/failback)
          annotation of the Service or of the L2Advertisements announcing it; C(revertive)
          (MetalLB's rule, the default) moves the address back when its first-ranked node returns,
          C(non-revertive) keeps it on the node that took it over; null when no L2Advertisement
          announces the address.
        - C(conflict) is null, or the speaker's message while another host (a MAC that is no
          speaker's) answers ARP/NDP for the Service's address; the node keeps announcing it.
        - C(bgp) is a list of the routes that carry the address, one per C(node), C(peer) (the
          BGPPeer's name) and C(prefix) (the address masked to the advertisement's aggregation
          length), with C(local_pref) (null on eBGP sessions, which do not carry it) and
          C(communities) (C(AA:NN) and C(large:G:L1:L2), aliases resolved) and C(session) (the
          BGP state of the node's session to the peer, null when unknown); empty when no node
          announces it over BGP (no BGPAdvertisement selects it, no peer, no node selected, or
          no serving endpoint where the traffic policy needs one); null when the namespace has
          no BGPAdvertisement or the Nodes or EndpointSlices could not be read.
      type: list
      elements: dict
  sample:
    - namespace: shop
      name: web
      ips: [192.0.2.70]
      pool: lan
      load_balancer_class: null
      external_traffic_policy: Cluster
      requested_pool: null
      pending: false
      pending_reason: null
      announcements:
        - ip: 192.0.2.70
          family: IPv4
          pool: lan
          layer2: [{node: node2, interfaces: [eth0], conflict: null}]
          failback: non-revertive
          bgp: null
      unannounced: null
    - namespace: shop
      name: api
      ips: [198.51.100.7]
      pool: routed
      load_balancer_class: null
      external_traffic_policy: Local
      requested_pool: null
      pending: false
      pending_reason: null
      announcements:
        - ip: 198.51.100.7
          family: IPv4
          pool: routed
          layer2: []
          failback: null
          bgp:
            - {node: node1, peer: tor-a, prefix: 198.51.100.7/32, local_pref: null, communities: ["64512:1"],
               session: Established}
            - {node: node1, peer: tor-b, prefix: 198.51.100.7/32, local_pref: 100, communities: ["64512:1"],
               session: Active}
      unannounced: null
unannounced:
  description:
    - One line per reported Service whose addresses no node announces, naming the Service, its
      addresses, its pool and why; each is also a warning of the module.
  returned: always
  type: list
  elements: str
  sample:
    - "Service shop/web: 198.51.100.3 from pool 'bgp' is announced by no node: pool 'bgp' is
      announced over BGP only (BGPAdvertisement 'bgpadvertisement1') and there is no BGPPeer"
sessions:
  description:
    - Each node's BGP session to each BGPPeer, as the speakers' C(BGPSessionState) objects say it
      (BGP state C(Idle), C(Connect), C(Active), C(OpenSent), C(OpenConfirm) or C(Established);
      BFD state C(Up), C(Down), C(Init), C(AdminDown) or C(N/A) without a BFD profile).
    - Null when no BGPAdvertisement exists or the objects cannot be read.
  returned: always
  type: list
  elements: dict
  sample:
    - {node: node1, peer: tor-a, address: 192.0.2.1, bgp: Established, bfd: Up}
    - {node: node1, peer: tor-b, address: 192.0.2.2, bgp: Active, bfd: N/A}
unestablished:
  description:
    - One line per address announced over BGP on no Established session, naming the Service, the
      address and the state of each session it would go out on; each is also a warning.
  returned: always
  type: list
  elements: str
  sample:
    - "Service shop/api: 198.51.100.7 is announced over BGP on no Established session
      (node1/tor-a: Active, node2/tor-a: no BGPSessionState)"
config_errors:
  description:
    - Errors in the namespace's metallb.io configuration, each naming the object (kind and name), the
      field, the problem and the fix; empty when it is valid.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.baremetal.lb.plugins.module_utils.ansible_k8s import api_client, new_module
from ansible_collections.baremetal.lb.plugins.module_utils.lb_info_reader import read_cluster
from ansible_collections.baremetal.lb.plugins.module_utils.lb_report import build_report

ARGUMENT_SPEC = {
    "namespace": {"type": "str", "default": "metallb-system"},
    "service_namespace": {"type": "str"},
}


def main() -> None:
    """Run the module."""
    module = new_module(ARGUMENT_SPEC)
    params = module.params
    objects = read_cluster(module, api_client(module), params["namespace"], params["service_namespace"])
    report = build_report(
        objects.config,
        objects.services,
        objects.l2_statuses,
        params["service_namespace"],
        objects.pending_reasons,
        nodes=objects.nodes,
        endpoint_slices=objects.endpoint_slices,
        session_states=objects.session_states,
    )
    for warning in (*report["unannounced"], *report["unestablished"]):
        module.warn(warning)
    module.exit_json(changed=False, **report)


if __name__ == "__main__":
    main()
