"""Write each IPAddressPool's status counters, as MetalLB's controller does.

``status`` holds ``assignedIPv4``, ``assignedIPv6``, ``availableIPv4`` and ``availableIPv6``:
addresses of the pool that Services hold (a shared address counts once) and addresses still
free. Like MetalLB, a family of 2^62 addresses or more (any IPv6 /66 or wider) counts as the
int64 maximum, so a /64 pool shows ``availableIPv6: 9223372036854775807`` minus what is assigned.
The counts come from the allocator's running totals; no pool is ever enumerated.

The reconciler publishes the counters after every change; one thread writes them, at most once
per pool per ``interval`` and only when they differ from what the pool object shows, so a burst
of 10,000 allocations costs a few writes per pool, not 10,000.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from ansible_collections.baremetal.lb.plugins.module_utils.allocator import PoolUsage
from ansible_collections.baremetal.lb.plugins.module_utils.pool_state import FamilyUsage

from ..kube.backoff import Backoff
from ..kube.config_loader import configured_part
from ..kube.informer import Informer
from ..kube.kubeapi import JSON, MERGE_PATCH, ApiError, KubeApi

INT64_MAX = 2**63 - 1
"""What a status counter shows for a family too large to count (the CRD's fields are int64)."""

_UNCOUNTABLE = 2**62
"""MetalLB reports any CIDR of this many addresses or more as :data:`INT64_MAX`."""

log = logging.getLogger(__name__)


def pool_status(usage: PoolUsage) -> dict[str, int]:
    """Return the ``status`` of an IPAddressPool whose addresses are used as ``usage`` says."""
    return {
        "assignedIPv4": usage.ipv4.in_use,
        "assignedIPv6": usage.ipv6.in_use,
        "availableIPv4": _available(usage.ipv4),
        "availableIPv6": _available(usage.ipv6),
    }


def _available(family: FamilyUsage) -> int:
    capacity = INT64_MAX if family.total >= _UNCOUNTABLE else family.total
    return max(int(capacity - family.in_use), 0)


class PoolStatusWriter:
    """Coalesced, change-only writes of the pools' status counters."""

    def __init__(self, api: KubeApi, pools: Informer, interval: float = 1.0) -> None:
        self._api = api
        self._pools = pools
        self._interval = interval
        self._wanted: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._backoff = Backoff()
        self._retry_in = 0.0

    def start(self) -> None:
        """Start the writer thread."""
        threading.Thread(target=self._run, name="pool-status", daemon=True).start()

    def publish(self, usage: Mapping[str, PoolUsage]) -> None:
        """Make every pool of ``usage`` show its counters (written soon, in the background)."""
        wanted = {name: pool_status(pool) for name, pool in usage.items()}
        with self._lock:
            self._wanted = wanted
        self._wake.set()

    def write_changed(self) -> list[str]:
        """Write every pool whose object shows other counters than wanted; return their names."""
        with self._lock:
            wanted = dict(self._wanted)
        namespace = self._pools.resource.namespace or ""
        written = []
        for name, status in sorted(wanted.items()):
            pool = self._pools.get(f"{namespace}/{name}")
            if pool is None or _shows(pool, status):
                continue
            if self._write(namespace, name, status):
                written.append(name)
        return written

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            self.write_changed()
            # The coalescing window (later changes wait for one write), or the wait after a failure.
            time.sleep(max(self._interval, self._retry_in))
            self._retry_in = 0.0

    def _write(self, namespace: str, name: str, status: dict[str, int]) -> bool:
        path = self._pools.resource.item(namespace, name, "status")
        try:
            answer = self._api.request("PATCH", path, body={"status": status}, content_type=MERGE_PATCH)
        except Exception as error:  # a refusal, a 5xx or a dropped connection
            if isinstance(error, ApiError) and error.not_found:
                return False  # the pool is gone: nothing to show
            self._retry_in = self._backoff.next_delay()
            log.warning(
                "writing status of pool %s failed: %s; retrying in %.1fs (attempt %d)",
                name,
                error,
                self._retry_in,
                self._backoff.attempts,
                extra={"pool": name, "attempt": self._backoff.attempts},
            )
            self._wake.set()
            return False
        self._backoff.reset()
        cached = self._pools.get(f"{namespace}/{name}")
        if cached is not None and configured_part(cached) == configured_part(answer):
            self._pools.store(answer)  # only our status changed: no need to write it again
        # Otherwise someone edited the pool since the watch last said: the answer must not
        # replace the cached pool, or the watch's event of that edit would look like no change
        # and the new configuration would never load. The watch brings both soon.
        log.info(
            "pool %s: %d IPv4 and %d IPv6 addresses assigned",
            name,
            status["assignedIPv4"],
            status["assignedIPv6"],
            extra={"pool": name, **status},
        )
        return True


def _shows(pool: JSON, status: Mapping[str, int]) -> bool:
    shown = pool.get("status") or {}
    return all(shown.get(field) == value for field, value in status.items())
