"""The layer-2 plan as the Kubernetes half keeps it: incremental claims and the engine's ``plan`` order.

:class:`Layer2Planning` turns each :class:`~..handler.Situation` into the ``plan`` order the
engine takes (:func:`.engine_messages.claims_to_json` of every claim), re-planning
(:class:`~...plugins.module_utils.l2_replan.L2Plans`) and re-converting (:class:`PlanOrder`)
only the Services a change touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ansible_collections.baremetal.lb.plugins.module_utils.l2_plan import IPClaim
from ansible_collections.baremetal.lb.plugins.module_utils.l2_replan import L2Plans, PlanSettings, Replanned

from ..engine_process import encode_item, encode_list_order
from ..handler import Situation
from .engine_messages import PLAN, claims_to_json


class Layer2Planning:
    """The claims of every Service and the engine order made of them, kept current."""

    def __init__(self) -> None:
        self._plans = L2Plans()
        self._order = PlanOrder()

    @property
    def claims(self) -> Mapping[str, tuple[IPClaim, ...]]:
        """The claims of the latest plan, by Service key."""
        claims: Mapping[str, tuple[IPClaim, ...]] = self._plans.claims
        return claims

    def plan(self, situation: Situation, interfaces: Mapping[int, Sequence[str]]) -> tuple[Replanned, bytes]:
        """Re-plan what ``situation`` changed; what was re-planned and the whole ``plan`` order's line.

        ``interfaces`` maps an IP version to this node's interfaces fit for ARP or NDP.
        """
        replanned = self._plans.update(
            settings_of(situation, interfaces), situation.nodes, situation.services
        )
        return replanned, self._order.update(self._plans.claims)


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
    """The engine's ``plan`` order line, encoded again only for the Services whose claims changed.

    Equals :func:`..engine_process.encode` of ``{"plan": claims_to_json(every claim)}``:
    :func:`.engine_messages.claims_to_json` sorts by Service, then IP, so each Service's own
    elements joined in key order make the same list.
    """

    def __init__(self) -> None:
        self._encoded: dict[str, tuple[tuple[IPClaim, ...], bytes]] = {}
        self._line = encode_list_order(PLAN, [])

    def update(self, claims: Mapping[str, tuple[IPClaim, ...]]) -> bytes:
        """The order's line for ``claims`` (by Service key); the very same bytes when nothing changed.

        Joining is skipped too when no Service's claims changed: with every Node a candidate the
        line is tens of MB.
        """
        changed = False
        for key in self._encoded.keys() - claims.keys():
            del self._encoded[key]
            changed = True
        for key, planned in claims.items():
            known = self._encoded.get(key)
            if known is None or known[0] is not planned:
                encoded = b",".join(encode_item(item) for item in claims_to_json(planned))
                self._encoded[key] = (planned, encoded)
                changed = True
        if changed:
            self._line = encode_list_order(PLAN, [self._encoded[key][1] for key in sorted(self._encoded)])
        return self._line
