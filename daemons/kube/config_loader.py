"""Where the configuration comes from: one informer per metallb.io kind in the config namespace.

The whole configuration is checked by :func:`..validation.parse_config` (a pool is only as
good as the configuration around it); this module only gathers the objects and finds the one
an error is about, so an Event can be put on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ansible_collections.baremetal.lb.plugins.module_utils.config_errors import InvalidConfigError
from ansible_collections.baremetal.lb.plugins.module_utils.config_model import ClusterResources, Config
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import CONFIG_KINDS
from ansible_collections.baremetal.lb.plugins.module_utils.validation import parse_config

from .informer import Handler, Informer
from .kubeapi import JSON, KubeApi, Resource


class ConfigSources:
    """The metallb.io objects of one namespace, kept current by informers."""

    def __init__(self, api: KubeApi, namespace: str, on_change: Callable[[], None]) -> None:
        def _handler(_key: str, old: JSON | None, new: JSON | None) -> None:
            if old is None or new is None or configured_part(old) != configured_part(new):
                on_change()  # a status write (the controller's pool counters) changes nothing

        handler: Handler = _handler
        self._informers = {
            kind.kind: (
                kind,
                Informer(api, Resource(kind.api_path, kind.plural, namespace), handler),
            )
            for kind in CONFIG_KINDS
        }

    @property
    def informers(self) -> list[Informer]:
        """The informers, to list and run."""
        return [informer for _kind, informer in self._informers.values()]

    def informer(self, kind: str) -> Informer:
        """Return the informer of one kind, e.g. ``informer("IPAddressPool")``."""
        return self._informers[kind][1]

    def load(self) -> Config:
        """Return the checked configuration; raise :class:`InvalidConfigError` listing every error."""
        resources = ClusterResources(
            **{str(kind.resources_field): informer.items() for kind, informer in self._informers.values()}
        )
        return parse_config(resources)

    def culprits(self, error: InvalidConfigError) -> list[JSON]:
        """Return the objects the errors are about, with apiVersion and kind set (for Events)."""
        found = []
        for kind_name, name in sorted({(item.kind, item.name) for item in error.errors}):
            if kind_name not in self._informers:
                continue
            kind, informer = self._informers[kind_name]
            for obj in informer.items():
                if obj["metadata"]["name"] == name:
                    found.append({**obj, "apiVersion": kind.api_version, "kind": kind.kind})
        return found


def configured_part(obj: JSON) -> tuple[object, ...]:
    """The parts of a configuration object that the configuration is made of (not its status)."""
    meta = obj.get("metadata") or {}
    return meta.get("labels"), meta.get("annotations"), obj.get("spec")


@dataclass
class ConfigHistory:
    """What a daemon last said about its configuration, so each change is logged once.

    A reload happens on every change of any object and, in the speaker, on every replan; the
    configuration it yields is often the one already running (an advertisement and its pool
    written one after the other, a replan with nothing new), and an invalid one stays invalid
    until someone fixes it. :meth:`loaded` and :meth:`rejected` say whether there is news.
    """

    config: Config | None = None
    error: str | None = field(default=None)

    def loaded(self, config: Config) -> bool:
        """Record a good configuration; True when it differs from the last one (or fixes one)."""
        news = config != self.config or self.error is not None
        self.config, self.error = config, None
        return news

    def rejected(self, error: Exception) -> bool:
        """Record a refused configuration; True when the reason is new."""
        news = str(error) != self.error
        self.error = str(error)
        return news
