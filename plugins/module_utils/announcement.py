"""Whether anybody announces a Service's addresses: the decision behind the unannounced warnings.

An address can be assigned from a pool that no advertisement announces: no L2Advertisement or
BGPAdvertisement selects the pool, the ones that do select other Services (``serviceSelectors``),
or the pool is announced over BGP only and there is no BGPPeer to announce it to (the legacy
converter makes exactly that from a BGP pool without peers). The Service then has an IP that
answers nowhere. :func:`unannounced` says why, or None; ``lb_info``, ``expose``, the controller
(an Event on the Service) and the speaker (a log line) all ask it.

Pure: standard library and the typed configuration only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .advertised import pool_of_address, selecting
from .bgp_plan import advertised_peers
from .config_model import Config
from .ownership import ServiceFacts


def unannounced(
    config: Config, pool: str | None, service_labels: Mapping[str, str] | None = None
) -> str | None:
    """Why the addresses a Service holds from ``pool`` are announced by nobody, or None.

    None also when some advertisement announces them, or when the pool is unknown;
    ``service_labels`` are the Service's labels, for advertisements' ``serviceSelectors``.

    Node selectors are not considered: which nodes exist is the speakers' business.
    """
    if not pool or pool not in {item.name for item in config.pools}:
        return None
    l2 = [ad for ad in config.l2_advertisements if pool in ad.pools]
    bgp = [ad for ad in config.bgp_advertisements if pool in ad.pools]
    if not l2 and not bgp:
        return f"no L2Advertisement or BGPAdvertisement selects pool {pool!r}"
    labels = service_labels or {}
    l2_selecting = selecting(l2, pool, labels)
    bgp_selecting = selecting(bgp, pool, labels)
    if not l2_selecting and not bgp_selecting:
        names = ", ".join(
            [f"L2Advertisement {ad.name!r}" for ad in l2] + [f"BGPAdvertisement {ad.name!r}" for ad in bgp]
        )
        return f"the advertisements of pool {pool!r} ({names}) select other Services by their labels"
    if l2_selecting or any(advertised_peers(config, ad) for ad in bgp_selecting):
        return None
    names = ", ".join(repr(ad.name) for ad in bgp_selecting)
    return f"pool {pool!r} is announced over BGP only (BGPAdvertisement {names}) and " + (
        "there is no BGPPeer" if not config.bgp_peers else "none of the BGPPeers it names exists"
    )


def describe(ips: Sequence[str], pool: str, reason: str) -> str:
    """The one sentence every place reports an unannounced address with."""
    return f"{', '.join(ips)} from pool {pool!r} is announced by no node: {reason}"


def unannounced_services(config: Config, services: Iterable[ServiceFacts]) -> dict[str, str]:
    """Service key -> :func:`describe` sentence, for the Services with addresses nobody announces.

    A Service's pool is the one its first address comes from (:func:`.advertised.pool_of_address`).
    """
    found = {}
    for service in services:
        if not service.ips:
            continue
        pool = pool_of_address(config, service, service.ips[0])
        reason = unannounced(config, pool, service.labels)
        if pool and reason:
            found[service.key] = describe([str(ip) for ip in service.ips], pool, reason)
    return found
