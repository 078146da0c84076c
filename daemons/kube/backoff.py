"""How long to wait before trying the API server again: doubling, capped, jittered.

Every retry loop of the daemons (a watch, a list, a status write) backs off the same way, so an
API server that is down for a minute sees a few requests from each loop, not one per second, and
each loop tries again at most :data:`CAP_SECONDS` after the server came back. The jitter keeps
the loops of one daemon (and the daemons of a cluster) from retrying in lockstep.
"""

from __future__ import annotations

import random

FIRST_SECONDS = 0.5
"""The wait after the first failure."""

CAP_SECONDS = 16.0
"""The longest wait: after an outage every loop retries within this long."""


class Backoff:
    """The waits of one retry loop: 0.5 s, 1 s, 2 s, ... up to ``cap``, each 0-20 % shorter at random."""

    def __init__(self, first: float = FIRST_SECONDS, cap: float = CAP_SECONDS) -> None:
        self._first = first
        self._cap = cap
        self.attempts = 0
        """Failures in a row so far."""

    def next_delay(self) -> float:
        """Count one more failure and return how long to wait before the next try."""
        delay = min(self._cap, self._first * 2.0 ** min(self.attempts, 32))
        self.attempts += 1
        return delay * random.uniform(0.8, 1.0)  # jitter, not cryptography

    def reset(self) -> None:
        """The last try worked: the next failure waits :data:`FIRST_SECONDS` again."""
        self.attempts = 0
