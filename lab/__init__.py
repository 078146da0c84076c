"""The local lab: a real Kubernetes control plane and real networks in Linux namespaces.

One implementation serves `make lab-up`/`make demo`, the pytest fixtures and molecule.
"""
