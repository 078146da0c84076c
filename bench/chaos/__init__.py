"""Chaos benches: faults injected into the real daemons, judged by the project's own rules.

``python -m bench.chaos.controller`` kills the controller with SIGKILL during Service churn
and checks, after each restart, that no address is duplicated, lost or changed.
"""
