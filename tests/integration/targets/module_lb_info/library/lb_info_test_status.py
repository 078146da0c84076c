#!/usr/bin/python
# Copyright: baremetal.lb contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Test helper: write the status subresource of a Service or a ServiceL2Status, as the controller
# and the speakers would (kubernetes.core writes no subresources).

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lb_info_test_status
short_description: Test helper, write the status of a Service or a ServiceL2Status
description: Merge-patches C(status) of one object, as the controller or a speaker would.
options:
  kind:
    description: Kind of the object.
    type: str
    choices: [Service, ServiceL2Status]
    required: true
  namespace:
    description: Namespace of the object.
    type: str
    required: true
  name:
    description: Name of the object.
    type: str
    required: true
  status:
    description: The status to merge in.
    type: dict
    required: true
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
author:
  - baremetal.lb maintainers (@baremetal-lb)
"""

from kubernetes import client  # noqa: E402 - modules put DOCUMENTATION first

from ansible_collections.baremetal.lb.plugins.module_utils.ansible_k8s import api_client, new_module  # noqa: E402

MERGE_PATCH = "application/merge-patch+json"


def main() -> None:
    """Run the module."""
    module = new_module(
        {
            "kind": {"type": "str", "required": True, "choices": ["Service", "ServiceL2Status"]},
            "namespace": {"type": "str", "required": True},
            "name": {"type": "str", "required": True},
            "status": {"type": "dict", "required": True},
        }
    )
    p = module.params
    api = api_client(module)
    body = {"status": p["status"]}
    if p["kind"] == "Service":
        client.CoreV1Api(api).patch_namespaced_service_status(
            p["name"], p["namespace"], body, _content_type=MERGE_PATCH
        )
    else:
        client.CustomObjectsApi(api).patch_namespaced_custom_object_status(
            "metallb.io",
            "v1beta1",
            p["namespace"],
            "servicel2statuses",
            p["name"],
            body,
            _content_type=MERGE_PATCH,
        )
    module.exit_json(changed=True)


if __name__ == "__main__":
    main()
