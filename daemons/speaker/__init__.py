"""baremetal.lb speaker: announces LoadBalancer IPs, as MetalLB's speaker does (layer 2 today).

The Kubernetes half (:mod:`.app`) watches the cluster and hands every registered protocol
(:mod:`.registry`) the same situation through one small seam (:mod:`.handler`); each protocol
plans with its pure planner from ``plugins/module_utils`` and feeds its own timing-critical
process. Layer 2 (:mod:`.layer2`): the engine child process runs membership heartbeats
(:mod:`.membership`) and the ARP/NDP responder, fed JSON lines. See README.md here.
"""
