"""Warn, once per Service and reason, about addresses that no advertisement announces.

Only the Services whose facts changed are checked again (all of them when the configuration
changed), so the warning costs nothing per re-plan at 10,000 Services.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ansible_collections.baremetal.lb.plugins.module_utils.announcement import unannounced_services
from ansible_collections.baremetal.lb.plugins.module_utils.config_model import Config
from ansible_collections.baremetal.lb.plugins.module_utils.ownership import ServiceFacts

log = logging.getLogger(__name__)


class UnannouncedWarnings:
    """The warnings already logged, and the facts they were checked against."""

    def __init__(self) -> None:
        self._config: Config | None = None
        self._checked: dict[str, ServiceFacts] = {}
        self._reasons: dict[str, str] = {}  # Service key -> the sentence logged for it

    def update(self, config: Config, services: Iterable[ServiceFacts]) -> None:
        """Check the Services that changed since the last call; log each new or changed reason."""
        fresh = {service.key: service for service in services}
        if config != self._config:
            self._config = config
            again = fresh
        else:
            again = {key: service for key, service in fresh.items() if self._checked.get(key) is not service}
        kept = {key: reason for key, reason in self._reasons.items() if key in fresh and key not in again}
        found = unannounced_services(config, again.values())
        for key, message in sorted(found.items()):
            if self._reasons.get(key) != message:
                log.warning("service %s: %s", key, message, extra={"service": key})
        self._reasons = {**kept, **found}
        self._checked = fresh
