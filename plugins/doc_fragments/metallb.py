# Copyright: baremetal.lb contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Documentation shared by the metallb.io configuration modules; ``FAILBACK`` serves ``expose`` too.

Every fragment is one literal string: ansible-test's yamllint reads them without running Python.
"""

from __future__ import annotations


class ModuleDocFragment:
    """Fragments: the common options and attributes, the shared selector options, the failback policy."""

    DOCUMENTATION = r"""
options:
  name:
    description: Name of the object.
    type: str
    required: true
  namespace:
    description:
      - Namespace of the object, the namespace the controller and speakers run in.
    type: str
    default: metallb-system
  state:
    description:
      - C(present) creates or updates the object, C(absent) deletes it.
      - With C(present) the object is server-side applied with field manager C(baremetal.lb),
        taking over fields other managers set. Options this module set before and that are now
        left out are removed; fields only other managers set are kept.
    type: str
    choices: [present, absent]
    default: present
  labels:
    description: Labels of the object (other labels on it are kept).
    type: dict
notes:
  - Before anything is written, the object is validated together with the namespace's other
    metallb.io objects (overlapping pools, names of missing pools, BFD profiles or community
    aliases, timers ...); errors name the option to fix. Errors the change would cause in other
    objects fail it too. Deleting an object that others refer to only warns.
  - Lists are compared regardless of order, so reordering them is not a change.
  - Annotations that no option sets (C(kubectl)'s, for example) are neither compared, shown nor
    changed.
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Server-side dry run (C(dryRun=All)) of the apply or delete.
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode), when in diff
      mode.
    support: full
    details: >-
      Name, namespace, labels, the annotations the module's options set (an L2Advertisement's
      C(baremetal.lb/failback)) and spec of the object before and after.
"""

    FAILBACK = r"""
options:
  failback:
    description:
      - The layer-2 failback policy of the IPs (annotation C(baremetal.lb/failback)), which says
        what happens when the node that ranks first for an IP (by the L2Advertisements' preferred
        nodes, then MetalLB's hash) returns, or is uncordoned, after another node took the IP
        over. BGP announcements are not affected.
      - C(revertive) is MetalLB's rule and the default when no policy is set; the IP moves back to
        the returning node, so a failure moves it twice and clients see a second short outage.
      - C(non-revertive) keeps the IP on the node that took it over until that node fails, leaves,
        is drained or may no longer announce the IP; a failure moves it once.
      - A Service's own policy (M(baremetal.lb.expose) I(failback)) wins over its advertisements';
        without one, an IP is non-revertive when any L2Advertisement announcing it is.
      - Left out, the module sets no policy; server-side apply removes the annotation when this
        collection set it before (one set by another field manager, such as C(kubectl annotate),
        stays).
    type: str
    choices: [revertive, non-revertive]
"""

    NODE_SELECTORS = r"""
options:
  node_selectors:
    description:
      - The nodes this applies to (C(nodeSelectors)), as Kubernetes label selectors.
      - Any matching selector selects. Each selector may be listed once.
      - An empty selector C({}) matches everything. Order does not matter.
    type: list
    elements: dict
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
              - Values for C(In) and C(NotIn) (at least one); none for C(Exists) and C(DoesNotExist).
            type: list
            elements: str
"""

    PREFERRED_NODE_SELECTORS = r"""
options:
  preferred_node_selectors:
    description:
      - Soft preferences among the nodes I(node_selectors) select (C(preferredNodeSelectors), as in
        MetalLB's development branch); they never make a node eligible.
      - Each node this advertisement selects gains the I(weight) of every preference it matches.
        A Service's score for a node is the sum over the advertisements that announce it; the live
        node with the highest score announces the Service's IPs, and MetalLB's hash breaks ties.
      - When a preferred node fails, the next node in that order takes over; when it returns, it
        takes its IPs back, unless the failback policy is C(non-revertive) (I(failback)).
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
"""

    SERVICE_SELECTORS = r"""
options:
  service_selectors:
    description:
      - The Services this advertisement announces (C(serviceSelectors)), as Kubernetes label
        selectors over the Services' labels; every Service of the selected pools when left out.
      - Any matching selector selects. Each selector may be listed once.
      - An empty selector C({}) matches everything. Order does not matter.
    type: list
    elements: dict
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
              - Values for C(In) and C(NotIn) (at least one); none for C(Exists) and C(DoesNotExist).
            type: list
            elements: str
"""

    POOL_SELECTION = r"""
options:
  ip_address_pools:
    description:
      - Names of the IPAddressPools to announce (C(ipAddressPools)); each must exist.
      - With neither this nor I(ip_address_pool_selectors), every pool is announced.
    type: list
    elements: str
  ip_address_pool_selectors:
    description:
      - IPAddressPools by label (C(ipAddressPoolSelectors)), as Kubernetes label selectors.
      - Any matching selector selects. Each selector may be listed once.
      - An empty selector C({}) matches everything. Order does not matter.
    type: list
    elements: dict
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
              - Values for C(In) and C(NotIn) (at least one); none for C(Exists) and C(DoesNotExist).
            type: list
            elements: str
"""

    SERVICE_ALLOCATION = r"""
options:
  service_allocation:
    description:
      - Restricts the pool to some namespaces and Services (C(serviceAllocation)).
    type: dict
    suboptions:
      priority:
        description:
          - Among pools whose I(service_allocation) matches a Service, lower values are tried
            first; 0 (or unset) comes last.
        type: int
      namespaces:
        description: Namespaces whose Services may use the pool.
        type: list
        elements: str
      namespace_selectors:
        description:
          - Namespaces allowed to use the pool (C(namespaceSelectors)), as Kubernetes label selectors.
          - Any matching selector selects. Each selector may be listed once.
          - An empty selector C({}) matches everything. Order does not matter.
        type: list
        elements: dict
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
                  - Values for C(In) and C(NotIn) (at least one); none for C(Exists) and C(DoesNotExist).
                type: list
                elements: str
      service_selectors:
        description:
          - Services that may use the pool (C(serviceSelectors)), as Kubernetes label selectors.
          - Any matching selector selects. Each selector may be listed once.
          - An empty selector C({}) matches everything. Order does not matter.
        type: list
        elements: dict
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
                  - Values for C(In) and C(NotIn) (at least one); none for C(Exists) and C(DoesNotExist).
                type: list
                elements: str
"""
