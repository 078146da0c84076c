"""baremetal.lb speaker: announces LoadBalancer IPs in layer 2 (ARP/NDP), as MetalLB's speaker does.

Two processes: the Kubernetes half (:mod:`.app`: watches, decisions that need the API,
Events, ServiceL2Status, metrics) and the timing-critical half (:mod:`.engine`: membership
heartbeats and the ARP/NDP responder), joined by a pipe of JSON lines (:mod:`.protocol`).
"""
