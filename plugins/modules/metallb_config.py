#!/usr/bin/python
# Copyright: baremetal.lb contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: metallb_config
short_description: Manage a namespace's whole MetalLB configuration (metallb.io) as one resource
version_added: 0.1.0
description:
  - Manages the IPAddressPools, L2Advertisements, BGPAdvertisements, BGPPeers, Communities and
    BFDProfiles of one namespace together, in the vocabulary of the network resource modules
    (states C(merged), C(replaced), C(overridden), C(deleted), C(gathered), C(rendered) and
    C(parsed)).
  - The declared objects are validated as one configuration together with the objects the state
    keeps, before anything is written, so a new pool and the advertisement naming it can be
    declared, checked and previewed (C(--check)) in one run. Errors name the C(config) entry and
    option to fix.
  - Objects are written in dependency order (BFD profiles, community aliases, pools, peers, then
    advertisements) and deleted in the reverse order, with server-side apply as field manager
    C(baremetal.lb), exactly as the per-object modules (M(baremetal.lb.ip_address_pool) ...)
    write them; use those for single edits.
options:
  config:
    description:
      - The declared configuration, one list per kind. Each entry takes the options of the kind's
        own module (I(name), I(labels) and the spec options), without I(namespace).
      - An entry with I(state=absent) deletes its object in the same run (only its I(name)
        counts), validated with the rest, so an advertisement moved to a new pool and the old
        pool's deletion are one change.
      - With I(state=deleted) only the names count; without I(config) every object is deleted.
    type: dict
    suboptions:
      pools:
        description: IPAddressPools, each with the options of M(baremetal.lb.ip_address_pool).
        type: list
        elements: dict
      l2_advertisements:
        description: L2Advertisements, each with the options of M(baremetal.lb.l2_advertisement).
        type: list
        elements: dict
      bgp_advertisements:
        description: BGPAdvertisements, each with the options of M(baremetal.lb.bgp_advertisement).
        type: list
        elements: dict
      bgp_peers:
        description:
          - BGPPeers, each with the options of M(baremetal.lb.bgp_peer).
          - Passwords are masked (C(********)) in the results, messages and the invocation the
            module logs on the managed host, as for a C(no_log) option; I(password_secret)
            keeps them out of the task's arguments too.
        type: list
        elements: dict
      communities:
        description: Communities, each with the options of M(baremetal.lb.community).
        type: list
        elements: dict
      bfd_profiles:
        description: BFDProfiles, each with the options of M(baremetal.lb.bfd_profile).
        type: list
        elements: dict
  namespace:
    description: Namespace of the objects, the namespace the controller and speakers run in.
    type: str
    default: metallb-system
  state:
    description:
      - C(merged) creates the declared objects and merges the declared labels and spec fields into
        existing ones; fields not declared are kept.
      - C(replaced) makes each declared object what its entry says; spec fields this collection
        set before and are now left out are removed. Objects not declared are kept.
      - C(overridden) is C(replaced) for the whole namespace; objects not declared are deleted.
      - C(deleted) deletes the declared objects (every object without I(config)).
      - C(gathered) returns the namespace's configuration in I(config)'s format (in C(gathered)).
      - C(rendered) returns the objects I(config) describes (in C(rendered)), without a cluster.
      - C(parsed) returns I(running_config) in I(config)'s format (in C(parsed)), without a cluster.
    type: str
    choices: [merged, replaced, overridden, deleted, gathered, rendered, parsed]
    default: merged
  running_config:
    description:
      - With I(state=parsed), YAML text of metallb.io objects (several documents, a list, or a
        C(List) with C(items)), for example the output of C(kubectl get -o yaml).
    type: str
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - baremetal.lb.connection
notes:
  - Validation fails on errors of the declared objects and on errors the change causes in the
    objects it keeps (an advertisement naming a deleted pool), with the checks the controller and
    speakers apply, so MetalLB never receives a configuration it would refuse.
  - Lists are compared regardless of order, so reordering them is not a change.
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: >-
      Every write is a server-side dry run (C(dryRun=All)) against the whole declared
      configuration; C(changed), C(commands), C(before) and C(after) are those of the real run.
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode), when in diff
      mode.
    support: full
    details: Name, namespace, labels and spec of each object that changes, keyed C(Kind/name).
author:
  - baremetal.lb maintainers (@baremetal-lb)
"""

EXAMPLES = r"""
- name: A new pool and the advertisement that announces it, in one run (also in check mode)
  baremetal.lb.metallb_config:
    config:
      pools:
        - name: dmz
          addresses: [192.0.2.64/26]
      l2_advertisements:
        - name: dmz
          ip_address_pools: [dmz]

- name: Make the namespace's configuration exactly this; everything else is deleted
  baremetal.lb.metallb_config:
    state: overridden
    config:
      pools:
        - {name: public, addresses: [198.51.100.0/28]}
      bgp_peers:
        - {name: tor, my_asn: 64512, peer_asn: 64513, peer_address: 192.0.2.1}
      bgp_advertisements:
        - {name: public, ip_address_pools: [public]}

- name: Read the configuration, in the format of config
  baremetal.lb.metallb_config:
    state: gathered
  register: current

- name: Delete an advertisement and its pool
  baremetal.lb.metallb_config:
    state: deleted
    config:
      pools: [{name: dmz}]
      l2_advertisements: [{name: dmz}]

- name: The objects a configuration makes, without a cluster
  baremetal.lb.metallb_config:
    state: rendered
    config:
      pools: [{name: lab, addresses: [192.0.2.0/28]}]
"""

RETURN = r"""
before:
  description: The namespace's configuration before the run, in the format of I(config); passwords masked.
  returned: with a writing state
  type: dict
  sample:
    pools: [{name: public, addresses: [198.51.100.0/28], auto_assign: true, avoid_buggy_ips: false}]
after:
  description: The configuration after the run (in check mode, as it would be), in the format of I(config).
  returned: with a writing state
  type: dict
commands:
  description:
    - The writes, in order, C(<create|update|delete> <Kind> <name>); in check mode, the writes
      the real run would make.
  returned: with a writing state
  type: list
  elements: str
  sample: [create IPAddressPool dmz, create L2Advertisement dmz]
gathered:
  description: The namespace's configuration, in the format of I(config).
  returned: with I(state=gathered)
  type: dict
rendered:
  description: The metallb.io objects I(config) describes, in apply order.
  returned: with I(state=rendered)
  type: list
  elements: dict
parsed:
  description: I(running_config) in the format of I(config).
  returned: with I(state=parsed)
  type: dict
"""

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_config_runner import run


def main() -> None:
    """Run the module."""
    run()


if __name__ == "__main__":
    main()
