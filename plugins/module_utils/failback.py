"""Layer-2 failback policy: whether a returning node takes its IPs back (MetalLB's rule) or not.

Set by the annotation :data:`FAILBACK_ANNOTATION` on an L2Advertisement (for the IPs it
announces) or on a Service (for its IPs, overriding the advertisements), so MetalLB's own
manifests and CRDs stay unchanged:

* ``revertive`` (the default, as MetalLB): when a node that ranks first for an IP returns or is
  uncordoned, the IP moves back to it, a second move after the failover;
* ``non-revertive``: the node that took the IP over keeps it until it fails, leaves, is drained
  or stops being a candidate (:func:`.ownership.announcer` with holders).

Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

FAILBACK_ANNOTATION = "baremetal.lb/failback"
REVERTIVE = "revertive"
NON_REVERTIVE = "non-revertive"
POLICIES = (REVERTIVE, NON_REVERTIVE)
FAILBACK_IGNORED = "FailbackIgnored"  # the controller's Event reason for a wrong Service annotation


def policy_problem(value: object) -> str | None:
    """What is wrong with an annotation value, or None when it names a policy."""
    if value in POLICIES:
        return None
    return f"{value!r} is not one of {', '.join(POLICIES)}"


def service_annotation_problem(annotations: Mapping[str, object] | None) -> str | None:
    """Why a Service's failback annotation is ignored, naming the fix; None when it is fine or absent."""
    value = (annotations or {}).get(FAILBACK_ANNOTATION)
    problem = None if value is None else policy_problem(value)
    if problem is None:
        return None
    return (
        f"annotation {FAILBACK_ANNOTATION}: {problem}, so its L2Advertisements' policy applies "
        f"({REVERTIVE} without one); set it to {NON_REVERTIVE} or {REVERTIVE}"
    )


def annotated_policy(annotations: Mapping[str, object] | None) -> str | None:
    """The policy an object's annotations name, or None when they name none (or a wrong one)."""
    value = (annotations or {}).get(FAILBACK_ANNOTATION)
    return value if isinstance(value, str) and policy_problem(value) is None else None


def effective_policy(service_policy: str | None, advertisement_policies: Iterable[str | None]) -> str:
    """The policy of an IP: the Service's, else the advertisements' announcing it.

    Without a Service policy the IP is non-revertive when any advertisement announcing it says
    so (an explicit ``revertive`` on another does not undo that), else revertive.
    """
    if service_policy is not None:
        return service_policy
    return NON_REVERTIVE if NON_REVERTIVE in advertisement_policies else REVERTIVE
