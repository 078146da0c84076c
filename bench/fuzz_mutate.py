"""Fast mutators for the fuzz bench: byte strings and JSON-shaped trees, seeded from valid inputs.

Hypothesis explores well but runs some thousands of inputs a second; a million inputs per
decoder needs a plain mutator. :class:`ByteMutator` stacks a few classic edits (bit flips,
interesting values, cut, insert, repeat, splice with another seed) on a valid message, so most
inputs stay close enough to the format to reach deep into the decoder. :class:`TreeMutator`
does the same for Kubernetes-shaped objects: it replaces, deletes or adds one node of the tree,
copying only the containers on the path it changes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

_INTERESTING_8 = (0, 1, 2, 3, 4, 0x0F, 0x10, 0x1F, 0x20, 0x3F, 0x40, 0x7F, 0x80, 0x81, 0xFE, 0xFF)
_INTERESTING_16 = (0, 1, 2, 0x13, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF)


class ByteMutator:
    """Mutates byte strings; ``seeds`` are the valid messages splices borrow from."""

    def __init__(self, rng: random.Random, seeds: Sequence[bytes], max_len: int = 4200) -> None:
        self.rng = rng
        self.seeds = list(seeds)
        self.max_len = max_len
        self._edits: tuple[Callable[[bytearray], None], ...] = (
            self._flip_bit,
            self._flip_bit,
            self._set_byte,
            self._set_byte,
            self._set_word,
            self._delete,
            self._insert,
            self._repeat,
            self._truncate,
            self._splice,
        )

    def mutate(self, data: bytes) -> bytes:
        """``data`` with one to four random edits applied."""
        buf = bytearray(data)
        for _unused in range(self.rng.randint(1, 4)):
            self.rng.choice(self._edits)(buf)
        return bytes(buf[: self.max_len])

    def _pos(self, buf: bytearray) -> int:
        return self.rng.randrange(len(buf)) if buf else 0

    def _flip_bit(self, buf: bytearray) -> None:
        if buf:
            buf[self._pos(buf)] ^= 1 << self.rng.randrange(8)

    def _set_byte(self, buf: bytearray) -> None:
        if buf:
            buf[self._pos(buf)] = self.rng.choice((*_INTERESTING_8, self.rng.randrange(256)))

    def _set_word(self, buf: bytearray) -> None:
        if len(buf) >= 2:
            pos = self.rng.randrange(len(buf) - 1)
            value = self.rng.choice((*_INTERESTING_16, len(buf), len(buf) - pos))
            buf[pos : pos + 2] = (value & 0xFFFF).to_bytes(2, "big")

    def _delete(self, buf: bytearray) -> None:
        if buf:
            pos = self._pos(buf)
            del buf[pos : pos + self.rng.randint(1, 16)]

    def _insert(self, buf: bytearray) -> None:
        pos = self.rng.randint(0, len(buf))
        size = self.rng.randint(1, 16)
        fill = (
            bytes([self.rng.choice(_INTERESTING_8)]) * size
            if self.rng.random() < 0.5
            else self.rng.randbytes(size)
        )
        buf[pos:pos] = fill

    def _repeat(self, buf: bytearray) -> None:
        if buf:
            pos = self._pos(buf)
            chunk = buf[pos : pos + self.rng.randint(1, 32)]
            buf[pos:pos] = chunk * self.rng.randint(1, 8)

    def _truncate(self, buf: bytearray) -> None:
        del buf[self.rng.randint(0, len(buf)) :]

    def _splice(self, buf: bytearray) -> None:
        other = self.rng.choice(self.seeds)
        if other:
            start = self.rng.randrange(len(other))
            chunk = other[start : start + self.rng.randint(1, 64)]
            pos = self.rng.randint(0, len(buf))
            buf[pos : pos + len(chunk)] = chunk


# Values a tree node may be replaced with: every JSON type, edge numbers and tricky strings.
_TRICKY_STRINGS = (
    "",
    " ",
    "a",
    "-",
    "/",
    "0",
    "-1",
    "1e400",
    "nan",
    "\n",
    "é",
    "\x00",
    "a" * 300,
    "192.0.2.0/24",
    "192.0.2.0/33",
    "192.0.2.10-192.0.2.1",
    "192.0.2.1-2001:db8::1",
    "0.0.0.0/0",
    "::/0",
    "2001:db8::/129",
    "2001:db8::1 - 2001:db8::ff",
    "fe80::1%eth0",
    "192.0.2.256",
    "64500:1",
    "65536:1",
    "large:1:2:3",
    "large:4294967296:1:1",
    "no-export",
    "10s",
    "-1s",
    "1h2m3.5s",
    "9999999999h",
    "internal",
    "external",
    "In",
    "NotIn",
    "Exists",
    "DoesNotExist",
    "Gt",
    "kubernetes.io/hostname",
    "a/b/c",
    "eth0",
)
_TRICKY_FLOATS = (0.5, -0.0, 1e308, float("inf"), float("nan"), 3.0)
_TRICKY_NUMBERS = (
    0,
    1,
    -1,
    2,
    32,
    33,
    128,
    129,
    255,
    256,
    65535,
    65536,
    2**31,
    2**32 - 1,
    2**32,
    2**64,
    -(2**63),
)


class TreeMutator:
    """Mutates JSON-shaped trees (dicts, lists, scalars); ``keys`` are field names worth adding."""

    def __init__(self, rng: random.Random, keys: Sequence[str]) -> None:
        self.rng = rng
        self.keys = list(keys)

    def mutate(self, tree: Any) -> Any:
        """A copy of ``tree`` with one to three nodes replaced, removed or added."""
        for _unused in range(self.rng.randint(1, 3)):
            tree = self._edit(tree)
        return tree

    def random_value(self, depth: int = 0) -> Any:
        """A random JSON value, nested at most two levels."""
        scalars: tuple[Callable[[], Any], ...] = (
            lambda: None,
            lambda: self.rng.random() < 0.5,
            lambda: self.rng.choice(_TRICKY_NUMBERS),
            lambda: self.rng.choice(_TRICKY_FLOATS),
            lambda: self.rng.choice(_TRICKY_STRINGS),
            lambda: self.rng.choice(_TRICKY_STRINGS),
            lambda: self.rng.choice(_TRICKY_STRINGS),
        )
        if depth >= 2 or self.rng.random() < 0.7:
            return self.rng.choice(scalars)()
        size = range(self.rng.randint(0, 3))
        if self.rng.random() < 0.6:
            return [self.random_value(depth + 1) for _unused in size]
        return {self._key(): self.random_value(depth + 1) for _unused in size}

    def _key(self) -> str:
        return (
            self.rng.choice(self.keys)
            if self.keys and self.rng.random() < 0.8
            else self.rng.choice(_TRICKY_STRINGS)
        )

    def _edit(self, node: Any, depth: int = 0) -> Any:
        """Walk down a random path; edit the node at its end; copy the containers on the way.

        The walk rarely stops at the root: a whole input of the wrong type is refused at once.
        """
        descend = self.rng.random() < (0.97 if depth == 0 else 0.7)
        if isinstance(node, dict) and node and descend:
            key = self.rng.choice(list(node))
            return {**node, key: self._edit(node[key], depth + 1)}
        if isinstance(node, list) and node and descend:
            index = self.rng.randrange(len(node))
            return [*node[:index], self._edit(node[index], depth + 1), *node[index + 1 :]]
        return self._change(node)

    def _change(self, node: Any) -> Any:
        roll = self.rng.randrange(5)
        if isinstance(node, dict) and roll == 0 and node:
            gone = self.rng.choice(list(node))
            return {key: value for key, value in node.items() if key != gone}
        if isinstance(node, dict) and roll == 1:
            return {**node, self._key(): self.random_value()}
        if isinstance(node, list) and roll == 0 and node:
            return node[: self.rng.randrange(len(node))]
        if isinstance(node, list) and roll == 1:
            return [*node, self.rng.choice(node) if node and self.rng.random() < 0.5 else self.random_value()]
        return self.random_value()
