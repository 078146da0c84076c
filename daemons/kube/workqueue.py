"""A work queue keyed by object name that coalesces repeats, as client-go's workqueue does.

A key added while it waits is queued once; a key added while a worker holds it is queued
again after the worker calls :meth:`WorkQueue.done`, so one key is never handled by two
workers at the same time and no change is lost.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable


class WorkQueue:
    """FIFO of distinct string keys with per-key exclusivity."""

    def __init__(self) -> None:
        self._order: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._closed = False
        self._changed = threading.Condition()

    def __len__(self) -> int:
        with self._changed:
            return len(self._dirty)

    def add(self, key: str) -> None:
        """Queue ``key`` unless it is already waiting."""
        self.add_all((key,))

    def add_all(self, keys: Iterable[str]) -> None:
        """Queue every key of ``keys`` that is not already waiting."""
        with self._changed:
            for key in keys:
                if key in self._dirty:
                    continue
                self._dirty.add(key)
                if key not in self._processing:
                    self._order.append(key)
            self._changed.notify_all()

    def get(self, timeout: float | None = None) -> str | None:
        """Take the next key; None when the queue is closed or ``timeout`` passed."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._order or self._closed, timeout):
                return None
            if not self._order:
                return None
            key = self._order.popleft()
            self._dirty.discard(key)
            self._processing.add(key)
            return key

    def done(self, key: str) -> None:
        """Release ``key``; it is queued again if it was added while being handled."""
        with self._changed:
            self._processing.discard(key)
            if key in self._dirty:
                self._order.append(key)
                self._changed.notify_all()

    def idle(self) -> bool:
        """True when nothing waits and nothing is being handled."""
        with self._changed:
            return not self._order and not self._processing

    def close(self) -> None:
        """Wake every waiting worker; :meth:`get` returns None from now on once drained."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
