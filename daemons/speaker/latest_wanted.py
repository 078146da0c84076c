"""Converge towards the latest wanted state from a thread of its own, skipping older ones.

The speaker's status writers (:mod:`.service_status`, :mod:`.bgp.session_states`) share this:
a decision never waits for the API server, a burst of changes costs one write of the last
state, and a failed write is retried, with the newest wanted state, after a pause.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

_RETRY_SECONDS = 2.0

log = logging.getLogger(__name__)

Wanted = TypeVar("Wanted")


class LatestWanted(Generic[Wanted]):
    """Calls ``converge(wanted)`` with the latest wanted state; on an error, ``forget()`` and retry.

    ``forget`` drops what the writer believes the API server holds, so the retry lists again.
    """

    def __init__(
        self, name: str, converge: Callable[[Wanted], None], forget: Callable[[], None], what: str
    ) -> None:
        self._name = name
        self._what = what
        self._converge = converge
        self._forget = forget
        self._wanted: Wanted | None = None
        self._changed = threading.Condition()

    def want(self, wanted: Wanted) -> None:
        """Replace the wanted state (an older one not yet written is skipped)."""
        with self._changed:
            self._wanted = wanted
            self._changed.notify()

    def start(self, stop: threading.Event) -> None:
        """Converge from a daemon thread until ``stop`` is set."""
        threading.Thread(target=self._run, args=(stop,), name=self._name, daemon=True).start()

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self._changed:
                self._changed.wait_for(lambda: self._wanted is not None or stop.is_set(), timeout=1.0)
                wanted, self._wanted = self._wanted, None
            if wanted is None:
                continue
            try:
                self._converge(wanted)
            except Exception as error:  # retried with the newest wanted state
                log.warning("writing %s failed: %s; retrying", self._what, error)
                self._forget()
                with self._changed:
                    if self._wanted is None:
                        self._wanted = wanted
                stop.wait(_RETRY_SECONDS)
