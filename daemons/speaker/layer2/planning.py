"""The layer-2 plan as the Kubernetes half keeps it: incremental claims and the engine's orders.

:class:`Layer2Planning` turns each :class:`~..handler.Situation` into the order the engine
takes: first the whole ``plan`` (every claim, :func:`.engine_messages.plan_to_json`), then
``plan_changes`` of the Services whose claims changed, re-planning
(:class:`~...plugins.module_utils.l2_replan.L2Plans`) and re-converting (:class:`PlanOrder`)
only the Services a change touched.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import IPClaim
from ansible_collections.baremetal.lb.plugins.module_utils.l2_replan import L2Plans, PlanSettings, Replanned

from ..engine_process import encode_item
from ..handler import Situation
from .engine_messages import PLAN, PLAN_CHANGES, claim_head_json, claim_terms_json
from .order_terms import TermsTable


class Layer2Planning:
    """The claims of every Service and the engine order made of them, kept current."""

    def __init__(self) -> None:
        self._plans = L2Plans()
        self._order = PlanOrder()
        self._whole_sent = False

    @property
    def claims(self) -> Mapping[str, tuple[IPClaim, ...]]:
        """The claims of the latest plan, by Service key."""
        claims: Mapping[str, tuple[IPClaim, ...]] = self._plans.claims
        return claims

    @property
    def whole_line(self) -> bytes:
        """The ``plan`` order of the whole latest plan (what the first order was)."""
        return self._order.line

    def plan(
        self, situation: Situation, interfaces: Mapping[int, Sequence[str]]
    ) -> tuple[Replanned, bytes | None]:
        """Re-plan what ``situation`` changed; what was re-planned and the order to send the engine.

        The first order is the whole plan (``plan``); each later one names only the Services
        whose claims changed since the order before (``plan_changes``), None when none did, so
        the engine reads only them. ``interfaces`` maps an IP version to this node's interfaces
        fit for ARP or NDP.
        """
        replanned = self._plans.update(
            settings_of(situation, interfaces), situation.nodes, situation.services
        )
        if replanned.everything:
            self._order.update(self._plans.claims)
        else:
            self._order.update(self._plans.claims, replanned.services, replanned.retermed)
        changes = self._order.changes_line()
        if self._whole_sent:
            return replanned, changes
        self._whole_sent = True
        return replanned, self._order.line


def settings_of(situation: Situation, interfaces: Mapping[int, Sequence[str]]) -> PlanSettings:
    """What every Service's plan depends on besides the Nodes and the Service itself."""
    return PlanSettings(
        config=situation.config,
        me=situation.me,
        suitable_interfaces=interfaces,
        ignore_exclude_label=situation.ignore_exclude_label,
        drain_aware=situation.drain_aware,
    )


class PlanOrder:
    """The engine's orders, encoded again only for the Services whose claims changed.

    :attr:`line` is the ``plan`` order of every claim, :meth:`changes_line` the ``plan_changes``
    order of the Services changed since it was last called; both decode
    (:func:`.engine_messages.plan_from_json`) to the claims taken in. Each Service's claims are
    kept encoded in two parts: their heads (IP, key), kept while the Service's IPs stay, and
    the ids of their terms in a :class:`.order_terms.TermsTable`, each entry encoded once for
    every claim sharing it. When every claim naming an entry takes new terms (a Node's death
    changes the terms of thousands of Services alike), the entry is redefined to the terms most
    of them took: the order carries its id with those terms and none of those Services, only
    the few that took other terms. Told that groups of Services only took new terms, alike in
    each group (:attr:`~...plugins.module_utils.l2_replan.Replanned.retermed`), it redefines a
    group's entry once instead of shaping each of its Services.
    """

    def __init__(self) -> None:
        self._encoded: dict[str, _Encoded] = {}
        self._keys: list[str] | None = []  # the keys of _encoded, sorted; None: to sort again
        self._line: bytes | None = None  # None: to join again
        self._pending: set[str] = set()  # Services changed since the last changes_line
        self._redefined: set[bytes] = set()  # terms ids redefined since the last changes_line
        self._key_texts: dict[str, bytes] = {}  # each Service key as JSON
        self._terms = TermsTable()
        self._named_by: dict[bytes, set[str]] = {}  # a terms id: the Services whose claims name it

    def update(
        self,
        claims: Mapping[str, tuple[IPClaim, ...]],
        replanned: Collection[str] | None = None,
        retermed: Iterable[AbstractSet[str]] = (),
    ) -> None:
        """Take ``claims`` (by Service key) in, encoding only the Services whose claims changed.

        ``replanned``: the only keys whose claims may have changed since the last call (default:
        any). ``retermed``: groups of those keys whose one claim each kept its IP and key and
        only took new terms, the same for the whole group, from terms alike for the whole group
        (:class:`~...plugins.module_utils.l2_replan.Replanned`); each group that named an entry no
        other claim names is taken at once (:meth:`_take_retermed`). Then each other changed
        Service's claims are shaped (heads, encoded terms) and where the claims naming each
        terms id went is noted; an id all of whose claims moved is redefined to the new entry
        most of them went to; then each Service names ids, and only one naming other ids than
        before is encoded again and sent.
        """
        encoded, pending, table = self._encoded, self._pending, self._terms
        released: list[bytes] = []  # the terms ids of the claims replaced: counted last, so shared ids stay
        entries, moves = _EntryCache(), _Moves()
        redefined: list[bytes] = []  # the terms ids given new terms
        if replanned is not None:
            taken, redefined = self._take_retermed(claims, retermed, entries)
            if taken:
                replanned = set(replanned) - taken
        maybe_gone = encoded.keys() - claims.keys() if replanned is None else replanned
        released += self._forget_gone(claims, maybe_gone)
        shaped: list[tuple[str, _Encoded | None, tuple[IPClaim, ...], _Shape]] = []
        for key in claims if replanned is None else replanned:
            planned = claims.get(key)
            if planned is None:
                continue
            known = encoded.get(key)
            if known is not None and known.planned is planned:
                continue
            shape = ordered, heads, terms = _shape(planned, known, entries)
            if known is not None and heads is known.heads:
                moves.note(known.idents, terms)
            shaped.append((key, known, planned, shape))
        redefined += moves.redefine_in(table)
        if redefined:
            self._redefined.update(redefined)
            self._line = None
        used: list[bytes] = []
        for key, known, planned, (ordered, heads, terms) in shaped:
            idents = tuple(map(table.ident, terms))
            if known is not None and heads is known.heads and idents == known.idents:
                known.planned, known.ordered = planned, ordered  # the same bytes
                continue
            if known is None:
                self._keys = None
                self._key_texts[key] = encode_item(key)
            else:
                released += known.idents
                self._unname(key, known.idents)
            encoded[key] = _Encoded(planned, ordered, heads, idents, _joined(heads, idents))
            for ident in idents:
                self._named_by.setdefault(ident, set()).add(key)
            used += idents
            pending.add(key)
            self._line = None
        table.use(used)
        table.release(released)

    def _take_retermed(
        self,
        claims: Mapping[str, tuple[IPClaim, ...]],
        groups: Iterable[AbstractSet[str]],
        entries: _EntryCache,
    ) -> tuple[set[str], list[bytes]]:
        """Take in each group of Services that only took new terms and alone named its entry.

        Returns the keys taken and the terms ids redefined for them.

        Such a group's claims keep their bytes: its entry is redefined to the new terms (or left,
        when they encode the same) and none of its Services is sent or even read but one. A group
        is left to the Service-by-Service path when the Services naming its first Service's entry
        are not exactly the group (they named different entries, or some other Service names it
        and needs it kept), or an entry alike to the new terms is kept already (its Services must
        name that one). That each had one claim and has one now, of the same IP and key, is
        ``L2Plans``' promise (a group's claims are made from one set of terms), trusted as
        ``replanned`` is: checking it would cost a look per Service, the cost this path avoids.
        The taken Services' kept claims (:class:`_Encoded`) keep their old terms: only their
        heads and identity are read again.
        """
        encoded, table, named_by = self._encoded, self._terms, self._named_by
        taken: set[str] = set()
        redefined: list[bytes] = []
        for group in groups:
            key = next(iter(group))
            first = encoded.get(key)
            if first is None or len(first.idents) != 1:
                continue
            ident = first.idents[0]
            if table.uses(ident) != len(group) or named_by.get(ident) != group:
                continue
            entry = entries.entry(claims[key][0])
            if entry != table.entry(ident):
                if not table.redefine(ident, entry):
                    continue  # another id has those terms: the group's Services must name it
                redefined.append(ident)
            taken.update(group)
        return taken, redefined

    def _forget_gone(self, claims: Mapping[str, tuple[IPClaim, ...]], keys: Iterable[str]) -> list[bytes]:
        """Forget the Services of ``keys`` that have no claims now; the terms ids they named."""
        released: list[bytes] = []
        for key in keys:
            if key not in claims and (gone := self._encoded.pop(key, None)) is not None:
                released += gone.idents
                self._unname(key, gone.idents)
                self._pending.add(key)
                self._keys = self._line = None
        return released

    def _unname(self, key: str, idents: Iterable[bytes]) -> None:
        """The Service ``key``'s claims no longer name ``idents``."""
        named_by = self._named_by
        for ident in idents:
            names = named_by.get(ident)
            if names is not None:
                names.discard(key)
                if not names:
                    del named_by[ident]

    @property
    def line(self) -> bytes:
        """The ``plan`` order of every claim; the very same bytes while no Service's claims changed.

        Joined only when asked for after a change: at thousands of Services it is megabytes.
        """
        if self._line is None:
            if self._keys is None:
                self._keys = sorted(self._encoded)
            self._line = self._order(PLAN, self._keys, None)
        return self._line

    def changes_line(self) -> bytes | None:
        """The ``plan_changes`` order of what changed since the last call; None when nothing did.

        Each Service with its claims as :attr:`line` has them, one without claims now with
        ``[]``, the terms entries they name and every entry redefined (still named).
        """
        if not self._pending and not self._redefined:
            return None
        encoded = self._encoded
        keys = sorted(self._pending)
        named = [ident for key in keys if key in encoded for ident in encoded[key].idents]
        line = self._order(PLAN_CHANGES, keys, [*named, *self._redefined])
        self._pending, self._redefined = set(), set()
        for key in keys:
            if key not in encoded:
                del self._key_texts[key]  # gone: its text goes too
        return line

    def _order(self, kind: str, keys: list[str], idents: list[bytes] | None) -> bytes:
        """The order of ``kind`` carrying the Services of ``keys`` and the terms of ``idents`` (None: all)."""
        encoded, texts = self._encoded, self._key_texts
        services = b",".join(
            texts[key] + b":" + (encoded[key].encoded if key in encoded else b"[]") for key in keys
        )
        terms = self._terms.encoded(idents)
        return b"{" + encode_item(kind) + b':{"terms":' + terms + b',"services":{' + services + b"}}}\n"


@dataclass(slots=True)
class _Encoded:
    """One Service's claims and their part of the order (the claims alone change when the bytes stay)."""

    # the claims as planned and as the order lists them (by IP text); after a group was taken
    # (PlanOrder._take_retermed) with their old terms: only their heads and identity are read
    planned: tuple[IPClaim, ...]
    ordered: tuple[IPClaim, ...]
    heads: tuple[bytes, ...]  # each ordered claim's element up to its terms id: '["ip","key",'
    idents: tuple[bytes, ...]  # each ordered claim's terms id
    encoded: bytes  # the Service's claims: '[[ip,key,id],...]'


# One Service's new claims shaped for the order, not yet naming terms ids: the claims as the
# order lists them (by IP text), their heads (the very tuple known before while the claims' heads
# stay) and each one's terms, encoded. A plain tuple: one is made per Service re-planned.
_Shape = tuple[tuple[IPClaim, ...], tuple[bytes, ...], tuple[bytes, ...]]


def _same_head_fields(old: IPClaim, new: IPClaim) -> bool:
    """Whether two claims' heads (:func:`.engine_messages.claim_head_json`: IP, key) are equal."""
    return bool(old.ip is new.ip or old.ip == new.ip) and old.key == new.key


def _shape(planned: tuple[IPClaim, ...], known: _Encoded | None, entries: _EntryCache) -> _Shape:
    """Shape one Service's ``planned`` claims, reusing the heads ``known`` from before."""
    if len(planned) == 1 and known is not None and len(known.ordered) == 1:  # the usual case, quicker
        (claim,), (old,) = planned, known.ordered
        if _same_head_fields(old, claim):
            return planned, known.heads, (entries.entry(claim),)
    ordered = planned if len(planned) < 2 else tuple(sorted(planned, key=lambda claim: str(claim.ip)))
    if (
        known is not None
        and len(known.ordered) == len(ordered)
        and all(_same_head_fields(old, new) for old, new in zip(known.ordered, ordered, strict=True))
    ):
        heads = known.heads
    else:
        heads = tuple(encode_item(claim_head_json(claim))[:-1] + b"," for claim in ordered)
    return ordered, heads, tuple(entries.entry(claim) for claim in ordered)


def _joined(heads: tuple[bytes, ...], idents: tuple[bytes, ...]) -> bytes:
    """A Service's claims in the order: ``[[ip,key,id],...]``."""
    return b"[" + b",".join(head + ident + b"]" for head, ident in zip(heads, idents, strict=True)) + b"]"


class _Moves:
    """Where the claims naming each terms id went in one update, to find the ids to redefine."""

    def __init__(self) -> None:
        self._to: dict[bytes, dict[bytes, int]] = {}  # an id: the entries its claims went to, counted

    def note(self, idents: tuple[bytes, ...], entries: tuple[bytes, ...]) -> None:
        """Claims that named ``idents`` now have the terms ``entries`` (position by position)."""
        to = self._to
        for ident, entry in zip(idents, entries, strict=True):
            went = to.get(ident)
            if went is None:
                to[ident] = {entry: 1}
            else:
                went[entry] = went.get(entry, 0) + 1

    def redefine_in(self, table: TermsTable) -> list[bytes]:
        """Redefine in ``table`` each id all of whose claims moved, to the entry most went to; those ids.

        Only to an entry no id has: the claims that went elsewhere name other ids. An id some
        claims of which were not shaped again keeps its entry: they still have its terms.
        """
        redefined = []
        for ident, went in self._to.items():
            if sum(went.values()) != table.uses(ident):
                continue
            entry = max(went, key=went.__getitem__)
            # not when kept (its own entry still: nothing moved); known from now on, so no
            # second id takes the same entry
            if table.redefine(ident, entry):
                redefined.append(ident)
        return redefined


class _EntryCache:
    """The encoded terms of one update's claims, encoded once for every claim sharing them.

    Claims share terms by identity (:mod:`...plugins.module_utils.l2_replan` builds the claims
    of Services alike from one set of terms objects), so they are found by the identity of the
    candidates and recognised by the identity of the rest: no key tuple is built per claim.
    Each entry keeps its claim, so the identities stay those objects'; claims alike get the
    very same bytes.
    """

    def __init__(self) -> None:
        self._by_candidates: dict[int, list[tuple[IPClaim, bytes]]] = {}

    def entry(self, claim: IPClaim) -> bytes:
        """``claim``'s terms as a terms table entry."""
        entries = self._by_candidates.get(id(claim.candidates))
        for seen, entry in entries or ():
            if (
                seen.interfaces is claim.interfaces
                and seen.scores is claim.scores
                and seen.draining is claim.draining
                and seen.non_revertive == claim.non_revertive
            ):
                return entry
        entry = encode_item(claim_terms_json(claim))
        self._by_candidates.setdefault(id(claim.candidates), []).append((claim, entry))
        return entry
