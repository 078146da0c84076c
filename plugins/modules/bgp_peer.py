#!/usr/bin/python
# Copyright: baremetal.lb contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bgp_peer
short_description: Manage a MetalLB BGPPeer (metallb.io/v1beta2)
version_added: 0.1.0
description:
  - Creates, updates or deletes a C(BGPPeer), a router the speakers open BGP sessions to.
  - Refuses, before anything is written, timers that do not fit together, a missing BFD profile,
    C(ebgp_multihop) on an iBGP peer, an IPv6 router ID, and a BFD profile with echo mode on a
    peer that is sent IPv6 routes (BFD echo works over IPv4 only).
options:
  my_asn:
    description: Local AS number (C(myASN)). Required with I(state=present).
    type: int
  peer_asn:
    description:
      - The peer's AS number (C(peerASN)).
      - With I(state=present), exactly one of I(peer_asn) and I(dynamic_asn) is required.
    type: int
  local_asn:
    description:
      - AS number this session presents to the peer instead of I(my_asn) (C(localASN)), as FRR's
        C(neighbor PEER local-as ASN no-prepend replace-as); the node's BGP instance keeps I(my_asn).
      - Useful when peers on the same node must see different AS numbers without a VRF.
    type: int
  dynamic_asn:
    description:
      - Learn the peer's AS number from its OPEN message (C(dynamicASN)), C(internal) for iBGP
        and C(external) for eBGP.
    type: str
    choices: [internal, external]
  peer_address:
    description:
      - The peer's IPv4 or IPv6 address (C(peerAddress)).
      - With I(state=present), exactly one of I(peer_address) and I(interface) is required.
    type: str
  interface:
    description: Node interface for unnumbered BGP (C(interface)).
    type: str
  source_address:
    description: Local address of the session (C(sourceAddress)), of the peer's address family.
    type: str
  peer_port:
    description: TCP port of the peer (C(peerPort)); the API server's default is 179.
    type: int
  hold_time:
    description: BGP hold time (C(holdTime)), a duration such as C(90s); C(0s) or at least C(3s).
    type: str
  keepalive_time:
    description: BGP keepalive interval (C(keepaliveTime)), a duration no longer than I(hold_time).
    type: str
  connect_time:
    description: Time between connection attempts (C(connectTime)), whole seconds such as C(10s).
    type: str
  router_id:
    description: BGP router ID to use (C(routerID)), an IPv4 address.
    type: str
  password:
    description:
      - TCP MD5 password of the session (C(password)). Never returned in clear.
      - Mutually exclusive with I(password_secret).
    type: str
  password_secret:
    description: A Secret holding the TCP MD5 password under key C(password) (C(passwordSecret)).
    type: dict
    suboptions:
      name:
        description: Name of the Secret.
        type: str
        required: true
      namespace:
        description: Namespace of the Secret; the BGPPeer's namespace when left out.
        type: str
  bfd_profile:
    description: BFDProfile for a BFD session beside the BGP session (C(bfdProfile)); it must exist.
    type: str
  enable_graceful_restart:
    description: Negotiate BGP graceful restart (C(enableGracefulRestart)).
    type: bool
  ebgp_multihop:
    description: The eBGP peer is more than one hop away (C(ebgpMultiHop)); not for iBGP peers.
    type: bool
  vrf:
    description: VRF of the session (C(vrf)).
    type: str
  disable_mp:
    description: Deprecated in MetalLB, one session per address family (C(disableMP)).
    type: bool
  dual_stack_address_family:
    description: Announce IPv4 and IPv6 routes over this one session (C(dualStackAddressFamily)).
    type: bool
extends_documentation_fragment:
  - baremetal.lb.metallb
  - baremetal.lb.metallb.node_selectors
  - kubernetes.core.k8s_auth_options
  - baremetal.lb.connection
author:
  - baremetal.lb maintainers (@baremetal-lb)
"""

EXAMPLES = r"""
- name: A router that must see AS 65410 from this cluster, which itself runs AS 64512
  baremetal.lb.bgp_peer:
    name: tenant-router
    my_asn: 64512
    local_asn: 65410
    peer_asn: 64520
    peer_address: 192.0.2.1

- name: An eBGP router, with its MD5 password from a Secret and fast failure detection
  baremetal.lb.bgp_peer:
    name: router-a
    my_asn: 64500
    peer_asn: 64512
    peer_address: 192.0.2.1
    hold_time: 9s
    password_secret:
      name: router-a-md5
    bfd_profile: fast
    node_selectors:
      - match_labels: {example.com/rack: r1}

- name: An iBGP route reflector, AS learnt from the session
  baremetal.lb.bgp_peer:
    name: reflector
    my_asn: 64500
    dynamic_asn: internal
    peer_address: 2001:db8::1
    password: "{{ vault_reflector_md5 }}"
"""

RETURN = r"""
result:
  description:
    - The BGPPeer after the change (in check mode, as it would be); empty when absent.
    - A C(password) is shown as C(********).
  returned: always
  type: dict
  sample:
    apiVersion: metallb.io/v1beta2
    kind: BGPPeer
    metadata: {name: router-a, namespace: metallb-system}
    spec: {myASN: 64500, peerASN: 64512, peerAddress: 192.0.2.1, peerPort: 179, holdTime: 9s}
"""

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_runner import run


def main() -> None:
    """Run the module."""
    run("bgp_peer")


if __name__ == "__main__":
    main()
