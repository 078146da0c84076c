"""Layer-2 announcement of LoadBalancer IPs: the speaker's ``layer2`` protocol.

:mod:`.handler` plugs layer 2 into the speaker's seam: it plans with ``l2_plan`` and feeds the
engine child process (:mod:`.engine`, through :mod:`..engine_process` and the JSON lines of
:mod:`.engine_messages`), which runs the membership and the responder that answers ARP and NDP
for the addresses this node owns (:mod:`.responder`, with :mod:`.arp`, :mod:`.ndp`, kernel-side
filters in :mod:`.bpf`). :mod:`..service_status` writes the ServiceL2Status objects, :mod:`.metrics`
keeps the layer-2 counters. Only the handler and the status writer talk to Kubernetes; the engine does not.
"""
