"""How late this node's own loop runs: a starved node must not read its own delay as silence. Pure.

On an overloaded machine every node wakes late; one that accused its neighbours at the usual
``dead_after`` would evict nodes that were merely scheduled late too, and every refutation costs
a datagram to each member, which overloads the machine further. So a watcher adds slack to its
silence threshold: twice the worst lateness of its own wake-ups, fading with a half-life, capped
(the idea of Lifeguard's local health awareness). On an idle machine the slack is a few ms.
"""

from __future__ import annotations


class LocalHealth:
    """The recent lateness of one loop and the slack it buys the nodes this one watches."""

    def __init__(self, half_life: float, max_slack: float) -> None:
        self.half_life = half_life
        self.max_slack = max_slack
        self._lateness = 0.0
        self._at = 0.0

    def observe(self, scheduled: float, woke: float) -> None:
        """The loop meant to run at ``scheduled`` and ran at ``woke`` (both monotonic seconds)."""
        self._lateness = max(woke - scheduled, self.lateness(woke))
        self._at = woke

    def lateness(self, now: float) -> float:
        """The worst recent lateness, faded by the time since."""
        fade: float = 0.5 ** (max(0.0, now - self._at) / self.half_life)
        return self._lateness * fade

    def slack(self, now: float) -> float:
        """Seconds a watcher waits beyond ``dead_after`` before it suspects a silent neighbour."""
        return min(self.max_slack, 2 * self.lateness(now))
