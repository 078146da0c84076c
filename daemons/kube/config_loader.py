"""Where the configuration comes from: one informer per metallb.io kind in the config namespace.

The whole configuration is checked by :func:`..validation.parse_config` (a pool is only as
good as the configuration around it); this module only gathers the objects and finds the one
an error is about, so an Event can be put on it.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from ansible_collections.baremetal.lb.plugins.module_utils.config_errors import (
    InvalidConfigError,
)
from ansible_collections.baremetal.lb.plugins.module_utils.config_model import ClusterResources, Config
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import CONFIG_KINDS
from ansible_collections.baremetal.lb.plugins.module_utils.validation import parse_config

from .config_metrics import ConfigMetrics
from .informer import Handler, Informer
from .kubeapi import JSON, KubeApi, Resource

log = logging.getLogger(__name__)


class ConfigCheckFailed(InvalidConfigError):  # type: ignore[misc]  # mypy sees module_utils as Any
    """The configuration check itself failed on some input: a bug, refused like a bad configuration.

    The check is pure and reports bad input as :class:`InvalidConfigError`; anything else it
    raises is a bug (``bench/fuzz`` hunts for them). The daemons refuse such a configuration
    like any invalid one, so they keep the last good one and say why instead of stopping.
    """

    def __init__(self, error: Exception) -> None:
        frames = traceback.extract_tb(error.__traceback__)
        where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
        super().__init__([])  # no object is at fault: no Event, only the log line
        self.args = (
            f"the configuration check failed with {type(error).__name__}: {error}{where}; "
            "this is a bug in baremetal.lb, please report it with this message",
        )


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
        """Return the checked configuration; raise :class:`InvalidConfigError` listing every error.

        A check that fails on some input raises :class:`ConfigCheckFailed`, an InvalidConfigError.
        """
        resources = ClusterResources(
            **{str(kind.resources_field): informer.items() for kind, informer in self._informers.values()}
        )
        try:
            return parse_config(resources)
        except InvalidConfigError:
            raise
        except Exception as error:  # a bug in the check must not stop the daemon
            raise ConfigCheckFailed(error) from error

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


class LastGoodConfig:
    """The configuration a speaker plans with: the newest that passes the check, else the last good one.

    A refused configuration never stops the speaker: it is logged once per reason, the stale
    gauge says the speaker runs on an older one, and planning goes on with the last good one
    (None until one has loaded). The controller, which also puts an Event on the objects at
    fault, does the same in its reconciler.
    """

    def __init__(self, load: Callable[[], Config], metrics: ConfigMetrics) -> None:
        self._load = load
        self._metrics = metrics
        self._history = ConfigHistory()
        self.config: Config | None = None

    def current(self) -> Config | None:
        """Load the newest configuration; return it, or the last good one when it is refused."""
        try:
            config = self._load()
        except InvalidConfigError as error:
            self._metrics.refused()
            if self._history.rejected(error):
                reason = str(error)
                log.error(
                    "invalid configuration, keeping the last good one: %s", reason, extra={"reason": reason}
                )
            return self.config
        self._metrics.accepted()
        if self._history.loaded(config):
            log.info(
                "configuration loaded: %d pools, %d L2 and %d BGP advertisements, %d BGP peers",
                len(config.pools),
                len(config.l2_advertisements),
                len(config.bgp_advertisements),
                len(config.bgp_peers),
            )
        self.config = config
        return config
