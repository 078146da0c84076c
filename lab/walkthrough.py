"""The end of `make demo`: the reference walk-through, checked from the lab's client as a user would.

After `playbooks/site.yml` has installed the daemons and exposed the lab's two applications
(demo/echo-hname with externalTrafficPolicy Cluster, demo/echo-ip with Local), this shows:

1. the nodes, the daemons' pods and the Services with their LoadBalancer IPs;
2. who announces each IP: the node answering ARP/NDP for a layer-2 IP; for an IP of the BGP
   pool (demo/echo-hname-bgp), which routers (BIRD, FRR, GoBGP) carry its route, with which
   next hops (the nodes) and communities, and FRR's kernel route to it;
3. `curl` to each IP several times, replies rotating across the pods; the BGP IP from the
   client, which reaches it through FRR (ECMP over the nodes that announce it);
4. the Deployment scaled to 5: new pod names answer (then back to 3);
5. a NodePort Service answering on every node's address;
6. the link of the node that announces echo-ip's IP cut while a request loop runs: the loop
   shows the outage and the node that took over; the link is restored afterwards.

Every command it runs is printed first, as the user would type it.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from . import build, probe, rib, topology, workloads
from .http_loop import SCRIPT, Reply, parse
from .state import LabState

NAMESPACE = workloads.NAMESPACE
CLUSTER_APP, LOCAL_APP = workloads.APPS  # exposed with externalTrafficPolicy Cluster and Local
NODEPORT_SERVICE = f"{CLUSTER_APP}-nodeport"
BGP_SERVICE = f"{CLUSTER_APP}-bgp"  # echo-hname again, on an IP of the BGP pool (inventories/lab)


def on_lan(ip: str) -> bool:
    """Whether a LoadBalancer IP is on the lab LAN (layer 2) rather than routed to it (BGP)."""
    address = ipaddress.ip_address(ip)
    return address in (topology.LAN4 if address.version == 4 else topology.LAN6)


def fields(reply: Reply) -> dict[str, str]:
    """The key=value fields of an echo-ip answer (source, pod_ip, pod); none for echo-hname's."""
    return dict(part.split("=", 1) for part in reply.body.split() if "=" in part)


def pod_of(reply: Reply) -> str:
    """The pod that answered: echo-hname's whole answer, or echo-ip's pod= field."""
    return fields(reply).get("pod", reply.body)


def _say(text: str) -> None:
    print(text, flush=True)


class Walkthrough:
    """The walk-through against one lab."""

    def __init__(self, state: LabState) -> None:
        self.state = state
        self.kubectl_bin = str(build.ensure_all(log=False)["kubectl"])

    def kubectl(self, *args: str, show: bool = True, check: bool = True) -> str:
        """Run kubectl against the lab, printing the command and its output when `show`."""
        if show:
            _say(f"$ kubectl {' '.join(args)}")
        proc = subprocess.run(
            [self.kubectl_bin, f"--kubeconfig={self.state.kubeconfig}", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=180,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        if show and proc.stdout.strip():
            _say(proc.stdout.rstrip())
        return proc.stdout

    def requests(self, url: str, count: int, interval: float = 0.05, timeout: float = 1.0) -> list[Reply]:
        """`count` GETs of `url` from the client namespace."""
        argv = [sys.executable, str(SCRIPT), url, f"--count={count}"]
        argv += [f"--interval={interval}", f"--timeout={timeout}"]
        out = self.state.exec("client", argv, timeout=count * (interval + timeout) + 30)
        return [parse(line) for line in out.splitlines() if line.strip()]

    def first_answer(self, url: str, what: str, timeout: float = 10) -> Reply:
        """Ask `url` every 0.2 s until it answers (bounded); the last reply either way."""
        deadline = time.monotonic() + timeout
        reply = self.requests(url, 1)[0]
        while not reply.ok and time.monotonic() < deadline:
            time.sleep(0.2)
            reply = self.requests(url, 1)[0]
        if not reply.ok:
            _say(f"    (gave up after {timeout:.0f} s waiting for {what})")
        return reply

    def vip(self, service: str) -> str:
        """The Service's first LoadBalancer IP (IPv4)."""
        out = self.kubectl(
            "-n",
            NAMESPACE,
            "get",
            "service",
            service,
            "-o",
            "jsonpath={.status.loadBalancer.ingress[*].ip}",
            show=False,
        )
        ips = sorted(out.split(), key=lambda ip: ipaddress.ip_address(ip).version)
        if not ips:
            raise RuntimeError(f"{NAMESPACE}/{service} has no LoadBalancer IP; did playbooks/site.yml run?")
        return ips[0]

    def node_of_pod_ip(self, ip: str) -> str:
        """The node whose pod range holds `ip`."""
        address = ipaddress.ip_address(ip)
        for node, cidrs in self.state.data["pod_cidrs"].items():
            if any(address in ipaddress.ip_network(c) for c in cidrs):
                return str(node)
        return "?"

    # -- the steps ----------------------------------------------------------------------------

    def overview(self) -> None:
        """What a user looks at first."""
        _say("\n==> the cluster: real nodes, the daemons' pods, the exposed Services")
        self.kubectl("get", "nodes", "-o", "wide")
        self.kubectl("-n", "metallb-system", "get", "pods", "-o", "wide")
        self.kubectl("-n", NAMESPACE, "get", "services")

    def announcements(self) -> None:
        """Who announces each LoadBalancer IP: ARP/NDP on the LAN, or BGP routes in the routers."""
        _say("\n==> who announces each LoadBalancer IP")
        for service, ip in self.load_balancer_ips():
            if on_lan(ip):
                mac, host = probe.who_answers(self.state, ip)
                owner = f"{host or 'an unknown host'} ({mac})" if mac else "NOBODY"
                _say(f"    {ip:<15} {service:<22} layer 2: {owner} answers ARP/NDP from the client")
                continue
            _say(f"    {ip:<15} {service:<22} BGP:")
            for router, found in rib.lab_paths(self.state, ip).items():
                _say(f"        {router:<6} AS{self.state.routers[router]['asn']}: {self.describe(found)}")
            _say(f"        FRR's kernel route: {self.frr_kernel_route(ip)}")

    def load_balancer_ips(self) -> list[tuple[str, str]]:
        """(namespace/name, IP) of every LoadBalancer IP in the cluster."""
        out = self.kubectl(
            "get",
            "services",
            "-A",
            "-o",
            "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}"
            " {.status.loadBalancer.ingress[*].ip}{'\\n'}{end}",
            show=False,
        )
        return [(line.split()[0], ip) for line in out.splitlines() for ip in line.split()[1:]]

    def describe(self, paths: list[rib.RibPath]) -> str:
        """One line for a router's paths to an IP: next hops by node, then the communities."""
        if not paths:
            return "no route"
        hops = sorted({hop for path in paths for hop in path.next_hops if not hop.startswith("fe80:")})
        via = ", ".join(f"{self.state.host_of(hop) or '?'} {hop}" for hop in hops)
        communities = sorted({c for path in paths for c in path.communities})
        large = sorted({c for path in paths for c in path.large_communities})
        return f"via {via}; communities {' '.join(communities) or '-'}; large {' '.join(large) or '-'}"

    def frr_kernel_route(self, ip: str) -> str:
        """FRR's forwarding entry for an IP (what the client's packets follow): its next hops by node."""
        routes = json.loads(self.state.exec("frr", ["ip", "-j", "route", "show", ip], check=False) or "[]")
        hops = [hop["gateway"] for r in routes for hop in r.get("nexthops", [r]) if "gateway" in hop]
        kind = "ECMP " if len(hops) > 1 else ""
        return (
            f"{kind}via " + ", ".join(f"{self.state.host_of(h) or '?'} {h}" for h in hops) if hops else "none"
        )

    def curl_each(self, count: int = 6) -> None:
        """Curl each LoadBalancer IP a few times."""
        for service in (CLUSTER_APP, LOCAL_APP):
            vip = self.vip(service)
            _say(f"\n==> curl http://{vip}/ ({NAMESPACE}/{service}), {count} times from the client")
            replies = self.requests(f"http://{vip}/", count)
            for reply in replies:
                _say(f"    {reply.body if reply.ok else 'FAILED: ' + reply.body}")
            pods = {pod_of(r) for r in replies if r.ok}
            _say(f"    {len(pods)} different pods answered {sum(r.ok for r in replies)}/{count} requests")

    def curl_bgp(self, count: int = 12) -> None:
        """Curl the BGP pool's IP from the client, whose packets reach it through FRR."""
        vip = self.vip(BGP_SERVICE)
        _say(f"\n==> curl http://{vip}/ ({NAMESPACE}/{BGP_SERVICE}, BGP pool), {count} times from the client")
        _say(f"    the client routes {topology.BGP_POOL4} through FRR ({self.state.routers['frr']['ipv4']})")
        replies = self.requests(f"http://{vip}/", count)
        nodes = self.pod_nodes()
        for reply in replies:
            _say(
                f"    {reply.body}  [{nodes.get(reply.body, '?')}]"
                if reply.ok
                else f"    FAILED: {reply.body}"
            )
        answered = ", ".join(sorted({nodes.get(r.body, "?") for r in replies if r.ok})) or "no node"
        _say(f"    {sum(r.ok for r in replies)}/{count} answered, from pods on {answered}")

    def pod_nodes(self) -> dict[str, str]:
        """Pod name -> node of the cluster app's pods."""
        out = self.kubectl(
            "-n",
            NAMESPACE,
            "get",
            "pods",
            "-l",
            f"app={CLUSTER_APP}",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName}{'\\n'}{end}",
            show=False,
        )
        return dict(line.split() for line in out.splitlines() if len(line.split()) == 2)

    def scale(self, replicas: int = 5, count: int = 20) -> None:
        """Scale echo-hname and show the new pods answering; scale back afterwards."""
        vip = self.vip(CLUSTER_APP)
        before = self._pod_names()
        _say(f"\n==> scale {CLUSTER_APP} to {replicas}: new pods answer on the same IP")
        try:
            self.kubectl("-n", NAMESPACE, "scale", f"deployment/{CLUSTER_APP}", f"--replicas={replicas}")
            self.kubectl("-n", NAMESPACE, "rollout", "status", f"deployment/{CLUSTER_APP}", "--timeout=120s")
            names = {r.body for r in self.requests(f"http://{vip}/", count) if r.ok}
            new = sorted(names - before)
            _say(f"    {count} requests to {vip}: {len(names)} pods answered; new ones: {', '.join(new)}")
        finally:
            back = f"--replicas={workloads.REPLICAS}"
            self.kubectl("-n", NAMESPACE, "scale", f"deployment/{CLUSTER_APP}", back, show=False)

    def _pod_names(self) -> set[str]:
        out = self.kubectl(
            "-n", NAMESPACE, "get", "pods", "-l", f"app={CLUSTER_APP}", "-o", "name", show=False
        )
        return {line.removeprefix("pod/") for line in out.split()}

    def nodeport(self) -> None:
        """A NodePort Service answers on every node's address."""
        _say("\n==> a NodePort Service answers on every node's address")
        exists = self.kubectl("-n", NAMESPACE, "get", "service", NODEPORT_SERVICE, show=False, check=False)
        if not exists:
            self.kubectl(
                "-n",
                NAMESPACE,
                "expose",
                f"deployment/{CLUSTER_APP}",
                f"--name={NODEPORT_SERVICE}",
                "--type=NodePort",
                "--port=80",
                f"--target-port={workloads.PORT}",
            )
        port = self.kubectl(
            "-n",
            NAMESPACE,
            "get",
            "service",
            NODEPORT_SERVICE,
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
            show=False,
        ).strip()
        for node in self.state.nodes:
            address = self.state.hosts[node]["ipv4"]
            url = f"http://{address}:{port}/"
            reply = self.first_answer(url, f"kube-proxy on {node} to open port {port}")
            text = reply.body if reply.ok else f"FAILED: {reply.body}"
            _say(f"    curl http://{address}:{port}/ ({node}) -> {text}")

    def failover(self, loop_seconds: float = 12.0) -> None:
        """Cut the link of the node announcing echo-ip's IP while requests run; restore it after."""
        vip = self.vip(LOCAL_APP)
        _mac, owner = probe.who_answers(self.state, vip)
        if not owner or owner not in self.state.nodes:
            raise RuntimeError(f"nobody on the LAN answers ARP for {vip}; is the speaker running?")
        interval = 0.05
        _say(
            f"\n==> failover: {vip} ({NAMESPACE}/{LOCAL_APP}, externalTrafficPolicy Local) "
            f"is announced by {owner}"
        )
        _say(f"    a request every {interval * 1000:.0f} ms from the client; then {owner}'s link is cut")
        loop = BackgroundLoop(self.state, f"http://{vip}/", int(loop_seconds / interval), interval)
        cut_at = None
        try:
            loop.wait_for(lambda rs: sum(r.ok for r in rs) >= 10, 10, "10 answers before the cut")
            cut_at = time.monotonic()
            self.state.set_cable(owner, plugged=False)
            _say(f"    {owner}'s cable is pulled (its port on the lab switch goes down)")
            loop.wait_for(
                lambda rs: any(r.ok and r.t > cut_at and self.answered_by(r) != owner for r in rs),
                loop_seconds,
                "an answer from another node after the cut",
            )
        finally:
            self.state.set_cable(owner, plugged=True)
            replies = loop.finish()
        if cut_at is None:
            return
        self._report_failover(replies, cut_at, owner)
        _say(f"    {owner}'s cable is plugged back in")

    def answered_by(self, reply: Reply) -> str:
        """The node of the pod that gave an echo-ip answer (from its pod_ip), or "?"."""
        pod_ip = fields(reply).get("pod_ip")
        return self.node_of_pod_ip(pod_ip) if pod_ip else "?"

    def _report_failover(self, replies: list[Reply], cut_at: float, owner: str) -> None:
        before = [r for r in replies if r.ok and r.t < cut_at]
        after = [r for r in replies if r.ok and r.t > cut_at and self.answered_by(r) != owner]
        failed = [r for r in replies if not r.ok and r.t > cut_at]
        for reply in [*before[-2:], *failed[:3], *after[:2]]:
            when = f"{(reply.t - cut_at) * 1000:+7.0f} ms"
            text = f"{reply.body}  [{self.answered_by(reply)}]" if reply.ok else f"FAILED ({reply.body})"
            _say(f"    {when}  {text}")
        if not after:
            _say("    no other node answered within the loop: the failover did NOT happen")
            return
        outage = after[0].t - (before[-1].t if before else cut_at)
        _say(
            f"    {owner}'s link cut: {len(failed)} requests failed, "
            f"then {self.answered_by(after[0])} answered; "
            f"{outage * 1000:.0f} ms between the last answer before and the first after"
        )


class BackgroundLoop:
    """http_loop running in the client namespace while the caller acts; replies read as they come."""

    def __init__(self, state: LabState, url: str, count: int, interval: float) -> None:
        argv = [sys.executable, str(SCRIPT), url, f"--count={count}", f"--interval={interval}"]
        argv.append("--timeout=0.3")
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", state.hosts["client"]["netns"], *argv],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.replies: list[Reply] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip():
                with self._lock:
                    self.replies.append(parse(line))

    def wait_for(self, done: Callable[[list[Reply]], bool], timeout: float, what: str) -> None:
        """Wait (bounded) until `done(replies so far)`; name what was awaited when it times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            with self._lock:
                if done(list(self.replies)):
                    return
            time.sleep(0.05)
        with self._lock:
            if done(list(self.replies)):
                return
        raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")

    def finish(self) -> list[Reply]:
        """Stop the loop and return every reply."""
        self.process.terminate()
        self.process.wait(10)
        self._reader.join(10)
        return list(self.replies)


def run(state: LabState) -> None:
    """Every step, in order."""
    walk = Walkthrough(state)
    walk.overview()
    walk.announcements()
    walk.curl_each()
    walk.curl_bgp()
    walk.scale()
    walk.nodeport()
    walk.failover()
