"""When kube-proxy cannot run the mode it was switched to: what to tell, and what to remember.

kube-proxy checks its mode only when it starts. Asked for IPVS on a kernel without ``ip_vs`` it
first removes the rules of the mode it leaves (nftables), then exits with "can't use the IPVS
proxier", so the node forwards no Service traffic until kube-proxy runs again in a mode it can.
The kube_proxy module therefore restarts kube-proxy, watches the new pods, and when one of them
exits, restores the previous mode, restarts kube-proxy again and records the failure on the
ConfigMap (annotation :data:`ANNOTATION`), so that a later run asking for the same mode on the
same kernel with the same kube-proxy image does not break the node again. Everything here is
pure: the record, whether it still holds, and the messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from .rollout_state import PodIssue, Rollout

ANNOTATION = "baremetal.lb/kube-proxy-mode-failure"

_IPVS_REFUSED = "can't use the IPVS proxier"


@dataclass(frozen=True)
class ModeFailure:
    """A mode kube-proxy could not run on a node, as recorded on the ConfigMap."""

    mode: str  # the mode asked for
    previous_mode: str  # the mode put back ("" when it was unset)
    node: str
    kernel: str  # the node's status.nodeInfo.kernelVersion
    image: str  # kube-proxy's image
    pod: str
    log_line: str  # the pod's last error line, e.g. "... can't use the IPVS proxier: ..."
    time: str  # when it was seen, RFC 3339

    def to_annotation(self) -> str:
        """The annotation's value: the record as JSON."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_annotation(cls, value: str | None) -> ModeFailure | None:
        """The record in an annotation's value; None when absent or not one of ours."""
        try:
            fields = json.loads(value or "")
            return cls(**{name: str(fields[name]) for name in cls.__dataclass_fields__})
        except (ValueError, TypeError, KeyError):
            return None

    def still_holds(self, mode: str | None, image: str, kernels: Mapping[str, str]) -> bool:
        """True when asking for ``mode`` again would fail the same way: same mode, image and kernel."""
        return mode == self.mode and image == self.image and kernels.get(self.node) == self.kernel

    def why(self, scheduler: str = "") -> str:
        """What the node lacks, as far as the log line tells."""
        if _IPVS_REFUSED not in self.log_line:
            return f"kube-proxy exited in {self.mode} mode"
        modules = f"the kernel modules ip_vs and ip_vs_{scheduler or 'rr'}"
        if "ipset" in self.log_line:
            return (
                "kube-proxy's IPVS mode needs the ipset tool in kube-proxy's image, which failed "
                f"before the kernel was even asked, and {modules}"
            )
        return (
            f"the kernel cannot do IPVS: kube-proxy's IPVS mode needs {modules} "
            "(`modprobe ip_vs` on the node, or a kernel built with CONFIG_IP_VS)"
        )


def crashed(rollouts: Sequence[Rollout]) -> list[PodIssue]:
    """The issues of new pods whose container has exited at least once."""
    return [issue for each in rollouts for issue in each.issues if issue.crashed]


def failure_message(failure: ModeFailure, where: str, restored: str, scheduler: str = "") -> str:
    """Say what failed, on which node and why, what was put back, and how to try again."""
    line = failure.log_line or "(no log line)"
    return (
        f"kube-proxy cannot run in {failure.mode} mode on node {failure.node} (kernel {failure.kernel}): "
        f"its new pod {failure.pod} exited: {line}. {_capital(failure.why(scheduler))}. "
        f"Restored mode {failure.previous_mode or '(unset)'} in ConfigMap {where} and {restored}. "
        f"{_retry_hint(failure, where)}"
    )


def remembered_message(failure: ModeFailure, where: str, scheduler: str = "") -> str:
    """Say why the mode is left alone this time."""
    return (
        f"Not switching kube-proxy to {failure.mode} mode: at {failure.time} it could not run on node "
        f"{failure.node} (kernel {failure.kernel}, image {failure.image}): "
        f"{failure.log_line or '(no log line)'}. "
        f"{_capital(failure.why(scheduler))}. Mode stays {failure.previous_mode or '(unset)'}. "
        f"{_retry_hint(failure, where)}"
    )


def _retry_hint(failure: ModeFailure, where: str) -> str:
    return (
        f"Later runs leave the mode alone while that node's kernel and kube-proxy's image stay the same; "
        f"to try again sooner, remove the annotation {ANNOTATION} from ConfigMap {where}."
    )


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
