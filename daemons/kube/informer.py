"""List-then-watch one collection into a local cache, and tell a handler what changed.

The cache is filled by one paginated list; a watch from the list's resourceVersion keeps it
current. A dropped watch resumes from the last version seen (bookmarks keep that fresh); when
the server answers 410 Gone the informer lists again and reports the difference, so the
handler sees every change exactly as if it had watched without a gap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .backoff import Backoff
from .kubeapi import JSON, ApiError, KubeApi, Resource, WatchSilentError

Handler = Callable[[str, JSON | None, JSON | None], None]
"""Called as ``handler(key, old, new)``; ``new`` is None for a deletion, ``old`` for an addition."""
Transform = Callable[[JSON], JSON]
"""Applied to every object before it is cached (and handed to the handler)."""

log = logging.getLogger(__name__)


def without_managed_fields(obj: JSON) -> JSON:
    """``obj`` without ``metadata.managedFields`` (changed in place): a cache that never reads them.

    They are often the larger part of an object; at 10,000 Services and EndpointSlices they
    are tens of MB of a speaker's memory.
    """
    obj.get("metadata", {}).pop("managedFields", None)
    return obj


def object_key(obj: JSON) -> str:
    """Return ``namespace/name`` (or ``name`` for cluster-scoped objects) of an object."""
    meta = obj["metadata"]
    namespace = meta.get("namespace")
    return f"{namespace}/{meta['name']}" if namespace else str(meta["name"])


class Informer:
    """A cache of one collection kept current by list + watch."""

    def __init__(
        self, api: KubeApi, resource: Resource, handler: Handler, transform: Transform | None = None
    ) -> None:
        self.resource = resource
        self._api = api
        self._handler = handler
        self._transform = transform or (lambda obj: obj)
        self._cache: dict[str, JSON] = {}
        self._version = ""
        self._lock = threading.Lock()
        self._backoff = Backoff()

    def get(self, key: str) -> JSON | None:
        """Return the cached object for ``key``, or None."""
        with self._lock:
            return self._cache.get(key)

    def items(self) -> list[JSON]:
        """Return a snapshot of every cached object."""
        with self._lock:
            return list(self._cache.values())

    def store(self, obj: JSON) -> None:
        """Put an object we just wrote into the cache unless the cache already holds a newer one.

        The handler is not told: the watch's event of the same version will find it cached and
        report no change. So store only an answer whose every other part the cache already shows
        (a conditional write, or a write of our own status over an unchanged object).
        """
        obj = self._transform(obj)
        key = object_key(obj)
        with self._lock:
            cached = self._cache.get(key)
            if cached is None or _version(cached) <= _version(obj):
                self._cache[key] = obj

    def list_now(self) -> None:
        """List the collection, replace the cache and report every difference to the handler."""
        items, version = self._api.list_all(self.resource, transform=self._transform)
        fresh = {object_key(item): item for item in items}
        with self._lock:
            old, self._cache, self._version = self._cache, fresh, version
        for key, item in fresh.items():
            before = old.get(key)
            if before is None or _version(before) != _version(item):
                self._handler(key, before, item)
        for key in old.keys() - fresh.keys():
            self._handler(key, old[key], None)

    def run(self, stop: threading.Event) -> None:
        """Watch until ``stop`` is set, relisting whenever the watch cannot resume."""
        while not stop.is_set():
            try:
                self._watch_once(stop)
            except ApiError as error:
                if error.gone:
                    log.info("watch of %s expired (410 Gone); listing again", self.resource.plural)
                else:
                    self._wait_to_retry(stop, f"watch of {self.resource.plural} failed: {error}")
                self._relist(stop)
            except WatchSilentError as error:  # a dead connection: resume on a new one at once
                log.warning("watch of %s went silent (%s); resuming", self.resource.plural, error)
            except Exception as error:  # a broken connection must not end the watch
                self._wait_to_retry(stop, f"watch of {self.resource.plural} broke: {error}")

    def _wait_to_retry(self, stop: threading.Event, what: str) -> None:
        delay = self._backoff.next_delay()
        log.warning(
            "%s; retrying in %.1fs (attempt %d)",
            what,
            delay,
            self._backoff.attempts,
            extra={"resource": self.resource.plural, "attempt": self._backoff.attempts},
        )
        stop.wait(delay)

    def _relist(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.list_now()
            except Exception as error:  # keep trying until the API server answers
                self._wait_to_retry(stop, f"listing {self.resource.plural} failed: {error}")
            else:
                self._backoff.reset()
                return

    def _watch_once(self, stop: threading.Event) -> None:
        for event in self._api.watch(self.resource, self._version):
            self._backoff.reset()  # the API server answered
            obj = event["object"]
            self._version = str(obj["metadata"]["resourceVersion"])
            if event["type"] == "BOOKMARK":
                continue
            obj = self._transform(obj)
            key = object_key(obj)
            with self._lock:
                old = self._cache.get(key)
                if event["type"] == "DELETED":
                    self._cache.pop(key, None)
                elif old is None or _version(old) <= _version(obj):
                    self._cache[key] = obj
            self._handler(key, old, None if event["type"] == "DELETED" else obj)
            if stop.is_set():
                return


def _version(obj: JSON) -> int:
    try:
        return int(obj["metadata"]["resourceVersion"])
    except (KeyError, ValueError):
        return 0
