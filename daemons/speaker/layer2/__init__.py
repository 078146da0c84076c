"""Layer-2 announcement of LoadBalancer IPs.

ARP and NDP on the wire, kernel-side filtering, and the responder that answers for the
addresses this node owns.

Plain standard-library Python; nothing here talks to Kubernetes.
"""
