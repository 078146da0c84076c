#!/usr/bin/python
# Copyright: baremetal.lb contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: legacy_config
short_description: Convert a pre-0.13 MetalLB ConfigMap into metallb.io objects
version_added: 0.1.0
description:
  - Reads MetalLB's legacy configuration (ConfigMap C(metallb-system/config), key C(config), with
    C(address-pools), C(peers), C(bgp-communities) and C(bfd-profiles)) and creates the objects
    MetalLB's own converter (C(configmaptocrs)) writes for it; pools that have no Kubernetes name
    get MetalLB's conversion of it (lower case, C(_) to C(-), cut to 63 characters).
  - One C(IPAddressPool) per pool; one C(L2Advertisement) C(l2advertisement<N>) per C(layer2) pool;
    one C(BGPAdvertisement) C(bgpadvertisement<N>) per C(bgp-advertisements) entry, or one without
    options for a C(bgp) pool that has none; one C(BGPPeer) (v1beta2) C(peer<N>) per peer (C(holdTime)
    always written, 90s by default); one C(BFDProfile) per profile; one C(Community) C(communities)
    with every alias.
  - Nothing is written unless the whole converted configuration is valid, together with the
    metallb.io objects already in the namespace, and the API server accepts every object in a
    dry run. Errors name the legacy field, for example C(address-pools[1].addresses[0]).
  - Unlike MetalLB's converter, and like MetalLB 0.12 itself, unknown fields, a missing or unknown
    C(protocol) and C(bgp-advertisements) on a layer2 pool are errors rather than silently dropped.
options:
  configmap:
    description:
      - Name of the ConfigMap to read (its key C(config)). Ignored when I(config) is given.
      - When it does not exist, there is nothing to convert and the module reports no change.
    type: str
    default: config
  namespace:
    description:
      - Namespace of the ConfigMap, and of the objects created (the namespace MetalLB runs in).
    type: str
    default: metallb-system
  config:
    description:
      - The legacy configuration itself (the YAML text of the ConfigMap's C(config) key), for
        example read from a file with C(lookup('file', ...)), instead of reading the ConfigMap.
      - Not logged, as it may hold BGP passwords.
    type: str
  state:
    description:
      - C(present) creates or updates the converted objects (server-side apply, field manager
        C(baremetal.lb)). Objects of other names are left alone.
    type: str
    choices: [present]
    default: present
  remove_configmap:
    description:
      - Delete the ConfigMap once its objects are in place. Not with I(config).
    type: bool
    default: false
notes:
  - BGP passwords stay in C(spec.password) of the converted C(BGPPeer) as MetalLB's converter
    leaves them; move them to a Secret with C(baremetal.lb.bgp_peer) I(password_secret) afterwards.
    They are masked in the module's output and logs.
  - C(keepaliveTime) is written only when C(keepalive-time) is set (MetalLB's converter writes
    C(0s)); the empty C(passwordSecret) MetalLB writes is left out.
  - Addresses are read as MetalLB read them, a CIDR with host bits set means its network.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - baremetal.lb.connection
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Every object is applied as a server-side dry run (C(dryRun=All)); so is the deletion.
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode), when in diff
      mode.
    support: full
    details: Name, labels and spec of each object that changes, keyed C(Kind/name), before and after.
author:
  - baremetal.lb maintainers (@baremetal-lb)
"""

EXAMPLES = r"""
- name: Convert the MetalLB 0.12 ConfigMap of the cluster
  baremetal.lb.legacy_config:
  register: converted

- name: Convert, then remove the ConfigMap
  baremetal.lb.legacy_config:
    remove_configmap: true

- name: Convert a configuration kept in a file (the text of the ConfigMap's config key)
  baremetal.lb.legacy_config:
    config: "{{ lookup('ansible.builtin.file', 'metallb-config.yaml') }}"

- name: What would be created
  baremetal.lb.legacy_config:
  check_mode: true
  diff: true
"""

RETURN = r"""
resources:
  description: The converted objects in order, each with what happened to it.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: Kind of the object.
      type: str
    name:
      description: Name of the object.
      type: str
    namespace:
      description: Namespace of the object.
      type: str
    action:
      description: C(created), C(updated) or C(unchanged) (in check mode, what would happen).
      type: str
  sample:
    - {kind: IPAddressPool, name: default, namespace: metallb-system, action: created}
    - {kind: L2Advertisement, name: l2advertisement1, namespace: metallb-system, action: created}
objects:
  description: The converted objects as the API server has (or would have) them; passwords masked.
  returned: always
  type: list
  elements: dict
renamed:
  description: Names changed to make them Kubernetes names, as MetalLB's converter does.
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: IPAddressPool, from: Prod_Pool, to: prod-pool}
configmap_removed:
  description: Whether the ConfigMap was (in check mode, would be) deleted.
  returned: always
  type: bool
"""

from ansible_collections.baremetal.lb.plugins.module_utils.legacy_runner import run


def main() -> None:
    """Run the module."""
    run()


if __name__ == "__main__":
    main()
