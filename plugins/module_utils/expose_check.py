"""Why the controller would refuse a Service that ``expose`` is about to write, and why it did.

Before anything is written, :func:`request_refusal` runs the controller's own allocator over the
pools and the addresses other Services hold, so a requested IP outside every pool, taken by a
Service it may not share with, or of the wrong family, fails the module at once. After the write,
:func:`allocation_failure` reads the controller's verdict from the Service's Events, and
:func:`answers_request` whether the addresses a Service shows are the controller's answer to
what this run asked for (not the ones it held before).

Pure data, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .addresses import parse_address
from .allocator import AllocationError, Allocator, PoolConfigError
from .metallb_kinds import cluster_resources
from .services import (
    ALLOCATION_FAILED,
    LOAD_BALANCER_FAILED,
    ServiceRequestError,
    allocated_pool,
    ingress_ips,
    service_from_manifest,
)
from .validation import parse_for_report

Manifest = Mapping[str, Any]
LOAD_BALANCER = "LoadBalancer"
# The reasons of the Warning Events the controller records when a Service gets no address.
FAILURE_REASONS = frozenset({ALLOCATION_FAILED, LOAD_BALANCER_FAILED})


def request_refusal(
    desired: Manifest,
    pool_objects: Sequence[Manifest],
    services: Sequence[Manifest],
    namespace_labels: Mapping[str, Mapping[str, str]],
) -> str | None:
    """Why the controller would refuse the IPs ``desired`` requests, or None.

    ``desired`` is the Service as the API server would store it (a dry run, so its IP families
    are known); ``pool_objects`` the IPAddressPools; ``services`` every Service, whose held
    addresses are taken first, as the controller does at start. The message names the option
    of module ``expose`` to change.
    """
    labels = namespace_labels.get(_namespace(desired), {})
    try:
        wanted = service_from_manifest(desired, labels)
    except ServiceRequestError as error:
        return f"load_balancer_ips: {error}"
    if not wanted.requested_ips:
        return None
    pools = parse_for_report(cluster_resources(pool_objects))[0].pools
    try:
        allocator = Allocator(pools)
    except PoolConfigError:
        return None  # the controller runs on its last valid configuration; it will say
    for other in services:
        held = ingress_ips(other)
        if not held or not _competes(other, desired) or _key(other) == _key(desired):
            continue
        try:
            allocator.assign(service_from_manifest(other, namespace_labels.get(_namespace(other), {})), held)
        except (AllocationError, ServiceRequestError):
            continue  # an address the controller would take away again does not block this one
    try:
        allocator.assign(wanted, wanted.requested_ips)
    except AllocationError as error:
        return f"load_balancer_ips: {str(error).removeprefix(wanted.key + ': ')}"
    return None


def latest_failure(
    events: Sequence[Manifest], service: Manifest, written_version: str | None = None
) -> Manifest | None:
    """The controller's Event saying it gives ``service`` no address, or None.

    An Event counts when it is about this object (``uid``: not a deleted namesake) and, when a
    run wrote the Service (``written_version``: the resourceVersion its write returned), about
    that version: the controller's own status write after a failure makes a newer version, so
    the Service as read now is not the one the Event names. The latest counting Event decides:
    a failure not followed by an ``IPAllocated``.
    """
    meta = service.get("metadata") or {}
    mine = [
        event
        for event in events
        if (event.get("involvedObject") or {}).get("uid") == meta.get("uid")
        and (
            written_version is None
            or (event.get("involvedObject") or {}).get("resourceVersion") == written_version
        )
        and event.get("reason") in {*FAILURE_REASONS, "IPAllocated"}
    ]
    if not mine:
        return None
    latest = max(mine, key=event_time)
    return latest if latest.get("reason") in FAILURE_REASONS else None


def allocation_failure(
    events: Sequence[Manifest], service: Manifest, written_version: str | None
) -> str | None:
    """``Reason: message`` of :func:`latest_failure`, or None."""
    failure = latest_failure(events, service, written_version)
    return f"{failure.get('reason')}: {failure.get('message')}" if failure else None


def answers_request(service: Manifest, requested_ips: Sequence[str], pool: str | None) -> bool:
    """Whether the addresses ``service`` holds answer a request for ``requested_ips`` from ``pool``.

    Right after a write the Service still shows what it held before; those addresses are the
    answer only when they include every requested IP and, when a pool is asked for, come from
    that pool (the controller's ``ip-allocated-from-pool`` annotation, written with them).
    """
    held = set(ingress_ips(service))
    if not held or any(parse_address(ip) not in held for ip in requested_ips):
        return False
    return not pool or allocated_pool(service) == pool


def event_time(event: Manifest) -> str:
    """When an Event last happened, as its ISO timestamp (compares in time order)."""
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


def _competes(other: Manifest, desired: Manifest) -> bool:
    """Whether ``other`` is a LoadBalancer of the same class, so the same controller holds its IPs."""
    spec, wanted = other.get("spec") or {}, desired.get("spec") or {}
    return spec.get("type") == LOAD_BALANCER and spec.get("loadBalancerClass") == wanted.get(
        "loadBalancerClass"
    )


def _namespace(obj: Manifest) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "default")


def _key(obj: Manifest) -> str:
    return f"{_namespace(obj)}/{(obj.get('metadata') or {}).get('name')}"
