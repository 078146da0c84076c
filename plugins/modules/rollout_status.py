#!/usr/bin/python
# Copyright: baremetal.lb contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollout_status
short_description: Wait until Deployments and DaemonSets have rolled out with Ready pods, or say why not
version_added: 0.1.0
description:
  - Waits, at most O(timeout) seconds, until every workload given has rolled out, as
    C(kubectl rollout status) means it, counting Ready pods.
  - A Deployment has rolled out when its controller has seen its current spec and every wanted
    replica runs the current template and is Ready, with no old pod left.
  - A DaemonSet has rolled out when its controller has seen its current spec and every node that
    should run one of its pods runs one of the current template, Ready
    (C(updatedNumberScheduled) and C(numberReady) equal C(desiredNumberScheduled)).
  - Fails at once when a workload does not exist. When the time is up it fails, naming each
    workload that has not rolled out, its pods that are not Ready and why (unschedulable,
    C(ErrImagePull), C(CrashLoopBackOff) with the exit code, a failing readiness probe), and for a
    container that has exited, the last error line of its log.
  - Changes nothing.
options:
  workloads:
    description: The workloads to wait for.
    type: list
    elements: dict
    required: true
    suboptions:
      kind:
        description: Kind of the workload.
        type: str
        choices: [Deployment, DaemonSet]
        required: true
      name:
        description: Its name.
        type: str
        required: true
      namespace:
        description: Its namespace.
        type: str
        required: true
  timeout:
    description: Seconds to wait for all of them together.
    type: int
    default: 300
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
- name: Wait for the controller and the speakers
  baremetal.lb.rollout_status:
    workloads:
      - {kind: Deployment, namespace: metallb-system, name: controller}
      - {kind: DaemonSet, namespace: metallb-system, name: speaker}
    timeout: 300
"""

RETURN = r"""
rollouts:
  description: Each workload as last read.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: Deployment or DaemonSet.
      type: str
    namespace:
      description: Its namespace.
      type: str
    name:
      description: Its name.
      type: str
    ready:
      description: Whether it has rolled out.
      type: bool
    progress:
      description: Updated and Ready pods against those wanted.
      type: str
      sample: 3/3 updated, 2/3 ready
    issues:
      description: One line per pod that is not Ready, saying why.
      type: list
      elements: str
      sample: ["pod speaker-x2k4 on node2: ErrImagePull: pull access denied"]
"""

from ansible_collections.baremetal.lb.plugins.module_utils.ansible_k8s import api_client, new_module
from ansible_collections.baremetal.lb.plugins.module_utils.rollout_state import KINDS
from ansible_collections.baremetal.lb.plugins.module_utils.rollout_wait import NotRolledOut, Workload, wait

ARGUMENT_SPEC = {
    "workloads": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "kind": {"type": "str", "choices": list(KINDS), "required": True},
            "name": {"type": "str", "required": True},
            "namespace": {"type": "str", "required": True},
        },
    },
    "timeout": {"type": "int", "default": 300},
}


def main() -> None:
    """Run the module."""
    module = new_module(ARGUMENT_SPEC)
    workloads = [Workload(w["kind"], w["namespace"], w["name"]) for w in module.params["workloads"]]
    api = api_client(module)
    try:
        rollouts = wait(api, workloads, module.params["timeout"])
    except NotRolledOut as err:
        module.fail_json(msg=str(err), rollouts=[each.as_dict() for each in err.rollouts])
    module.exit_json(changed=False, rollouts=[each.as_dict() for each in rollouts])


if __name__ == "__main__":
    main()
