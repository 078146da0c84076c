"""When to repeat gratuitous announcements: at once, then every 1.1 s for 5 s.

Linux ignores a neighbour update that repeats one received less than a second earlier
(``locktime``), so repeats come 1.1 s apart. Pure bookkeeping; the caller supplies the time.
"""

from __future__ import annotations

import heapq

from ansible_collections.baremetal.lb.plugins.module_utils.addresses import IPAddress

INTERVAL = 1.1
DURATION = 5.0


class AnnounceSchedule:
    """The pending announcement rounds of each IP; restarting an IP's burst replaces the old one."""

    def __init__(self, interval: float = INTERVAL, duration: float = DURATION) -> None:
        self._interval = interval
        self._duration = duration
        self._heap: list[tuple[float, int, IPAddress]] = []
        self._generation: dict[IPAddress, int] = {}
        self._ends: dict[IPAddress, float] = {}
        self._counter = 0

    def start(self, ip: IPAddress, now: float) -> None:
        """Begin a burst for ``ip`` whose first round is due at ``now``."""
        self._counter += 1
        self._generation[ip] = self._counter
        self._ends[ip] = now + self._duration
        heapq.heappush(self._heap, (now, self._counter, ip))

    def cancel(self, ip: IPAddress) -> None:
        """Forget any pending rounds for ``ip``."""
        self._generation.pop(ip, None)
        self._ends.pop(ip, None)

    def due(self, now: float) -> list[IPAddress]:
        """The IPs with a round due at ``now``; their next rounds are scheduled."""
        ready: list[IPAddress] = []
        while self._heap and self._heap[0][0] <= now:
            at, gen, ip = heapq.heappop(self._heap)
            if self._generation.get(ip) != gen:
                continue  # cancelled or restarted
            ready.append(ip)
            following = at + self._interval
            if following < self._ends[ip]:
                heapq.heappush(self._heap, (following, gen, ip))
            else:
                self.cancel(ip)
        return ready

    def next_due(self) -> float | None:
        """When the earliest pending round is due, or None when nothing is pending."""
        while self._heap and self._generation.get(self._heap[0][2]) != self._heap[0][1]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None
