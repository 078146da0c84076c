"""Error values for configuration checks: what is wrong, where, and how to fix it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    """A problem in one field of an object, before we know which object it belongs to."""

    path: str
    problem: str
    fix: str

    def under(self, prefix: str) -> FieldProblem:
        """Return the same problem with ``prefix`` put in front of its field path."""
        path = f"{prefix}.{self.path}" if self.path and not self.path.startswith("[") else prefix + self.path
        return FieldProblem(path, self.problem, self.fix)


@dataclass(frozen=True)
class ConfigError:
    """A problem in one field of one named configuration object."""

    kind: str
    name: str
    path: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r}, {self.path}: {self.problem}; {self.fix}"

    @classmethod
    def of(cls, kind: str, name: str, problem: FieldProblem) -> ConfigError:
        """Attach a field problem to the object ``kind``/``name``."""
        return cls(kind, name, problem.path, problem.problem, problem.fix)


class InvalidConfigError(ValueError):
    """Raised when a configuration has errors; ``errors`` holds every one of them."""

    def __init__(self, errors: Iterable[ConfigError]) -> None:
        self.errors = list(errors)
        lines = "\n".join(f"- {error}" for error in self.errors)
        super().__init__(f"the configuration has {len(self.errors)} error(s):\n{lines}")
