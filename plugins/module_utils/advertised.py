"""Which advertisements select a Service's address: the rules layer 2 and BGP share.

An advertisement (L2Advertisement or BGPAdvertisement) selects an address when it selects the
address's pool (``ipAddressPools`` / ``ipAddressPoolSelectors``, resolved into ``pools`` by
:mod:`.validation`) and the Service (``serviceSelectors``: empty selects every Service). It
announces from the nodes its ``nodeSelectors`` select (empty: every node); a BGPPeer runs on the
nodes its own ``nodeSelectors`` select, by the same rule (:func:`selected`).

Pure: the typed configuration only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar

from .addresses import IPAddress
from .config_model import Config
from .label_selectors import LabelSelector, matches_any
from .ownership import ServiceFacts
from .pools import PoolIndex


class Advertisement(Protocol):
    """What L2Advertisements and BGPAdvertisements have in common."""

    @property
    def pools(self) -> frozenset[str]:
        """The names of the pools the advertisement selects."""

    @property
    def service_selectors(self) -> tuple[LabelSelector, ...]:
        """The Services it selects by label; empty for every Service."""


AdvertisementT = TypeVar("AdvertisementT", bound=Advertisement)


def selected(selectors: tuple[LabelSelector, ...], labels: Mapping[str, str]) -> bool:
    """Return True when ``labels`` match one of ``selectors``, or there are none (MetalLB's rule)."""
    return not selectors or matches_any(selectors, labels)


def selecting(
    advertisements: Sequence[AdvertisementT], pool: str | None, service_labels: Mapping[str, str]
) -> list[AdvertisementT]:
    """The ``advertisements`` that select ``pool`` and a Service with ``service_labels``, in order."""
    if not pool:
        return []
    return [
        ad for ad in advertisements if pool in ad.pools and selected(ad.service_selectors, service_labels)
    ]


def pool_of_address(config: Config, service: ServiceFacts, ip: IPAddress) -> str | None:
    """The pool ``ip`` of ``service`` comes from.

    The controller's ``ip-allocated-from-pool`` annotation when that pool holds ``ip``, else
    the pool whose ranges hold it, else None.
    """
    for pool in config.pools:
        if pool.name == service.pool and any(ip in entry for entry in pool.ranges):
            return pool.name
    return PoolIndex(config.pools).pool_of(ip)
