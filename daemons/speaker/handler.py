"""The seam between the speaker and an announcement protocol (layer 2 today, BGP next).

The speaker (:mod:`.app`) watches Kubernetes and reduces what it sees to a :class:`Situation`:
the configuration, the Nodes' facts and the facts of every Service it serves that has ingress
IPs. Each protocol registered in :mod:`.registry` gets that situation through one
:class:`ProtocolHandler`, created once from a :class:`SpeakerContext`:

* ``start()`` once, from the main thread, after the first listing: start the protocol's
  timing-critical process (it must die with the main thread);
* ``apply(situation)`` after every change: plan with the protocol's pure planner (in
  ``plugins/module_utils/``) and hand the plan to the process; cheap when nothing changed;
* ``shutdown()`` on the way out: hand over (withdraw everything) and remove this node's
  status objects.

There is no per-IP ``announce``/``withdraw``: which node announces an IP can depend on state
only the protocol's process has (layer 2 ranks the *live* members of its own membership), so
the Kubernetes half hands over the whole plan and the process announces and withdraws on its
own clock. What it actually announces comes back as status: the handler passes it to a
:class:`.reporter.Reporter` created with the protocol's name, which logs it, records Events,
sets metrics and keeps the protocol's status objects current.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ansible_collections.baremetal.lb.plugins.module_utils.config_model import Config
from ansible_collections.baremetal.lb.plugins.module_utils.ownership import NodeFacts, ServiceFacts

from ..kube.events import EventRecorder
from ..kube.kubeapi import JSON, KubeApi
from .metrics import SpeakerMetrics
from .options import Options


@dataclass(frozen=True)
class Situation:
    """Everything a protocol's planner decides from, as the speaker sees it now."""

    config: Config
    nodes: Mapping[str, NodeFacts]  # every Node, by name
    services: Sequence[ServiceFacts]  # every served Service with ingress IPs (protocol-neutral facts)
    me: str  # this node's name
    ignore_exclude_label: bool = False
    drain_aware: bool = True  # layer 2: nodes being drained announce last (l2_plan.plan_service)


@dataclass(frozen=True)
class SpeakerContext:
    """What the speaker lends a protocol handler: options, the API and the shared outputs."""

    options: Options
    api: KubeApi
    nodes: Callable[[], list[JSON]]  # the Node objects as currently known
    service: Callable[[str], JSON | None]  # a Service by namespace/name, None when gone
    secret: Callable[[str], JSON | None]  # a Secret of the speaker's namespace by name, None when absent
    events: EventRecorder
    metrics: SpeakerMetrics
    stop: threading.Event  # set when the speaker stops
    retry: Callable[[str, Callable[[], Any]], Any]  # call until it succeeds or stop is set
    failed: Callable[[str, int], None]  # (what, exit status): the protocol's process died


class ProtocolHandler(Protocol):
    """One announcement protocol, as the speaker drives it."""

    name: str  # as MetalLB names it in Events and metrics: "layer2", "bgp"

    def start(self) -> str | None:
        """Start the protocol's process; a short description for the log, None when stopped first."""

    def apply(self, situation: Situation) -> None:
        """Plan for ``situation`` and hand the plan to the protocol's process."""

    def shutdown(self) -> None:
        """Withdraw everything, stop the process and remove this node's status objects."""
