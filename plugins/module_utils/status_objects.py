"""The speakers' status objects: ServiceL2Status and ServiceBGPStatus, as MetalLB writes them.

Both kinds are one object per (Service, node) announcing it, with the same labels and the same
``status.node``/``serviceName``/``serviceNamespace``; they differ in the kind, the prefix of
the generated name and the list saying where the Service is announced: ``interfaces: [{name}]``
in layer 2, ``peers: [name]`` over BGP. :class:`StatusKind` holds that difference, so the
speaker's writer, the BGP plan and ``lb_info`` build and read the objects from one place.

Not in MetalLB: a layer-2 object may carry ``status.conditions``; :data:`ADDRESS_CONFLICT`
(status ``True``) says another host answers ARP/NDP for the Service's IP (:func:`conflict`).

Standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .metallb_kinds import (
    SERVICE_BGP_STATUS,
    SERVICE_L2_STATUS,
    STATUS_NODE_LABEL,
    STATUS_SERVICE_NAME_LABEL,
    STATUS_SERVICE_NAMESPACE_LABEL,
    MetallbKind,
)

ADDRESS_CONFLICT = "AddressConflict"  # condition type (and the speaker's Event reason)


def status_labels(service: str, node: str) -> dict[str, str]:
    """The labels of the object reporting ``service`` (``namespace/name``) from ``node``."""
    namespace, name = service.split("/", 1)
    return {
        STATUS_NODE_LABEL: node,
        STATUS_SERVICE_NAME_LABEL: name,
        STATUS_SERVICE_NAMESPACE_LABEL: namespace,
    }


def reported_service(obj: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """``(service namespace, service name, node)`` of a status object: its status, else its labels."""
    status = obj.get("status") or {}
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return (
        status.get("serviceNamespace") or labels.get(STATUS_SERVICE_NAMESPACE_LABEL),
        status.get("serviceName") or labels.get(STATUS_SERVICE_NAME_LABEL),
        status.get("node") or labels.get(STATUS_NODE_LABEL),
    )


@dataclass(frozen=True)
class StatusKind:
    """One kind of status object: what differs between ServiceL2Status and ServiceBGPStatus.

    ``where_field`` is the status list naming where the Service is announced; ``entry`` turns
    one such place (an interface or a BGPPeer name) into a list entry and ``name_of`` an entry
    back (None or empty: not a place).
    """

    metallb: MetallbKind
    generate_name: str
    where_field: str
    entry: Callable[[str], Any]
    name_of: Callable[[Any], Any]

    def status(self, service: str, node: str, where: Sequence[str]) -> dict[str, Any]:
        """The object's ``status``, field for field as MetalLB writes it; ``where`` sorted."""
        namespace, name = service.split("/", 1)
        return {
            "node": node,
            "serviceName": name,
            "serviceNamespace": namespace,
            self.where_field: [self.entry(place) for place in sorted(where)],
        }

    def where(self, status: Mapping[str, Any] | None) -> tuple[str, ...]:
        """Where a ``status`` says the Service is announced, sorted; () when it says nothing."""
        entries = (status or {}).get(self.where_field) or []
        return tuple(sorted(str(name) for name in map(self.name_of, entries) if name))


def _interface(name: str) -> dict[str, str]:
    return {"name": name}


def _interface_name(entry: Any) -> Any:
    return entry.get("name") if isinstance(entry, Mapping) else None


def _peer(name: str) -> str:
    return name


L2_STATUS_KIND = StatusKind(SERVICE_L2_STATUS, "l2-", "interfaces", _interface, _interface_name)
BGP_STATUS_KIND = StatusKind(SERVICE_BGP_STATUS, "bgp-", "peers", _peer, _peer)


def conflict(status: Mapping[str, Any] | None) -> str | None:
    """The message of a status's true :data:`ADDRESS_CONFLICT` condition, or None."""
    for entry in (status or {}).get("conditions") or ():
        if not isinstance(entry, Mapping):
            continue
        if entry.get("type") == ADDRESS_CONFLICT and entry.get("status") == "True":
            return str(entry.get("message") or ADDRESS_CONFLICT)
    return None
