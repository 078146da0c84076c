"""The layer-2 plan as the Kubernetes half keeps it: incremental claims and the engine's orders.

:class:`Layer2Planning` turns each :class:`~..handler.Situation` into the order the engine
takes: first the whole ``plan`` (:func:`.engine_messages.claims_to_json` of every claim), then
``plan_changes`` of the Services whose claims changed, re-planning
(:class:`~...plugins.module_utils.l2_replan.L2Plans`) and re-converting (:class:`PlanOrder`)
only the Services a change touched.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import NamedTuple

from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import IPClaim
from ansible_collections.baremetal.lb.plugins.module_utils.l2_replan import L2Plans, PlanSettings, Replanned

from ..engine_process import encode_item, encode_list_order
from ..handler import Situation
from .engine_messages import PLAN, PLAN_CHANGES, claim_head_json, claim_terms_json


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
        self._order.update(self._plans.claims, None if replanned.everything else replanned.services)
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

    :attr:`line` equals :func:`..engine_process.encode` of ``{"plan": claims_to_json(every
    claim)}``: :func:`.engine_messages.claims_to_json` sorts by Service, then IP, so each
    Service's own elements joined in key order make the same list. :meth:`changes_line` carries
    the same elements of the Services changed since it was last called. Each element is encoded
    in two parts, as :func:`.engine_messages.claims_to_json` builds it: its head (IP, Service,
    key), kept while the Service's IPs stay, and its terms, encoded once per update for every
    claim sharing them (a Node's death changes the terms of thousands of Services alike).
    """

    def __init__(self) -> None:
        self._encoded: dict[str, _Encoded] = {}
        self._keys: list[str] | None = []  # the keys of _encoded, sorted; None: to sort again
        self._line: bytes | None = encode_list_order(PLAN, [])  # None: to join again
        self._pending: set[str] = set()  # Services changed since the last changes_line
        self._key_texts: dict[str, bytes] = {}  # each Service key as JSON, for changes_line

    def update(
        self, claims: Mapping[str, tuple[IPClaim, ...]], replanned: Collection[str] | None = None
    ) -> None:
        """Take ``claims`` (by Service key) in, encoding only the Services whose claims changed.

        ``replanned``: the only keys whose claims may have changed since the last call (default:
        any).
        """
        encoded, pending = self._encoded, self._pending
        for key in encoded.keys() - claims.keys() if replanned is None else replanned:
            if key not in claims and encoded.pop(key, None) is not None:
                pending.add(key)
                self._keys = self._line = None
        terms = _TermsCache()
        for key in claims if replanned is None else replanned:
            planned = claims.get(key)
            if planned is None:
                continue
            known = encoded.get(key)
            if known is None:
                encoded[key] = _encode(planned, None, terms)
                self._keys = None
                self._key_texts[key] = encode_item(key)
            elif known.planned is not planned:
                encoded[key] = _same_head(planned, known, terms) or _encode(planned, known, terms)
            else:
                continue
            pending.add(key)
            self._line = None

    @property
    def line(self) -> bytes:
        """The ``plan`` order of every claim; the very same bytes while no Service's claims changed.

        Joined only when asked for after a change: with every Node a candidate it is tens of MB.
        """
        if self._line is None:
            if self._keys is None:
                self._keys = sorted(self._encoded)
            self._line = encode_list_order(PLAN, [self._encoded[key].encoded for key in self._keys])
        return self._line

    def changes_line(self) -> bytes | None:
        """The ``plan_changes`` order of the Services changed since the last call; None when none did.

        ``{"plan_changes": {key: [element, ...]}}``, in key order, each Service with its
        elements as :attr:`line` has them; one without claims now with none.
        """
        if not self._pending:
            return None
        encoded, texts = self._encoded, self._key_texts
        parts = [
            texts[key] + b":[" + encoded[key].encoded + b"]"
            if key in encoded
            else (texts.pop(key, None) or encode_item(key)) + b":[]"  # gone: its text goes too
            for key in sorted(self._pending)
        ]
        self._pending = set()
        return b"{" + encode_item(PLAN_CHANGES) + b":{" + b",".join(parts) + b"}}\n"


class _Encoded(NamedTuple):
    """One Service's claims and their elements of the order, joined."""

    planned: tuple[IPClaim, ...]  # as planned
    ordered: tuple[IPClaim, ...]  # as the order lists them: by IP text
    encoded: bytes
    heads: tuple[int, ...]  # where each element's head lies in encoded: start, end, start, end...

    def head_texts(self) -> list[bytes]:
        """The encoded heads of ``ordered``, read back from ``encoded`` (not kept twice)."""
        return [self.encoded[start:end] for start, end in zip(self.heads[::2], self.heads[1::2], strict=True)]


def _same_head(planned: tuple[IPClaim, ...], known: _Encoded, terms: _TermsCache) -> _Encoded | None:
    """The usual case, quicker: one claim before and now, on the same IP with the same key; else None."""
    if len(planned) != 1 or len(known.ordered) != 1:
        return None
    (old,), (new,) = known.ordered, planned
    if _same_head_fields(old, new):
        return _Encoded(planned, planned, known.encoded[: known.heads[1]] + terms.encoded(new), known.heads)
    return None


def _same_head_fields(old: IPClaim, new: IPClaim) -> bool:
    """Whether two claims' heads (:func:`.engine_messages.claim_head_json`: IP, Service, key) are equal."""
    return bool(old.ip is new.ip or old.ip == new.ip) and old.key == new.key and old.service == new.service


def _encode(planned: tuple[IPClaim, ...], known: _Encoded | None, terms: _TermsCache) -> _Encoded:
    """Encode one Service's ``planned`` claims, reusing the heads ``known`` from before and ``terms``."""
    ordered = planned if len(planned) < 2 else tuple(sorted(planned, key=lambda claim: str(claim.ip)))
    if (
        known is not None
        and len(known.ordered) == len(ordered)
        and all(_same_head_fields(old, new) for old, new in zip(known.ordered, ordered, strict=True))
    ):
        heads = known.head_texts()
    else:
        heads = [encode_item(claim_head_json(claim))[:-1] for claim in ordered]
    elements = [head + terms.encoded(claim) for head, claim in zip(heads, ordered, strict=True)]
    spans: list[int] = []
    start = 0
    for head, element in zip(heads, elements, strict=True):
        spans += (start, start + len(head))
        start += len(element) + 1  # and the comma
    return _Encoded(planned, ordered, b",".join(elements), tuple(spans))


class _TermsCache:
    """The encoded terms of one update's claims, each encoded once for every claim sharing them.

    Claims share terms by identity (:mod:`...plugins.module_utils.l2_replan` builds the claims
    of Services alike from one set of terms objects), so they are found by the identity of the
    candidates and recognised by the identity of the rest: no key tuple is built per claim.
    Each entry keeps its claim, so the identities stay those objects'.
    """

    def __init__(self) -> None:
        self._by_candidates: dict[int, list[tuple[IPClaim, bytes]]] = {}

    def encoded(self, claim: IPClaim) -> bytes:
        """The encoded terms of ``claim``: the rest of its element after its head."""
        entries = self._by_candidates.get(id(claim.candidates))
        for seen, text in entries or ():
            if (
                seen.interfaces is claim.interfaces
                and seen.scores is claim.scores
                and seen.draining is claim.draining
                and seen.non_revertive == claim.non_revertive
            ):
                return text
        text = b"," + encode_item(claim_terms_json(claim))[1:]
        self._by_candidates.setdefault(id(claim.candidates), []).append((claim, text))
        return text
