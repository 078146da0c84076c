"""Apply a kube-proxy configuration edit to a cluster, restart kube-proxy, and undo a mode it cannot run.

The steps, each only when the one before changed something:

1. edit ``config.conf`` in the ConfigMap (:mod:`.kube_proxy_config`), leaving the mode alone when
   the ConfigMap records that the same switch failed before and nothing has changed since
   (:mod:`.kube_proxy_failure`);
2. restart the DaemonSet as ``kubectl rollout restart`` does (a new ``restartedAt`` annotation on
   the pod template), since kube-proxy reads its configuration only when it starts;
3. wait, bounded, until every node runs a Ready pod of the new template and they stay Ready for
   :data:`SETTLE_SECONDS` (:mod:`.rollout_wait`): kube-proxy's pods have no readiness probe, so a
   pod is Ready the moment its container starts, also one that exits a second later;
4. if the mode changed and a new pod's container exits instead (IPVS asked of a kernel without
   it), put the previous mode back, record the failure on the ConfigMap, restart and wait again,
   and report the failure with the node, the pod's log line and what the node lacks.

For the same reason a mode change restarts with ``minReadySeconds`` raised to
:data:`GUARD_SECONDS` (put back afterwards): the DaemonSet controller then replaces the next node's
pod only once the last new one has stayed Ready that long, so a node that cannot run the new mode
stops the rollout there instead of every node losing its Service rules within seconds.

In check mode (a server-side dry run) nothing is restarted; the outcome says whether it would be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

try:
    from kubernetes import client
except ImportError:  # modules report the missing library through kubernetes.core's requires()
    client = None

from .kube_proxy_config import CONFIG_KEY, Change, edit, parse, restore_mode
from .kube_proxy_failure import ANNOTATION, ModeFailure, crashed, failure_message, remembered_message
from .rollout_state import PodIssue
from .rollout_wait import NotRolledOut, Workload, last_log_line, wait

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
# How long the new pods must stay Ready once all are; kube-proxy checks its mode as it starts.
SETTLE_SECONDS = 5.0
GUARD_SECONDS = 5  # minReadySeconds while a mode change rolls out


@dataclass(frozen=True)
class Target:
    """Where kube-proxy's configuration and pods live."""

    namespace: str = "kube-system"
    configmap: str = "kube-proxy"
    daemonset: str = "kube-proxy"

    @property
    def configmap_name(self) -> str:
        """``namespace/name`` of the ConfigMap."""
        return f"{self.namespace}/{self.configmap}"


@dataclass(frozen=True)
class Request:
    """What the caller asks for (None leaves a setting alone) and how."""

    mode: str | None = None
    strict_arp: bool | None = None
    restart: bool = True
    wait: bool = True
    timeout: float = 300
    on_mode_failure: str = "fail"  # or "warn"; either way the previous mode is put back
    dry_run: str | None = None
    field_manager: str = "baremetal.lb"


class KubeProxyNotFound(LookupError):
    """The cluster has no kubeadm-style kube-proxy ConfigMap."""


@dataclass
class Outcome:
    """What the rollout did (or, in a dry run, would do)."""

    before: str
    after: str
    changes: tuple[Change, ...]
    rewritten: bool
    restarted: bool = False
    would_restart: bool = False
    rollout: dict[str, Any] | None = None
    failure: ModeFailure | None = None  # the new mode failed now; the previous one is back
    failure_message: str = ""
    remembered: ModeFailure | None = None  # the new mode failed before; left alone this time
    remembered_message: str = ""
    warnings: list[str] = field(default_factory=list)


def not_found_message(namespace: str, name: str) -> str:
    """Explain a missing ConfigMap the way an operator needs to hear it."""
    return (
        f"ConfigMap {namespace}/{name} not found: this cluster does not configure kube-proxy through a "
        "kubeadm-style ConfigMap (k3s, RKE2 and OpenShift configure it elsewhere or do not run it). "
        "Set kube-proxy's mode and ipvs.strictARP in your distribution's configuration, or skip this "
        "step (role variable kube_proxy_manage: false)."
    )


def configure(api: Any, target: Target, request: Request) -> Outcome:
    """Edit config.conf, restart and watch kube-proxy; see the module docstring for the steps.

    Raises :class:`KubeProxyNotFound` without a ConfigMap and :class:`NotRolledOut` when the
    rollout (or the one after a restore) is not done in time.
    """
    return _Run(api, target, request).run()


class _Run:
    """One call of :func:`configure`: the ConfigMap as read, and what was done to it."""

    def __init__(self, api: Any, target: Target, request: Request) -> None:
        self.api, self.target, self.request = api, target, request
        self.core = client.CoreV1Api(api)
        current = _read_configmap(self.core, target)
        meta = current.metadata
        self.text: str = current.data[CONFIG_KEY]
        self.annotations: dict[str, str] = (meta.annotations if meta else None) or {}
        self.version: str | None = meta.resource_version if meta else None
        self.daemonset = _read_daemonset(api, target)
        self.image = _image(self.daemonset)

    def run(self) -> Outcome:
        """Edit, write, restart, watch and, if the new mode fails, undo it."""
        request = self.request
        remembered = self._remembered()
        result = edit(self.text, mode=None if remembered else request.mode, strict_arp=request.strict_arp)
        outcome = Outcome(self.text, result.text, result.changes, result.rewritten, remembered=remembered)
        if remembered:
            where = self.target.configmap_name
            outcome.remembered_message = remembered_message(remembered, where, self._scheduler())
            if request.on_mode_failure == "fail":  # asked for what cannot be: change nothing
                outcome.after, outcome.changes = self.text, ()
                return outcome
        if not result.changes:
            return outcome
        if result.rewritten:
            outcome.warnings.append(f"{CONFIG_KEY} could not be edited line by line and was re-serialised")
        mode_changed = any(change.path == "mode" for change in result.changes)
        forget: dict[str, str | None] = {}
        if mode_changed and ANNOTATION in self.annotations:
            forget[ANNOTATION] = None
        self._write(result.text, forget)
        if request.restart:
            self._restart_and_watch(outcome, mode_changed)
        return outcome

    def _scheduler(self) -> str:
        return str((parse(self.text).get("ipvs") or {}).get("scheduler") or "")

    def _remembered(self) -> ModeFailure | None:
        """The recorded failure of the mode asked for, if asking again would fail the same way."""
        mode = self.request.mode
        remembered = ModeFailure.from_annotation(self.annotations.get(ANNOTATION))
        if remembered is None or not mode or parse(self.text).get("mode") == mode:
            return None
        kernels = {remembered.node: _kernel(self.core, remembered.node)}
        return remembered if remembered.still_holds(mode, self.image, kernels) else None

    def _write(self, text: str, annotations: dict[str, str | None]) -> None:
        """Write config.conf (and annotations) if the ConfigMap is still as read or last written."""
        metadata: dict[str, Any] = {"resourceVersion": self.version}
        if annotations:
            metadata["annotations"] = annotations
        patched = self.core.patch_namespaced_config_map(
            self.target.configmap,
            self.target.namespace,
            {"metadata": metadata, "data": {CONFIG_KEY: text}},
            dry_run=self.request.dry_run,
            field_manager=self.request.field_manager,
        )
        if not self.request.dry_run and patched.metadata:
            self.version = patched.metadata.resource_version

    def _restart_and_watch(self, outcome: Outcome, mode_changed: bool) -> None:
        if self.daemonset is None:
            outcome.warnings.append(_no_daemonset(self.target))
            return
        if self.request.dry_run:
            outcome.would_restart = True
            return
        original = self.daemonset.spec.min_ready_seconds if self.daemonset.spec else None
        # Only while the module watches: it puts minReadySeconds back once the rollout is over.
        guard = max(original or 0, GUARD_SECONDS) if mode_changed and self.request.wait else original
        workload = self._restart(guard)
        outcome.restarted = True
        if not self.request.wait:
            return
        give_up = (lambda rollouts: bool(crashed(rollouts))) if mode_changed else None
        try:
            rollouts = wait(self.api, workload, self.request.timeout, give_up=give_up, settle=SETTLE_SECONDS)
        finally:
            if guard != original:
                self._set_min_ready(original)
        exited = crashed(rollouts)
        if exited:
            self._undo(outcome, exited)
        else:
            outcome.rollout = rollouts[0].as_dict()

    def _undo(self, outcome: Outcome, exited: list[PodIssue]) -> None:
        """Put the previous mode back, remember the failure, restart and wait again."""
        previous = str(parse(self.text).get("mode") or "")
        failure = self._diagnose(exited[0], previous)
        restored = restore_mode(outcome.after, previous)
        self._write(restored.text, {ANNOTATION: failure.to_annotation()})
        outcome.after, outcome.failure = restored.text, failure
        outcome.changes = _net_changes(self.text, restored.text)
        workload = self._restart(None)
        try:
            rollouts = wait(self.api, workload, self.request.timeout, settle=SETTLE_SECONDS)
            outcome.rollout = rollouts[0].as_dict()
            restarted = f"restarted kube-proxy: {outcome.rollout['progress']}"
        except NotRolledOut as err:
            restarted = f"restarted kube-proxy, which has not recovered: {err}"
        where = self.target.configmap_name
        outcome.failure_message = failure_message(failure, where, restarted, self._scheduler())

    def _restart(self, min_ready_seconds: int | None) -> list[Workload]:
        """Restart the DaemonSet as `kubectl rollout restart` does: a new pod-template annotation.

        The stamp has microseconds, so a restart right after another still changes the template.
        Returns the DaemonSet to wait for.
        """
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        spec: dict[str, Any] = {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}
        if min_ready_seconds is not None:
            spec["minReadySeconds"] = min_ready_seconds
        self._patch_daemonset(spec)
        return [Workload("DaemonSet", self.target.namespace, self.target.daemonset)]

    def _set_min_ready(self, seconds: int | None) -> None:
        self._patch_daemonset({"minReadySeconds": seconds})

    def _patch_daemonset(self, spec: dict[str, Any]) -> Any:
        return client.AppsV1Api(self.api).patch_namespaced_daemon_set(
            self.target.daemonset,
            self.target.namespace,
            {"spec": spec},
            field_manager=self.request.field_manager,
        )

    def _diagnose(self, issue: PodIssue, previous: str) -> ModeFailure:
        """The failure record of a new pod that exited, with its log line and its node's kernel."""
        line = last_log_line(self.api, self.target.namespace, issue.pod, issue.container)
        return ModeFailure(
            mode=str(self.request.mode),
            previous_mode=previous,
            node=issue.node,
            kernel=_kernel(self.core, issue.node),
            image=self.image,
            pod=issue.pod,
            log_line=line or issue.describe(),
            time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )


def _read_configmap(core: Any, target: Target) -> Any:
    try:
        current = core.read_namespaced_config_map(target.configmap, target.namespace)
    except client.ApiException as err:
        if err.status == 404:
            raise KubeProxyNotFound(not_found_message(target.namespace, target.configmap)) from err
        raise
    if CONFIG_KEY not in (current.data or {}):
        raise KubeProxyNotFound(f"ConfigMap {target.configmap_name} has no {CONFIG_KEY} key")
    return current


def _net_changes(before: str, after: str) -> tuple[Change, ...]:
    """The changes from ``before`` to ``after`` when both have the same mode."""
    strict_arp = bool((parse(after).get("ipvs") or {}).get("strictARP", False))
    return edit(before, strict_arp=strict_arp).changes


def _read_daemonset(api: Any, target: Target) -> Any:
    """kube-proxy's DaemonSet, or None when there is none."""
    try:
        return client.AppsV1Api(api).read_namespaced_daemon_set(target.daemonset, target.namespace)
    except client.ApiException as err:
        if err.status == 404:
            return None
        raise


def _image(daemonset: Any) -> str:
    pod = daemonset.spec.template.spec if daemonset is not None and daemonset.spec else None
    return str(pod.containers[0].image) if pod and pod.containers else ""


def _kernel(core: Any, node: str) -> str:
    try:
        info = core.read_node(node).status.node_info
    except client.ApiException:
        return ""
    return str(info.kernel_version) if info else ""


def _no_daemonset(target: Target) -> str:
    return f"DaemonSet {target.namespace}/{target.daemonset} not found: restart kube-proxy to apply this"
