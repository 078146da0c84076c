"""The terms table of the engine's orders, as the Kubernetes half keeps it between orders.

Each ``plan`` or ``plan_changes`` order carries ``{"terms": {id: terms}}`` and its claims name
an entry by id (:func:`.engine_messages.plan_to_json`). :class:`TermsTable` gives each distinct
encoded terms entry one id, counts the claims that name it and forgets it when none does, so an
order can carry exactly the entries its claims name. An entry can be given new terms under
its id (:meth:`TermsTable.redefine`) when the claims naming it all took new terms: the
engine, told the id's new terms, applies them to every claim naming it, and those claims are
not sent again.
"""

from __future__ import annotations

from collections.abc import Iterable


class TermsTable:
    """Encoded terms entries by id, each kept while some claim names it."""

    def __init__(self) -> None:
        self._ids: dict[bytes, bytes] = {}  # an encoded entry: its id, encoded (a JSON string)
        self._entries: dict[bytes, bytes] = {}  # an id: its encoded entry
        self._uses: dict[bytes, int] = {}  # an id: how many claims name it
        self._next = 0  # ids are never given twice

    def ident(self, entry: bytes) -> bytes:
        """The id of the encoded ``entry``, new if no entry alike is kept; :meth:`use` it next."""
        ident = self._ids.get(entry)
        if ident is None:
            ident = self._ids[entry] = b'"%d"' % self._next
            self._next += 1
            self._entries[ident] = entry
            self._uses[ident] = 0
        return ident

    def entry(self, ident: bytes) -> bytes:
        """The encoded entry ``ident`` names."""
        return self._entries[ident]

    def uses(self, ident: bytes) -> int:
        """How many claims name ``ident``."""
        return self._uses[ident]

    def redefine(self, ident: bytes, entry: bytes) -> bool:
        """Give ``ident`` the encoded ``entry`` instead of its own unless an entry alike is kept; if it did.

        For when every claim naming ``ident`` now has the terms ``entry``: each takes ``entry``.
        When an entry alike is kept (``ident``'s own, or another id's), nothing changes: the
        claims with those terms name that entry's id.
        """
        if entry in self._ids:
            return False
        del self._ids[self._entries[ident]]
        self._ids[entry] = ident
        self._entries[ident] = entry
        return True

    def use(self, idents: Iterable[bytes]) -> None:
        """Count one more claim naming each of ``idents`` (once per time it is listed)."""
        uses = self._uses
        for ident in idents:
            uses[ident] += 1

    def release(self, idents: Iterable[bytes]) -> None:
        """Count one claim fewer naming each of ``idents``; forget the entries no claim names any more."""
        uses = self._uses
        for ident in idents:
            uses[ident] -= 1
            if not uses[ident]:
                del uses[ident], self._ids[self._entries.pop(ident)]

    def encoded(self, idents: Iterable[bytes] | None = None) -> bytes:
        """The JSON object of the kept entries of ``idents`` (each once, in id order), or of every entry."""
        entries = self._entries
        chosen = entries if idents is None else {ident for ident in idents if ident in entries}
        return b"{" + b",".join(ident + b":" + entries[ident] for ident in sorted(chosen, key=_number)) + b"}"

    def __len__(self) -> int:
        return len(self._entries)


def _number(ident: bytes) -> int:
    return int(ident[1:-1])
