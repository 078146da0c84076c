"""BGP communities as MetalLB writes them: ``AA:NN`` (16 bits each) or ``large:G:L1:L2`` (32 each)."""

from __future__ import annotations

from dataclasses import dataclass

_LARGE_PREFIX = "large:"


@dataclass(frozen=True)
class Community:
    """A standard (two 16-bit parts) or large (three 32-bit parts) BGP community."""

    parts: tuple[int, ...]

    @property
    def is_large(self) -> bool:
        """Return True for a large community (RFC 8092)."""
        return len(self.parts) == 3

    def __str__(self) -> str:
        text = ":".join(map(str, self.parts))
        return _LARGE_PREFIX + text if self.is_large else text


def parse_community(text: str) -> Community:
    """Parse ``AA:NN`` or ``large:G:L1:L2``; raise ValueError saying what to write."""
    large = text.startswith(_LARGE_PREFIX)
    fields = text.removeprefix(_LARGE_PREFIX).split(":")
    count, bits = (3, 32) if large else (2, 16)
    if len(fields) != count or not all(field.isdigit() for field in fields):
        raise ValueError(
            f"{text!r} is not a community; write 'AA:NN' (two numbers up to 65535), "
            "'large:G:L1:L2' (three numbers up to 4294967295) or the name of a Community alias"
        )
    parts = tuple(int(field) for field in fields)
    if any(part >= 1 << bits for part in parts):
        raise ValueError(f"{text!r}: each part must be at most {(1 << bits) - 1}")
    return Community(parts)
