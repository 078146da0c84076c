# Copyright: baremetal.lb contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The from_kubespray filter: kubespray's metallb_config as the config role's lists."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.baremetal.lb.plugins.module_utils.kubespray_config import (
    KubesprayConfigError,
    convert,
)


def from_kubespray(metallb_config: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Convert, turning bad input into a filter error that names the key."""
    try:
        return convert(metallb_config)
    except KubesprayConfigError as err:
        raise AnsibleFilterError(str(err)) from err


class FilterModule:
    """Ansible's entry point for filter plugins."""

    def filters(self) -> dict[str, Any]:
        """Name → function."""
        return {"from_kubespray": from_kubespray}
