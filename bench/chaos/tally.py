"""Trials of a chaos bench and their totals: counted per fault, never dropped.

A :class:`Trial` holds the figures one fault measured (seconds, by name) and the promises it saw
broken; a trial that could not complete carries an error and counts as failed. :class:`Tally`
prints each fault's count, failures, broken promises and every figure as median (min-max).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..figures import median_spread


@dataclass
class Trial:
    """One run of one fault."""

    fault: str
    number: int
    detail: str = ""  # how this trial varied the fault (e.g. how the node went away)
    figures: dict[str, float] = field(default_factory=dict)
    broken: list[str] = field(default_factory=list)  # promises the trial saw broken, in words
    error: str = ""  # the trial could not complete (a wait timed out, an action failed)

    @property
    def label(self) -> str:
        """The fault and its variant, as printed and as totals are grouped."""
        return f"{self.fault} ({self.detail})" if self.detail else self.fault

    @property
    def ok(self) -> bool:
        """True when the trial completed and every promise held."""
        return not self.broken and not self.error

    def check(self, held: bool, promise: str) -> None:
        """Record ``promise`` as broken unless it ``held``."""
        if not held:
            self.broken.append(promise)

    def line(self) -> str:
        """The trial as printed."""
        figures = ", ".join(f"{name} {seconds(value)}" for name, value in self.figures.items())
        verdict = "ok" if self.ok else "FAILED"
        reasons = "".join(f"; broken: {what}" for what in self.broken)
        reasons += f"; error: {self.error}" if self.error else ""
        return f"{self.label} #{self.number}: {verdict}; {figures or 'no figures'}{reasons}"


def seconds(value: float) -> str:
    """A duration for people: milliseconds below 10 s."""
    return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"


def spread(values: Iterable[float]) -> str:
    """``median (min-max)`` of durations, or ``-`` when there are none."""
    return median_spread(values, seconds)


@dataclass
class Tally:
    """Every trial of a run, in order."""

    trials: list[Trial] = field(default_factory=list)

    def faults(self) -> list[str]:
        """The faults tried (with their variant, e.g. how the node went away), in the order first tried."""
        return list(dict.fromkeys(trial.label for trial in self.trials))

    @property
    def failed(self) -> int:
        """Trials that broke a promise or could not complete."""
        return sum(not trial.ok for trial in self.trials)

    def lines(self) -> list[str]:
        """Per fault: trials, failed ones, broken promises, each figure as median (min-max)."""
        out = []
        for fault in self.faults():
            trials = [trial for trial in self.trials if trial.label == fault]
            names = list(dict.fromkeys(name for trial in trials for name in trial.figures))
            figures = "; ".join(
                f"{name} {spread(t.figures[name] for t in trials if name in t.figures)}" for name in names
            )
            broken = sum(len(trial.broken) for trial in trials)
            errors = sum(bool(trial.error) for trial in trials)
            out.append(
                f"{fault}: {len(trials)} trials, {sum(not t.ok for t in trials)} failed "
                f"({broken} broken promises, {errors} errors); {figures or 'no figures'}"
            )
        out.append(f"total: {len(self.trials)} trials, {self.failed} failed")
        return out
