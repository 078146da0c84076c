"""What every protocol handler makes visible, built the same way for each.

A protocol's status writer and the :class:`.reporter.Reporter` that feeds it.
"""

from __future__ import annotations

from ansible_collections.baremetal.lb.plugins.module_utils.status_objects import StatusKind

from .handler import SpeakerContext
from .reporter import Reporter
from .service_status import ServiceStatusWriter


def status_and_reporter(
    context: SpeakerContext, protocol: str, where: str, kind: StatusKind
) -> tuple[ServiceStatusWriter, Reporter]:
    """A status writer of ``kind`` for this node, and a reporter for ``protocol`` writing through it.

    ``where`` is the protocol's word for where an IP is announced (``interfaces``, ``peers``).
    """
    options = context.options
    statuses = ServiceStatusWriter(context.api, options.namespace, options.node_name, kind=kind)
    reporter = Reporter(
        options.node_name,
        protocol=protocol,
        where=where,
        service=context.service,
        events=context.events,
        statuses=statuses,
        metrics=context.metrics,
    )
    return statuses, reporter
