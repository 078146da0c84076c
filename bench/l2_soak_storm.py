"""A bounded resync storm: writes that make every speaker re-plan, and cuts of their API
connections, none of which may move a VIP.

Round after round (one round every ``pause`` seconds, at most ``max_rounds``, never past the
deadline) the storm touches one kind of object the speakers watch, all of that kind at once,
with a change that means nothing for ownership:

* ``service``: an annotation on every soaked Service;
* ``endpointslice``: an annotation on every EndpointSlice of the soak's namespace;
* ``node``: a label no selector of the soak uses, on every node (removed at the end);
* ``pool`` and ``l2advertisement``: an annotation on the soak's metallb.io objects.

Every ``cut_every`` seconds it also cuts, with ``ss -K`` inside each node's namespace, every TCP
connection that speaker's main process (by its PID, nothing else's) holds to the API server:
its watches break and resume (``watch-cut``), its pending writes retry. Each write is one
merge-patch by the lab's admin; a failed one is counted in :attr:`ResyncStorm.errors`, never
retried in a loop. Nothing here touches an interface, a route or another process's sockets.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ansible_collections.baremetal.lb.daemons.kube.kubeapi import MERGE_PATCH
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import (
    IP_ADDRESS_POOL,
    L2_ADVERTISEMENT,
    MetallbKind,
)

TOUCH = "soak.baremetal.lb/touch"
"""The annotation (and, on Nodes, the label) the storm writes; its value is the round number."""
KINDS = ("service", "endpointslice", "node", "pool", "l2advertisement")
WATCH_CUT = "watch-cut"
_SS_SECONDS = 10.0
_ENDPOINT = re.compile(r"(\S+):(\d+)\s+(\S+):(\d+)")


@dataclass(frozen=True)
class StormTargets:
    """What the storm touches: the soak's own objects, every node, each speaker's main process."""

    namespace: str
    """The soak's namespace: its Services and their EndpointSlices."""
    services: Sequence[str]
    nodes: Sequence[str]
    pools: Sequence[str]
    advertisements: Sequence[str]
    speakers: Mapping[str, tuple[str, int]]
    """(network namespace, PID of the main process) of each speaker, by node."""
    api: tuple[str, int]
    """The API server's address and port as the speakers reach it."""
    config_namespace: str = "metallb-system"


def speaker_api_connections(netns: str, pid: int, api: tuple[str, int]) -> list[int]:
    """The local ports of the established TCP connections ``pid`` holds to ``api`` in ``netns``."""
    host, port = api
    listing = subprocess.run(
        ["ip", "netns", "exec", netns, "ss", "-tnpH", "state", "established", "dst", host,
         "dport", "=", f":{port}"],
        capture_output=True, text=True, timeout=_SS_SECONDS, check=True,
    ).stdout  # fmt: skip
    ports = []
    for line in listing.splitlines():
        endpoint = _ENDPOINT.search(line)
        if endpoint and f"pid={pid}," in line:
            ports.append(int(endpoint.group(2)))
    return ports


def cut_api_connections(netns: str, pid: int, api: tuple[str, int]) -> int:
    """Abort (``ss -K``) every connection of :func:`speaker_api_connections`; return how many."""
    ports = speaker_api_connections(netns, pid, api)
    if not ports:
        return 0
    host, port = api
    which: list[str] = []
    for local in ports:
        which += [*(["or"] if which else []), "sport", "=", f":{local}"]
    subprocess.run(
        ["ip", "netns", "exec", netns, "ss", "-K", "-tnH", "state", "established", "dst", host,
         "dport", "=", f":{port}", "(", *which, ")"],
        capture_output=True, text=True, timeout=_SS_SECONDS, check=True,
    )  # fmt: skip
    return len(ports)


class ResyncStorm:
    """The storm as a thread: :meth:`start`, then :meth:`stop` (which also removes its labels)."""

    def __init__(
        self,
        api: Any,
        targets: StormTargets,
        *,
        seconds: float,
        pause: float = 0.2,
        cut_every: float = 5.0,
    ) -> None:
        """Prepare a storm of at most ``seconds``; ``api`` is an admin KubeApi of the lab."""
        self._api = api
        self._targets = targets
        self._seconds = seconds
        self._pause = pause
        self._cut_every = cut_every
        self._max_rounds = int(seconds / pause) + 1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="resync-storm", daemon=True)
        self.rounds = 0
        self.actions: Counter[str] = Counter()
        """Writes (by kind) and watch cuts done."""
        self.connections_cut = 0
        self.errors: Counter[str] = Counter()
        """Actions that failed, by kind; each is tried once."""

    def start(self) -> ResyncStorm:
        """Begin the rounds in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """End the rounds (bounded wait), then remove the label from every node."""
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(30)
        for node in self._targets.nodes:
            self._patch("node-cleanup", f"/api/v1/nodes/{node}", {"metadata": {"labels": {TOUCH: None}}})

    def _run(self) -> None:
        deadline = time.monotonic() + self._seconds
        next_cut = time.monotonic() + self._cut_every
        touch: Mapping[str, Callable[[str], None]] = {
            "service": self._services,
            "endpointslice": self._slices,
            "node": self._nodes,
            "pool": lambda value: self._metallb("pool", IP_ADDRESS_POOL, self._targets.pools, value),
            "l2advertisement": lambda value: self._metallb(
                "l2advertisement", L2_ADVERTISEMENT, self._targets.advertisements, value
            ),
        }
        while self.rounds < self._max_rounds and time.monotonic() < deadline and not self._stop.is_set():
            touch[KINDS[self.rounds % len(KINDS)]](str(self.rounds))
            self.rounds += 1
            if time.monotonic() >= next_cut:
                self._cut()
                next_cut = time.monotonic() + self._cut_every
            self._stop.wait(self._pause)

    def _patch(self, kind: str, path: str, body: dict[str, Any]) -> None:
        try:
            self._api.request("PATCH", path, body=body, content_type=MERGE_PATCH, timeout=10)
        except Exception:  # a write lost to the load: counted, the next round writes again
            self.errors[kind] += 1
        else:
            self.actions[kind] += 1

    def _annotate(self, kind: str, path: str, value: str) -> None:
        self._patch(kind, path, {"metadata": {"annotations": {TOUCH: value}}})

    def _services(self, value: str) -> None:
        for name in self._targets.services:
            self._annotate("service", f"/api/v1/namespaces/{self._targets.namespace}/services/{name}", value)

    def _slices(self, value: str) -> None:
        collection = f"/apis/discovery.k8s.io/v1/namespaces/{self._targets.namespace}/endpointslices"
        try:
            names = [item["metadata"]["name"] for item in self._api.request("GET", collection)["items"]]
        except Exception:
            self.errors["endpointslice"] += 1
            return
        for name in names:
            self._annotate("endpointslice", f"{collection}/{name}", value)

    def _nodes(self, value: str) -> None:
        for node in self._targets.nodes:
            self._patch("node", f"/api/v1/nodes/{node}", {"metadata": {"labels": {TOUCH: value}}})

    def _metallb(self, kind: str, metallb: MetallbKind, names: Sequence[str], value: str) -> None:
        base = f"{metallb.api_path}/namespaces/{self._targets.config_namespace}/{metallb.plural}"
        for name in names:
            self._annotate(kind, f"{base}/{name}", value)

    def _cut(self) -> None:
        for netns, pid in self._targets.speakers.values():
            try:
                self.connections_cut += cut_api_connections(netns, pid, self._targets.api)
            except (OSError, subprocess.SubprocessError):
                self.errors[WATCH_CUT] += 1
            else:
                self.actions[WATCH_CUT] += 1
