#!/usr/bin/python
# Copyright: baremetal.lb contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bfd_profile
short_description: Manage a MetalLB BFDProfile (metallb.io/v1beta1)
version_added: 0.1.0
description:
  - Creates, updates or deletes a C(BFDProfile), the settings of the BFD sessions that run
    beside the BGP sessions of the BGPPeers naming it.
  - Options left out take the speaker's defaults (300 ms, multiplier 3, echo 50 ms, TTL 254),
    as in MetalLB.
options:
  receive_interval:
    description: Minimum interval, in ms, at which this system can receive control packets (10-60000).
    type: int
  transmit_interval:
    description: Minimum interval, in ms, at which this system wants to send control packets (10-60000).
    type: int
  detect_multiplier:
    description: Packets that may be lost before the session is declared down (2-255).
    type: int
  echo_interval:
    description: Minimum interval, in ms, between echo packets this system can handle (10-60000).
    type: int
  echo_mode:
    description: Send echo packets (single-hop sessions only).
    type: bool
  passive_mode:
    description: Wait for the peer's control packets instead of starting the session.
    type: bool
  minimum_ttl:
    description: Multi-hop sessions only, lowest TTL accepted on incoming control packets (1-254).
    type: int
extends_documentation_fragment:
  - baremetal.lb.metallb
  - kubernetes.core.k8s_auth_options
  - baremetal.lb.connection
author:
  - baremetal.lb maintainers (@baremetal-lb)
"""

EXAMPLES = r"""
- name: Detect a dead router in about 450 ms
  baremetal.lb.bfd_profile:
    name: fast
    receive_interval: 150
    transmit_interval: 150
    detect_multiplier: 3
"""

RETURN = r"""
result:
  description: The BFDProfile after the change (in check mode, as it would be); empty when absent.
  returned: always
  type: dict
  sample:
    apiVersion: metallb.io/v1beta1
    kind: BFDProfile
    metadata: {name: fast, namespace: metallb-system}
    spec: {receiveInterval: 150, transmitInterval: 150, detectMultiplier: 3}
"""

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_runner import run


def main() -> None:
    """Run the module."""
    run("bfd_profile")


if __name__ == "__main__":
    main()
