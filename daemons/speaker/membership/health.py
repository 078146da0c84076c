"""How late this node's own loop runs: a starved node must not read its own delay as silence. Pure.

On an overloaded machine every node wakes late; one that accused its neighbours at the usual
``dead_after`` would evict nodes that were merely scheduled late too, and every refutation costs
a datagram to each member, which overloads the machine further. So a watcher adds slack to its
silence threshold: the worst lateness of its own wake-ups, fading with a half-life, capped (the
idea of Lifeguard's local health awareness). On an idle machine the slack is a few ms. (Its own
lateness alone cannot make it miss a heartbeat: the service reads the socket before it judges.)

Mistakes count too (Lifeguard's local health multiplier): when a node this one accused turns
out alive (it refutes), or this node itself had to refute, it is the kind of node that judges
too fast right now; each such mistake adds a penalty to the slack, fading with its own half-life.
(What the view counts as a mistake leaves out a split healing: see ``view.SPLIT_SILENCE``.)
That damps a storm: a busy domain whose members accuse each other falsely grows more patient
instead of broadcasting ever more suspicions and refutations.
"""

from __future__ import annotations


class LocalHealth:
    """The recent lateness of one loop and the slack it buys the nodes this one watches."""

    def __init__(self, half_life: float, max_slack: float, penalty_half_life: float | None = None) -> None:
        self.half_life = half_life
        self.max_slack = max_slack
        self.penalty_half_life = half_life if penalty_half_life is None else penalty_half_life
        self._lateness = 0.0
        self._at = 0.0
        self._penalty = 0.0
        self._penalty_at = 0.0

    def observe(self, scheduled: float, woke: float) -> None:
        """The loop meant to run at ``scheduled`` and ran at ``woke`` (both monotonic seconds)."""
        self._lateness = max(woke - scheduled, self.lateness(woke))
        self._at = woke

    def lateness(self, now: float) -> float:
        """The worst recent lateness, faded by the time since."""
        fade: float = 0.5 ** (max(0.0, now - self._at) / self.half_life)
        return self._lateness * fade

    def penalize(self, seconds: float, now: float) -> None:
        """A mistake of judgement at ``now`` (a wrong accusation, or a refutation): ``seconds`` more slack."""
        self._penalty = seconds + self.penalty(now)
        self._penalty_at = now

    def penalty(self, now: float) -> float:
        """The slack the recent mistakes still add, faded by the time since."""
        fade: float = 0.5 ** (max(0.0, now - self._penalty_at) / self.penalty_half_life)
        return self._penalty * fade

    def slack(self, now: float) -> float:
        """Seconds a watcher waits beyond ``dead_after`` before it suspects a silent neighbour."""
        return min(self.max_slack, self.lateness(now) + self.penalty(now))
