#!/usr/bin/python
# Copyright: baremetal.lb contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: community
short_description: Manage MetalLB BGP community aliases (Community, metallb.io/v1beta1)
version_added: 0.1.0
description:
  - Creates, updates or deletes a C(Community) object, which names BGP communities so that
    BGPAdvertisements can refer to them by name.
  - Refuses, before anything is written, values that are not communities and aliases that
    another Community object already defines.
options:
  communities:
    description: The aliases (C(communities)); order does not matter.
    type: list
    elements: dict
    suboptions:
      name:
        description: The alias, as written in a BGPAdvertisement's I(communities); no C(:).
        type: str
        required: true
      value:
        description: C(AA:NN) (standard community) or C(large:G:L1:L2) (large community).
        type: str
        required: true
extends_documentation_fragment:
  - baremetal.lb.metallb
  - kubernetes.core.k8s_auth_options
  - baremetal.lb.connection
author:
  - baremetal.lb maintainers (@baremetal-lb)
"""

EXAMPLES = r"""
- name: Well-known and site communities
  baremetal.lb.community:
    name: site
    communities:
      - {name: no-advertise, value: "65535:65282"}
      - {name: blackhole, value: "large:64500:666:0"}
"""

RETURN = r"""
result:
  description: The Community after the change (in check mode, as it would be); empty when absent.
  returned: always
  type: dict
  sample:
    apiVersion: metallb.io/v1beta1
    kind: Community
    metadata: {name: site, namespace: metallb-system}
    spec: {communities: [{name: no-advertise, value: "65535:65282"}]}
"""

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_runner import run


def main() -> None:
    """Run the module."""
    run("community")


if __name__ == "__main__":
    main()
