"""Faults on the shipped speaker in the real lab, one trial each, judged as the client and the
routers see them.

:func:`serve` sets the stage: the controller and a speaker per node (tests/lab harnesses), one
Deployment ``web``, per node one layer-2 Service whose requested IP MetalLB's rule gives that node
(so every node owns exactly one VIP), and one BGP Service announced by every node to BIRD, FRR and
GoBGP. Each fault function runs one trial on that stage and returns a :class:`~.tally.Trial`: the
figures it measured and the promises it saw broken. Every wait is bounded and names what it
waited for; whatever a fault takes away (a speaker, a cable, the API server, a router) is put back
in a ``finally``. Used by bench/chaos/speaker.py (many trials) and tests/lab/test_speaker_chaos.py
(one of each).

The client's view comes from a 10 ms ARP prober in the client namespace (bench/l2_failover_bench.py's
``Watch``): an outage is the longest silence around the fault (:func:`speaker_harness.handover`),
a return the longest silence from the restore on (:func:`l2_failover_bench.failback_outage`), a
double announcement the longest span two nodes answered at once (:mod:`.wire_judge`).
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ansible_collections.baremetal.lb.daemons.kube.backoff import CAP_SECONDS
from ansible_collections.baremetal.lb.plugins.module_utils.services import (
    ADDRESS_POOL,
    LOAD_BALANCER_IPS,
    annotation,
)
from bench.l2_failover_bench import Watch, failback_outage
from lab import daemon_restart, lifecycle, nodes
from lab.state import LabState
from tests.lab.bgp_harness import POOL as BGP_POOL
from tests.lab.bgp_harness import ROUTE_WAIT, BGPConfig, every_router_via, next_hops, node_ips, sessions_up
from tests.lab.controller_harness import Cluster, service_manifest, unique, wait_for
from tests.lab.speaker_harness import (
    POOL4,
    UNPLANNED_LIMIT,
    L2Config,
    Speakers,
    handover,
    predicted_owner,
)

from . import wire_judge
from .tally import Trial

FAILOVER_WINDOW = 3.0  # seconds another node has to answer after the owner is gone
RETURN_LIMIT = 3.0  # seconds a returning node (speaker synced, cable in) has to answer again
ALONE = 0.3  # seconds a node must have answered alone to count as the VIP's only owner
LEAD_TIMEOUT = 10.0  # seconds for the owner to be seen answering before a fault
RESYNC_LIMIT = CAP_SECONDS + 14.0  # after the API server returns: every watch retried, then served
ROUTER_LIMIT = 30.0  # seconds for a restarted router's sessions and routes to be back
API_OUTAGE = 60.0  # seconds the API server stays stopped (the figure)
API_FAULT = "API server stopped"
SETTLE_INTERVAL = 0.05  # seconds between a settling prober's requests (a trial's probers ask every 10 ms)
SETTLE_TIMEOUT = 60.0  # seconds for the stage to be as a trial expects it (after the API server's
# return the controller-manager may mark nodes NotReady and their pods unready for a while)
WATCH_SECONDS = 150.0  # a prober's own end, a bound; every phase ends on what it saw
APP = "web"


@dataclass
class Stage:
    """The lab, its speakers and the Services the faults act on."""

    lab: LabState
    cluster: Cluster
    l2: L2Config
    speakers: Speakers
    namespace: str
    l2_pool: str
    l2_ips: dict[str, str]  # the VIP MetalLB's rule gives each node, by node (Service with pods)
    api_ips: dict[str, str]  # the same, of Services whose endpoints are written here (see serve)
    bgp_ip: str

    @property
    def nodes(self) -> set[str]:
        """Every node of the lab."""
        return set(self.lab.nodes)


def owned_ips(among: set[str], wanted: set[str], taken: set[str]) -> dict[str, str]:
    """For each node of ``wanted``, a free IP of the layer-2 pool that MetalLB's rule over ``among``
    gives that node."""
    chosen: dict[str, str] = {}
    for address in ipaddress.ip_network(POOL4).hosts():
        ip = str(address)
        owner = predicted_owner([ip], among)
        if ip not in taken and owner in wanted and owner not in chosen:
            chosen[owner] = ip
        if len(chosen) == len(wanted):
            return chosen
    raise AssertionError(f"the pool {POOL4} has no free IP for each of {sorted(wanted)}")


def _l2_service(name: str, pool: str, ip: str, selector: dict[str, str] | None) -> dict[str, Any]:
    annotations = {annotation(ADDRESS_POOL): pool, annotation(LOAD_BALANCER_IPS): ip}
    return service_manifest(name, annotations=annotations, selector=selector)


def serve(
    lab: LabState,
    *,
    cluster: Cluster,
    l2: L2Config,
    bgp: BGPConfig,
    start_controller: Callable[[], Any],
    speakers: Speakers,
    namespace: str,
) -> Stage:
    """Pools, advertisements, peers, the controller, the speakers and the Services; returns once
    every layer-2 VIP is answered by its owner alone and every router holds the BGP Service's
    route via every node."""
    l2_pool = cluster.create_pool(unique("chaos-l2"), [POOL4], autoAssign=False)
    l2.advertise(unique("chaos-l2"), ipAddressPools=[l2_pool])
    bgp_pool = cluster.create_pool(unique("chaos-bgp"), [BGP_POOL], autoAssign=False)
    bgp.peer_every_router()
    bgp.advertise(bgp_pool)
    start_controller()
    speakers.start()
    l2.deploy(namespace, APP)
    nodes = set(lab.nodes)
    ips = owned_ips(nodes, nodes, set())
    api_ips = owned_ips(nodes, nodes, set(ips.values()))
    for node, ip in ips.items():
        cluster.create_service(namespace, _l2_service(f"l2-{node}", l2_pool, ip, {"app": APP}))
    for node, ip in api_ips.items():
        cluster.create_service(namespace, _l2_service(f"api-{node}", l2_pool, ip, None))
        l2.endpoint_slice(namespace, f"api-{node}", lab.nodes)
    bgp_service = service_manifest(
        "bgp", annotations={annotation(ADDRESS_POOL): bgp_pool}, selector={"app": APP}
    )
    cluster.create_service(namespace, bgp_service)
    for prefix, wanted in (("l2", ips), ("api", api_ips)):
        for node, ip in wanted.items():
            assert cluster.wait_ips(namespace, f"{prefix}-{node}") == [ip], (
                f"{prefix}-{node} did not get {ip}"
            )
    bgp_ip = cluster.wait_ips(namespace, "bgp")[0]
    stage = Stage(lab, cluster, l2, speakers, namespace, l2_pool, ips, api_ips, bgp_ip)
    settle(stage)
    return stage


def settle(stage: Stage, timeout: float = SETTLE_TIMEOUT) -> None:
    """Wait until every layer-2 VIP is answered by its owner alone and every router holds the BGP
    Service's route via every node: the stage as a trial expects it."""
    _wait_alone(stage, {ip: owner for owner, ip in [*stage.l2_ips.items(), *stage.api_ips.items()]}, timeout)
    wait_for(
        f"every router to hold {stage.bgp_ip} via every node",
        functools.partial(every_router_via, stage.lab, stage.bgp_ip, node_ips(stage.lab, stage.nodes)),
        timeout,
    )


# -- what the client sees -------------------------------------------------------------------------


def _answered(who: Callable[[str], bool], since: float) -> Callable[[list[wire_judge.Reply]], bool]:
    return lambda replies: any(t > since and who(node) for t, node in replies)


def _alone(owner: str, since: float) -> Callable[[list[wire_judge.Reply]], bool]:
    return lambda replies: wire_judge.alone_for(replies, owner, since) >= ALONE


def _wait_alone(stage: Stage, owners: dict[str, str], timeout: float) -> None:
    """Wait until each VIP of ``owners`` (VIP: node) is answered by its node alone, all watched at
    once by probers of their own; the failure names the VIPs that were not and who answered."""
    deadline = time.monotonic() + timeout
    watches = {ip: Watch(stage.lab, ip, timeout + 5, SETTLE_INTERVAL) for ip in owners}
    try:
        late: dict[str, str] = {}
        for ip, owner in owners.items():
            if not watches[ip].until(_alone(owner, 0.0), deadline):
                now = time.monotonic()
                last = sorted(wire_judge.answered_by(watches[ip].replies(), now - 1, now))
                late[ip] = f"{owner} expected, {last} answered"
    finally:
        for watch in watches.values():
            watch.close()
    assert not late, f"timed out after {timeout:.0f}s waiting for VIPs answered by their owner alone: {late}"


@contextlib.contextmanager
def _watching(stage: Stage, vip: str, owner: str, seconds: float = WATCH_SECONDS) -> Iterator[Watch]:
    """A prober on ``vip`` once ``owner`` is seen answering; closed afterwards."""
    watch = Watch(stage.lab, vip, seconds)
    try:
        if not watch.until(_answered(lambda who: who == owner, 0.0), time.monotonic() + LEAD_TIMEOUT):
            raise AssertionError(f"{owner} did not answer for {vip} within {LEAD_TIMEOUT:.0f} s")
        yield watch
    finally:
        problem = watch.close()
    if problem is not None:  # the body's verdicts stand on a prober that ran to the end
        raise AssertionError(problem)


def _failover(trial: Trial, watch: Watch, owner: str, following: str, act: Callable[[], object]) -> float:
    """Act on the owner; record the client's outage and that ``following`` took over. Returns when."""
    at = time.monotonic()
    act()
    watch.until(_answered(lambda who: who != owner, at), at + FAILOVER_WINDOW)
    outage, new = handover(watch.replies(), at, owner)
    trial.figures["outage"] = outage
    trial.check(new == following, f"{following} takes over from {owner} (answered: {new})")
    trial.check(outage <= UNPLANNED_LIMIT, f"outage {outage:.3f} s <= {UNPLANNED_LIMIT} s")
    return at


def _return(trial: Trial, watch: Watch, owner: str, restore: Callable[[], object]) -> None:
    """Restore the owner; record the longest silence from the restore on and the longest double
    announcement, and that the owner alone answers again within the bound."""
    at = time.monotonic()
    restore()
    restored = time.monotonic()
    back = watch.until(_alone(owner, restored), restored + RETURN_LIMIT + ALONE)
    replies = watch.replies()
    gap, _answered_again = failback_outage(replies, at, owner, time.monotonic())
    trial.figures["return gap"] = gap
    trial.figures["doubled"] = wire_judge.longest_doubled([r for r in replies if r[0] > at])
    trial.check(back, f"{owner} alone answers within {RETURN_LIMIT} s of its return")
    trial.check(gap <= UNPLANNED_LIMIT, f"return gap {gap:.3f} s <= {UNPLANNED_LIMIT} s")
    trial.check(
        trial.figures["doubled"] <= UNPLANNED_LIMIT,
        f"two nodes answered at once for {trial.figures['doubled']:.3f} s <= {UNPLANNED_LIMIT} s",
    )


def _victim(stage: Stage, trial: Trial) -> str:
    """The node a trial acts on: every node in turn."""
    return sorted(stage.nodes)[trial.number % len(stage.nodes)]


def _running(stage: Stage, node: str) -> None:
    """Start the node's speaker again if a failed trial left it stopped."""
    speaker = stage.speakers[node]
    if speaker.process is None or speaker.process.poll() is not None:
        speaker.start()


# -- the faults -----------------------------------------------------------------------------------


def kill_l2_owner(stage: Stage, trial: Trial) -> None:
    """``kill -9`` of the speaker (both processes) that owns a VIP, then its restart."""
    owner = _victim(stage, trial)
    vip, following = stage.l2_ips[owner], predicted_owner([stage.l2_ips[owner]], stage.nodes - {owner})
    try:
        with _watching(stage, vip, owner) as watch:
            _failover(trial, watch, owner, following, stage.speakers[owner].crash)
            _return(trial, watch, owner, stage.speakers[owner].start)
    finally:
        _running(stage, owner)


def kill_bgp_speaker(stage: Stage, trial: Trial) -> None:
    """``kill -9`` of one node's speaker: its paths leave every router, the others' never do;
    after a restart its paths are back."""
    victim = _victim(stage, trial)
    everyone = node_ips(stage.lab, stage.nodes)
    rest = node_ips(stage.lab, stage.nodes - {victim})
    missing: list[str] = []

    def routes_after(action: Callable[[], object], via: frozenset[str], what: str) -> float:
        """Act, then wait until every router holds the route via exactly ``via``, noting every
        look at which a router lacked one of the other nodes' paths; seconds from the act."""

        def look() -> bool:
            hops = next_hops(stage.lab, stage.bgp_ip)
            missing.extend(f"{router} lacked {sorted(rest - h)}" for router, h in hops.items() if rest - h)
            return all(h == via for h in hops.values())

        at = time.monotonic()
        action()
        wait_for(f"every router to hold {stage.bgp_ip} {what}", look, ROUTE_WAIT, 0.05)
        return time.monotonic() - at

    try:
        speaker = stage.speakers[victim]
        trial.figures["withdrawn"] = routes_after(speaker.crash, rest, f"without the path via {victim}")
        trial.figures["routes back"] = routes_after(speaker.start, everyone, f"via {victim} again")
        trial.check(not missing, f"the other nodes' paths stay on every router ({missing[:3]})")
    finally:
        _running(stage, victim)


def link_flap(stage: Stage, trial: Trial) -> None:
    """The owner's cable pulled at the switch until another node answers, then put back."""
    owner = _victim(stage, trial)
    vip, following = stage.l2_ips[owner], predicted_owner([stage.l2_ips[owner]], stage.nodes - {owner})
    plugged = True
    try:
        with _watching(stage, vip, owner) as watch:
            plugged = False
            _failover(trial, watch, owner, following, lambda: stage.lab.set_cable(owner, plugged=False))
            plugged = True
            _return(trial, watch, owner, lambda: stage.lab.set_cable(owner, plugged=True))
    finally:
        if not plugged:
            stage.lab.set_cable(owner, plugged=True)


def node_return(stage: Stage, trial: Trial) -> None:
    """A node goes away (its speaker stopped in odd trials, its cable pulled in even ones) and
    comes back: watched on every VIP, it takes back exactly the VIP the rule gives it, the others
    stay where they are, and no VIP is answered by two nodes for longer than the failover bound."""
    stopped = trial.number % 2 == 1
    trial.detail = "speaker stopped" if stopped else "link down"
    node = _victim(stage, trial)
    speaker = stage.speakers[node]
    pull = functools.partial(stage.lab.set_cable, node, plugged=False)
    plug = functools.partial(stage.lab.set_cable, node, plugged=True)
    leave: Callable[[], object] = speaker.stop if stopped else pull
    back: Callable[[], object] = speaker.start if stopped else plug
    watches = {ip: Watch(stage.lab, ip, WATCH_SECONDS) for ip in stage.l2_ips.values()}
    away = False
    try:
        for owner, ip in stage.l2_ips.items():
            if not watches[ip].until(_alone(owner, 0.0), time.monotonic() + LEAD_TIMEOUT):
                raise AssertionError(f"{ip} was not answered by {owner} alone before the trial")
        away = True
        leave()
        gone = time.monotonic()
        for ip in stage.l2_ips.values():
            heir = predicted_owner([ip], stage.nodes - {node})
            if not watches[ip].until(_alone(heir, gone), gone + FAILOVER_WINDOW):
                raise AssertionError(f"{ip} was not taken over by {heir} alone after {node} left")
        at = time.monotonic()
        back()
        away = False
        restored = time.monotonic()
        for owner, ip in stage.l2_ips.items():
            trial.check(
                watches[ip].until(_alone(owner, restored), restored + RETURN_LIMIT + ALONE),
                f"{ip} answered by {owner} alone within {RETURN_LIMIT} s of {node}'s return",
            )
        end = time.monotonic()
        replies = {ip: [r for r in watch.replies() if r[0] > at] for ip, watch in watches.items()}
        own = stage.l2_ips[node]
        trial.figures["return gap"] = failback_outage(watches[own].replies(), at, node, end)[0]
        trial.figures["doubled"] = max(wire_judge.longest_doubled(r) for r in replies.values())
        trial.figures["others' silence"] = max(
            wire_judge.longest_silence(r, at, end) for ip, r in replies.items() if ip != own
        )
        trial.check(trial.figures["return gap"] <= UNPLANNED_LIMIT, f"{node} answers {own} within the bound")
        trial.check(
            trial.figures["doubled"] <= UNPLANNED_LIMIT,
            f"no VIP answered by two nodes for more than {UNPLANNED_LIMIT} s",
        )
        for owner, ip in stage.l2_ips.items():
            if owner != node:
                trial.check(
                    wire_judge.answered_by(replies[ip], at, end) == {owner},
                    f"{ip} stays with {owner} while {node} returns",
                )
    finally:
        if away:
            back()
        for watch in watches.values():
            watch.close()
        _running(stage, node)


PODS_BACK_WITHIN = 120.0  # seconds the cluster may take to run new Pods after the API server returned


def _lab_whole_again(stage: Stage) -> None:
    """Return once the cluster runs new Pods on every node again (bounded), so the next trial or
    test does not wait on Kubernetes: while the API server was away the node lifecycle controller
    may have marked the nodes NotReady and tainted them, and the kubelets resume their watches
    after a backoff. Seen in make test: the next tests' Pods did not start for ~40 s."""
    nodes.wait_recovered(lifecycle.api_client(stage.lab), sorted(stage.nodes), datetime.now(UTC))
    app = unique("pods-back")
    want = len(stage.nodes)
    stage.l2.deploy(stage.namespace, app, replicas=want, one_per_node=True)
    path = f"/apis/apps/v1/namespaces/{stage.namespace}/deployments/{app}"
    try:
        wait_for(
            f"a new Pod ready on each of {want} nodes after the API server returned",
            lambda: (stage.l2.api.request("GET", path).get("status") or {}).get("readyReplicas") == want,
            timeout=PODS_BACK_WITHIN,
        )
    finally:
        with contextlib.suppress(Exception):
            stage.l2.api.request("DELETE", path)


def api_outage(stage: Stage, trial: Trial, seconds: float = API_OUTAGE) -> None:
    """The lab's kube-apiserver stopped for ``seconds``: layer 2 keeps answering, and killing the
    owner halfway through still fails over (membership needs no API). After the API server
    returns, every surviving speaker serves a new Service (it resynced) while the failed-over VIP
    stays where it is; the killed owner then restarts and takes its VIP back.

    The VIPs here belong to Services whose EndpointSlices the stage wrote: after a minute without
    the API server the controller-manager marks the nodes NotReady and their pods unready until
    the kubelets report again, and a VIP with no ready endpoint is rightly announced by nobody.
    That is Kubernetes at work, not the speaker; these Services keep their endpoints throughout.
    """
    owner = _victim(stage, trial)
    vip = stage.api_ips[owner]
    survivors = stage.nodes - {owner}
    following = predicted_owner([vip], survivors)
    added: list[str] = []
    try:
        with _watching(stage, vip, owner, seconds + WATCH_SECONDS) as watch:
            stopping = time.monotonic()  # SIGTERM; the API server drains for up to 5 s, then SIGKILL
            with daemon_restart.api_server_stopped(stage.lab):
                down = time.monotonic()
                trial.check(not lifecycle.api_ready(stage.lab), "the API server is down")
                time.sleep(max(0.0, down + seconds / 2 - time.monotonic()))  # the outage's first half
                killed = _failover(trial, watch, owner, following, stage.speakers[owner].crash)
                during = wire_judge.answered_by(watch.replies(), down, killed)
                trial.check(
                    during == {owner}, f"{owner} alone answers while the API server is down ({during})"
                )
                time.sleep(max(0.0, down + seconds - time.monotonic()))  # the outage's second half
            up = time.monotonic()
            trial.figures["API down"] = up - stopping  # from its stop to /readyz ok again
            taken = {*stage.l2_ips.values(), *stage.api_ips.values()}
            fresh = owned_ips(survivors, survivors, taken)
            for node, ip in fresh.items():
                # Endpoints written here, not by the controller-manager's EndpointSlice controller
                # (which resyncs on its own schedule): the chain under test is ours alone.
                name = unique(f"resync-{node}")
                stage.cluster.create_service(stage.namespace, _l2_service(name, stage.l2_pool, ip, None))
                stage.l2.endpoint_slice(stage.namespace, name, [node])
                added.append(name)
            _wait_alone(stage, {ip: node for node, ip in fresh.items()}, RESYNC_LIMIT)
            trial.figures["resync"] = time.monotonic() - up
            trial.check(
                trial.figures["resync"] <= RESYNC_LIMIT,
                f"every surviving speaker serves within {RESYNC_LIMIT:.0f} s",
            )
            replies = watch.replies()
            trial.figures["longest silence"] = wire_judge.longest_silence(replies, down, time.monotonic())
            trial.check(
                trial.figures["longest silence"] <= UNPLANNED_LIMIT,
                f"no silence above {UNPLANNED_LIMIT} s from the outage to the resync",
            )
            after = wire_judge.answered_by(replies, killed + FAILOVER_WINDOW, time.monotonic())
            trial.check(after == {following}, f"{vip} stays with {following} through the resync ({after})")
            _return(trial, watch, owner, stage.speakers[owner].start)
    finally:
        _running(stage, owner)
        for name in added:
            with contextlib.suppress(Exception):
                stage.cluster.delete_service(stage.namespace, name)
        _lab_whole_again(stage)


def router_restart(stage: Stage, trial: Trial) -> None:
    """Each lab router's processes restarted in turn: the time until every speaker's session to
    it is Established again and it holds the BGP Service's route via every node, per router."""
    everyone = node_ips(stage.lab, stage.nodes)
    for router in stage.lab.routers:
        at = time.monotonic()
        daemon_restart.restart_router(stage.lab, router)

        def back(router: str = router) -> bool:
            return next_hops(stage.lab, stage.bgp_ip)[router] == everyone and all(
                sessions_up(stage.speakers[node], stage.lab, (router,)) for node in stage.nodes
            )

        try:
            wait_for(f"{router}'s sessions Established and its route via every node", back, ROUTER_LIMIT, 0.1)
            trial.figures[f"{router} back"] = time.monotonic() - at
        except AssertionError as late:
            trial.check(False, str(late))


FAULTS: dict[str, Callable[[Stage, Trial], None]] = {
    "kill -9 L2 owner": kill_l2_owner,
    "kill -9 BGP speaker": kill_bgp_speaker,
    "link flap": link_flap,
    "node return": node_return,
    API_FAULT: api_outage,
    "router restart": router_restart,
}
"""Every fault by the name its trials are printed under, in the order the bench runs them."""


def run_trial(stage: Stage, fault: str, number: int, api_outage_seconds: float = API_OUTAGE) -> Trial:
    """One trial of ``fault``; a trial that raised is returned with its error, never dropped."""
    trial = Trial(fault, number, detail=f"{api_outage_seconds:.0f} s" if fault == API_FAULT else "")
    try:
        settle(stage)
        if fault == API_FAULT:
            api_outage(stage, trial, api_outage_seconds)
        else:
            FAULTS[fault](stage, trial)
    except Exception as error:  # a failed trial is printed and counted
        trial.error = f"{type(error).__name__}: {str(error)[:400]}"
    for node, speaker in stage.speakers.by_node.items():
        # A speaker that exited by itself is a broken promise; it is started again, as the
        # kubelet restarts a DaemonSet's container, so that the next trial finds every node.
        if speaker.process is not None and (status := speaker.process.poll()) is not None:
            trial.check(False, f"the speaker on {node} keeps running (it exited with {status}; restarted)")
            try:
                speaker.start()
            except AssertionError as error:
                trial.error = trial.error or str(error)[:400]
    return trial
