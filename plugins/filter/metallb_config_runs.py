# Copyright: baremetal.lb contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The metallb_config_runs filter: the config role's lists as metallb_config runs."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_config import by_namespace


def metallb_config_runs(lists: dict[str, Any], namespace: str, prune: bool = False) -> list[dict[str, Any]]:
    """One ``metallb_config`` run per namespace and state; bad input is a filter error."""
    if not isinstance(lists, dict):
        raise AnsibleFilterError(f"metallb_config_runs takes a dict of lists, not {type(lists).__name__}")
    return by_namespace(lists, namespace, prune=bool(prune))


class FilterModule:
    """Ansible's entry point for filter plugins."""

    def filters(self) -> dict[str, Any]:
        """Name → function."""
        return {"metallb_config_runs": metallb_config_runs}
