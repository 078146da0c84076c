"""site.yml killed at a chosen task, run again, and the cluster's objects counted.

`run_site` runs ``playbooks/site.yml`` with the ``ansible.posix.jsonl`` callback, which writes one
JSON event per line as it happens (a task starting, a host's result, the recap), and can SIGKILL
the whole playbook (its process group: ansible-playbook, its forked workers and the modules they
run) a fixed delay after the N-th task has started, as a CI runner or an operator's Ctrl-C-and-
kill does. The N-th task start is a deterministic point of the task list; the delay lets the
module already be writing when the kill lands. `kill_points` spreads the points over the task
list of an uninterrupted run.

`objects` lists what the playbooks create, by kind and name, so a test can compare the cluster
after an interrupted and a resumed run with the cluster after an uninterrupted one: a duplicate
(a second Secret or Service) or an orphan (an object the declared configuration no longer names)
shows up as a difference. `reset` removes what the playbooks do work for (daemons, heartbeat
key, metallb.io configuration, exposed Services), so every point starts with tasks to do.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from kubernetes import client

from lab.ansible_env import VENV_BIN, ansible_env

REPO = Path(__file__).resolve().parents[1]
SITE = "playbooks/site.yml"
METALLB_NAMESPACE = "metallb-system"
GROUP = "metallb.io"
# The metallb.io kinds the config role writes (plural, version).
CONFIG_PLURALS = (
    "ipaddresspools",
    "l2advertisements",
    "bgpadvertisements",
    "bgppeers",
    "communities",
    "bfdprofiles",
)
CONFIG_VERSION = "v1beta1"
TASK_START = "v2_playbook_on_task_start"
ARGUMENT_CHECK = "Validating arguments against arg spec"  # the task Ansible adds to each role
HEARTBEAT_KEY = "memberlist"  # the speakers' Secret, created once by the install role
LOCAL_ACTIONS = ("debug", "set_fact", "assert")  # only compute or print on the controller
RUN_TIMEOUT = 900.0  # one whole site.yml run in the lab, rollouts and IP waits included


@dataclass
class Run:
    """One site.yml run: its exit status and the callback's events, in order."""

    returncode: int
    events: list[dict[str, Any]] = field(default_factory=list)
    killed_after: str | None = None  # the task in flight when the playbook was killed
    seconds: float = 0.0
    stderr: str = ""

    @property
    def started(self) -> list[str]:
        """The names of the tasks that started, in order (a looped task once)."""
        return [_task_name(e) for e in self.events if e.get("_event") == TASK_START]

    @property
    def changed_tasks(self) -> list[str]:
        """The tasks that reported a change on some host."""
        return [
            _task_name(e)
            for e in self.events
            if e.get("_event", "").startswith("v2_runner_on_ok")
            and any(result.get("changed") for result in e.get("hosts", {}).values())
        ]

    @property
    def working_tasks(self) -> set[str]:
        """The tasks that ran a module on some host: not skipped, not debug, set_fact or assert.

        Those finish at once and change nothing, so a kill aimed at them lands after them.
        """
        return {
            _task_name(e)
            for e in self.events
            if e.get("_event") in ("v2_runner_on_ok", "v2_runner_on_failed")
            and any(
                str(result.get("action", "")).rsplit(".", 1)[-1] not in LOCAL_ACTIONS
                for result in e.get("hosts", {}).values()
            )
        }

    @property
    def stats(self) -> dict[str, dict[str, int]]:
        """The play recap by host (empty when the run was killed)."""
        recaps = [e["stats"] for e in self.events if e.get("_event") == "v2_playbook_on_stats"]
        return recaps[-1] if recaps else {}

    def tail(self) -> str:
        """The last events and stderr, for an assertion message."""
        return "\n".join(json.dumps(e)[:600] for e in self.events[-8:]) + f"\n{self.stderr[-3000:]}"


def _task_name(event: Mapping[str, Any]) -> str:
    return str(event.get("task", {}).get("name", "?"))


def site_argv(kubeconfig: Path, extra: Sequence[str] = ()) -> list[str]:
    """ansible-playbook site.yml with the lab inventory against the lab behind ``kubeconfig``."""
    return [
        str(VENV_BIN / "ansible-playbook"),
        "-i",
        "inventories/lab",
        SITE,
        "-e",
        f"baremetal_lb_kubeconfig={kubeconfig}",
        *extra,
    ]


def run_site(
    argv: Sequence[str], kill_at: int | None = None, delay: float = 0.0, timeout: float = RUN_TIMEOUT
) -> Run:
    """Run ``argv`` (from `site_argv`), bounded by ``timeout``; return its events.

    With ``kill_at``, SIGKILL the playbook's process group ``delay`` seconds after the
    ``kill_at``-th task (0-based) has started.
    """
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        cwd=REPO,
        env=ansible_env(
            ANSIBLE_STDOUT_CALLBACK="ansible.posix.jsonl", ANSIBLE_FORCE_COLOR="0", PYTHONUNBUFFERED="1"
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    run = Run(returncode=-1)
    try:
        stderr = _follow(proc, run, kill_at, delay, started + timeout)
        run.returncode = proc.wait(timeout=max(1.0, started + timeout - time.monotonic()))
        run.stderr = stderr
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    run.seconds = time.monotonic() - started
    return run


def _follow(
    proc: subprocess.Popen[bytes], run: Run, kill_at: int | None, delay: float, deadline: float
) -> str:
    """Read the playbook's events into ``run`` until its output ends; kill it at the point; return stderr."""
    assert proc.stdout is not None and proc.stderr is not None
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    pending, errors = b"", b""
    kill_time: float | None = None
    with selectors.DefaultSelector() as selector:
        selector.register(out_fd, selectors.EVENT_READ)
        selector.register(err_fd, selectors.EVENT_READ)
        while selector.get_map():
            now = time.monotonic()
            if now > deadline:
                raise TimeoutError(f"site.yml ran past its {RUN_TIMEOUT:.0f}s bound:\n{run.tail()}")
            if kill_time is not None and now >= kill_time:
                run.killed_after = run.started[-1]
                os.killpg(proc.pid, signal.SIGKILL)
                kill_time = None
            for key, _mask in selector.select(
                timeout=0.5 if kill_time is None else max(0.0, kill_time - now)
            ):
                chunk = os.read(int(key.fd), 65536)
                if not chunk:
                    selector.unregister(key.fd)
                elif key.fd == err_fd:
                    errors += chunk
                else:
                    *lines, pending = (pending + chunk).split(b"\n")
                    run.events += [event for event in map(_parse, lines) if event is not None]
                    reached = kill_at is not None and len(run.started) > kill_at
                    if reached and kill_time is None and run.killed_after is None:
                        kill_time = time.monotonic() + delay
    return errors.decode(errors="replace")


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(line)
    except ValueError:  # a warning or other text on stdout
        return None
    return event if isinstance(event, dict) else None


def kill_points(tasks: Sequence[str], count: int, only: Collection[str] | None = None) -> list[int]:
    """``count`` indexes into ``tasks`` spread evenly, the same for the same task list.

    Candidates are the tasks named in ``only`` (e.g. those an uninterrupted run changed), or
    else every task but the implicit role argument checks (instant, nothing to interrupt); each
    point is the middle of one of ``count`` equal stretches of the candidates.
    """
    candidates = [
        index
        for index, name in enumerate(tasks)
        if (name in only if only is not None else ARGUMENT_CHECK not in name)
    ]
    count = min(count, len(candidates))
    return sorted({candidates[int((i + 0.5) * len(candidates) / count)] for i in range(count)})


# --- the cluster's objects ------------------------------------------------------------------


def objects(api: client.ApiClient, namespaces: Sequence[str]) -> dict[str, list[str]]:
    """What the playbooks create in ``namespaces``, as ``{"<kind> <namespace>": sorted names}``.

    The metallb.io configuration, Secrets (ServiceAccount tokens aside), ServiceAccounts,
    ConfigMaps, Services, Deployments, DaemonSets, live ReplicaSets, Roles and RoleBindings; pods
    as counts by component, since their names are generated.
    """
    core: Any = client.CoreV1Api(api)  # the client's models type every field Optional
    apps, rbac = client.AppsV1Api(api), client.RbacAuthorizationV1Api(api)
    custom: Any = client.CustomObjectsApi(api)
    found: dict[str, list[str]] = {}
    listers: dict[str, Callable[[str], Any]] = {
        "Secret": core.list_namespaced_secret,
        "ServiceAccount": core.list_namespaced_service_account,
        "ConfigMap": core.list_namespaced_config_map,
        "Service": core.list_namespaced_service,
        "Deployment": apps.list_namespaced_deployment,
        "DaemonSet": apps.list_namespaced_daemon_set,
        "ReplicaSet": apps.list_namespaced_replica_set,
        "Role": rbac.list_namespaced_role,
        "RoleBinding": rbac.list_namespaced_role_binding,
    }
    for namespace in namespaces:
        for kind, lister in listers.items():
            items = lister(namespace).items
            if kind == "Secret":
                items = [s for s in items if s.type != "kubernetes.io/service-account-token"]
            if kind == "ReplicaSet":
                items = [r for r in items if r.spec.replicas]
            found[f"{kind} {namespace}"] = sorted(i.metadata.name for i in items)
        for plural in CONFIG_PLURALS:
            found[f"{plural} {namespace}"] = sorted(
                o["metadata"]["name"] for o in _config(custom, namespace, plural)
            )
        pods: dict[str, int] = {}
        for pod in core.list_namespaced_pod(namespace).items:
            if pod.metadata.deletion_timestamp:
                continue
            component = (pod.metadata.labels or {}).get("component") or pod.metadata.generate_name or "?"
            pods[component] = pods.get(component, 0) + 1
        found[f"Pod {namespace}"] = sorted(f"{c} x{n}" for c, n in pods.items())
    return {k: v for k, v in found.items() if v}


def load_balancer_ips(api: client.ApiClient, namespaces: Sequence[str]) -> dict[str, list[str]]:
    """The ingress IPs of every LoadBalancer Service of ``namespaces``, by ``namespace/name``."""
    core: Any = client.CoreV1Api(api)
    ips: dict[str, list[str]] = {}
    for namespace in namespaces:
        for svc in core.list_namespaced_service(namespace).items:
            if svc.spec.type != "LoadBalancer":
                continue
            ingress = (svc.status.load_balancer and svc.status.load_balancer.ingress) or []
            ips[f"{namespace}/{svc.metadata.name}"] = sorted(str(i.ip) for i in ingress)
    return ips


def _config(custom: Any, namespace: str, plural: str) -> list[dict[str, Any]]:
    """The metallb.io objects of one kind in ``namespace``; none before the CRDs are installed."""
    try:
        return list(custom.list_namespaced_custom_object(GROUP, CONFIG_VERSION, namespace, plural)["items"])
    except client.ApiException as unknown:
        if unknown.status != 404:
            raise
        return []


def _delete(call: Callable[[], object]) -> None:
    try:
        call()
    except client.ApiException as gone:
        if gone.status != 404:
            raise


@contextmanager
def heartbeat_key_kept(api: client.ApiClient) -> Iterator[None]:
    """Put the speakers' memberlist Secret back as it was before (or remove it if there was none).

    `reset` deletes it so that site.yml creates it again; other tests of the same lab keep
    using the one they started with.
    """
    core: Any = client.CoreV1Api(api)
    try:
        saved = core.read_namespaced_secret(HEARTBEAT_KEY, METALLB_NAMESPACE)
    except client.ApiException as missing:
        if missing.status != 404:
            raise
        saved = None
    try:
        yield
    finally:
        _delete(partial(core.delete_namespaced_secret, HEARTBEAT_KEY, METALLB_NAMESPACE))
        if saved is not None:
            body = {"metadata": {"name": HEARTBEAT_KEY}, "type": saved.type, "data": saved.data}
            core.create_namespaced_secret(METALLB_NAMESPACE, body)


def reset(api: client.ApiClient, services: Sequence[tuple[str, str]], timeout: float = 120.0) -> None:
    """Remove what site.yml does work for; return once the daemons' pods are gone.

    That is the exposed ``services`` ((namespace, name)), the metallb.io configuration, the
    heartbeat key, the controller Deployment and the speaker DaemonSet. CRDs, the namespace and
    RBAC stay: re-applying them is the same work either way.
    """
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    custom: Any = client.CustomObjectsApi(api)
    for namespace, name in services:
        _delete(partial(core.delete_namespaced_service, name, namespace))
    for plural in CONFIG_PLURALS:
        for obj in _config(custom, METALLB_NAMESPACE, plural):
            args = (GROUP, CONFIG_VERSION, METALLB_NAMESPACE, plural, obj["metadata"]["name"])
            _delete(partial(custom.delete_namespaced_custom_object, *args))
    _delete(lambda: apps.delete_namespaced_deployment("controller", METALLB_NAMESPACE))
    _delete(lambda: apps.delete_namespaced_daemon_set("speaker", METALLB_NAMESPACE))
    _delete(partial(core.delete_namespaced_secret, HEARTBEAT_KEY, METALLB_NAMESPACE))
    deadline = time.monotonic() + timeout
    while core.list_namespaced_pod(METALLB_NAMESPACE, label_selector="app=metallb").items:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the daemons' pods were not gone {timeout:.0f}s after deleting them")
        time.sleep(0.5)


# --- one kill point, end to end ---------------------------------------------------------------


@dataclass
class Outcome:
    """One kill point: the killed run, the run that resumes, the third run, and the cluster after."""

    index: int
    task: str
    killed: Run
    resumed: Run
    third: Run
    objects: dict[str, list[str]]
    ips: dict[str, list[str]]


@dataclass(frozen=True)
class Lab:
    """Where site.yml runs and what it declares.

    The API client, the playbook command, the namespaces whose objects are compared and the
    Services it exposes ((namespace, name)).
    """

    api: client.ApiClient
    argv: tuple[str, ...]
    namespaces: tuple[str, ...]
    services: tuple[tuple[str, str], ...]


def reference(lab: Lab) -> tuple[Run, dict[str, list[str]]]:
    """An uninterrupted run from a reset cluster, and the objects it leaves."""
    reset(lab.api, lab.services)
    run = run_site(lab.argv)
    if run.returncode != 0:
        raise AssertionError(f"the uninterrupted site.yml failed ({run.returncode}):\n{run.tail()}")
    return run, objects(lab.api, lab.namespaces)


def interrupt_and_converge(lab: Lab, index: int, task: str, delay: float) -> Outcome:
    """Reset, run site.yml killed ``delay`` s after task ``index`` starts, then run it twice more."""
    reset(lab.api, lab.services)
    killed = run_site(lab.argv, kill_at=index, delay=delay)
    resumed = run_site(lab.argv)
    third = run_site(lab.argv)
    return Outcome(
        index=index,
        task=task,
        killed=killed,
        resumed=resumed,
        third=third,
        objects=objects(lab.api, lab.namespaces),
        ips=load_balancer_ips(lab.api, lab.namespaces),
    )


def problems(
    outcome: Outcome, expected: Mapping[str, list[str]], services: Sequence[tuple[str, str]]
) -> list[str]:
    """Every broken promise of one kill point, as sentences (none when it converged cleanly).

    The kill landed, the second run succeeded, the third changed nothing, the objects are those
    of an uninterrupted run (no duplicate, no orphan), and every exposed Service holds IPs no
    other Service holds.
    """
    found = []
    if outcome.killed.returncode != -signal.SIGKILL:
        found.append(f"the playbook ended ({outcome.killed.returncode}) before the kill at {outcome.task!r}")
    if outcome.resumed.returncode != 0:
        found.append(
            f"the run after the kill failed ({outcome.resumed.returncode}):\n{outcome.resumed.tail()}"
        )
    if outcome.third.returncode != 0:
        found.append(f"the third run failed ({outcome.third.returncode}):\n{outcome.third.tail()}")
    changed = {host: s.get("changed") for host, s in outcome.third.stats.items() if s.get("changed")}
    if changed:
        found.append(f"the third run changed {changed}: {outcome.third.changed_tasks}")
    for what in sorted(set(expected) | set(outcome.objects)):
        want, have = expected.get(what, []), outcome.objects.get(what, [])
        if want != have:
            found.append(f"{what}: {have} where an uninterrupted run leaves {want}")
    holders: dict[str, list[str]] = {}
    for service, ips in outcome.ips.items():
        for ip in ips:
            holders.setdefault(ip, []).append(service)
    found += [f"{ip} is held by {sorted(names)}" for ip, names in holders.items() if len(names) > 1]
    found += [
        f"{namespace}/{name} has no IP"
        for namespace, name in services
        if not outcome.ips.get(f"{namespace}/{name}")
    ]
    return found


def summary(outcome: Outcome) -> str:
    """One line: where the kill landed, how long each run took, what the resumed run changed."""
    changed = len(set(outcome.resumed.changed_tasks))
    return (
        f"kill at task {outcome.index} {outcome.task!r} (in flight: {outcome.killed.killed_after!r}): "
        f"killed after {outcome.killed.seconds:.1f}s, resumed {outcome.resumed.seconds:.1f}s "
        f"({changed} {'task' if changed == 1 else 'tasks'} changed), third {outcome.third.seconds:.1f}s"
    )
