"""Wire the lab's namespaces together.

A switch namespace holds a bridge, every host joins it by veth, and one /30 link runs from the
root namespace to the control plane.
"""

from __future__ import annotations

import json
import subprocess

from . import netns, node_config, topology

BRIDGE = "br0"
HOST_IF = "eth0"


def root_addresses() -> set[str]:
    """Every IPv4 address configured in the root namespace (to pick a free host link)."""
    out = subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, text=True, check=True).stdout
    return {a["local"] for link in json.loads(out) for a in link.get("addr_info", [])}


def build(plan: topology.Plan) -> dict[str, dict[str, str]]:
    """Create every namespace and link of the plan; return per-host facts for lab.json."""
    netns.create(plan.switch_netns)
    netns.add_bridge(plan.switch_netns, BRIDGE)
    facts: dict[str, dict[str, str]] = {}
    for host in plan.hosts():
        netns.create(host.netns)
        netns.add_veth(host.netns, HOST_IF, plan.switch_netns, switch_port(host.name))
        netns.enslave(plan.switch_netns, switch_port(host.name), BRIDGE)
        netns.add_address(host.netns, HOST_IF, f"{host.ipv4}/{topology.LAN4.prefixlen}")
        netns.add_address(host.netns, HOST_IF, f"{host.ipv6}/{topology.LAN6.prefixlen}")
        facts[host.name] = {
            "role": host.role,
            "netns": host.netns,
            "interface": HOST_IF,
            "ipv4": host.ipv4,
            "ipv6": host.ipv6,
            "mac": netns.mac_of(host.netns, HOST_IF),
        }
        if host.role == "router":
            netns.sysctl(host.netns, "net.ipv4.ip_forward", "1")
            netns.sysctl(host.netns, "net.ipv6.conf.all.forwarding", "1")
            # ECMP spreads connections (by ports too), not just source/destination pairs.
            netns.sysctl(host.netns, "net.ipv4.fib_multipath_hash_policy", "1")
            netns.sysctl(host.netns, "net.ipv6.fib_multipath_hash_policy", "1")
        if host.role in ("router", "client"):
            no_redirects(host.netns, host.role)
    _client_routes(plan)
    pod_routes(plan)
    pod_bridges(plan)
    service_routes(plan)
    _host_link(plan)
    return facts


def no_redirects(namespace: str, role: str) -> None:
    """No ICMP redirects between the routers and the client, which share the LAN with the nodes.

    A router forwarding the client's packet to a node on that same LAN would otherwise tell the
    client to go to the node directly; the client then sends every later connection to that one
    node, past the router and its ECMP. Routers send none (IPv4), the client accepts none.
    """
    if role == "router":
        keys = [f"net.ipv4.conf.{i}.send_redirects" for i in ("all", HOST_IF)]
    else:
        keys = [f"net.ipv{v}.conf.{i}.accept_redirects" for v in (4, 6) for i in ("all", HOST_IF)]
    for key in keys:
        netns.sysctl(namespace, key, "0")


def switch_port(host: str) -> str:
    """The name of a LAN host's port on the lab switch (the bridge side of its veth)."""
    return host


# A new pod often gets an address an earlier pod of its node had (host-local cycles through a /28
# quickly). The node still holds a neighbour entry with the old pod's MAC and, by the kernel's
# defaults, keeps sending to it for about 8 s (a 5 s delay, then 3 unicast probes) before it
# asks by broadcast: the new pod's readiness probes and first requests are lost. The lab's pod
# bridges re-resolve such an entry by broadcast at once.
_POD_BRIDGE_NEIGHBOUR = {"delay_first_probe_time": "0", "ucast_solicit": "0", "mcast_resolicit": "3"}


def pod_bridges(plan: topology.Plan) -> None:
    """Each node's pod bridge, made before the CNI plugin adopts it, with the neighbour settings above.

    A network namespace has no `neigh.default` to inherit them from.
    """
    for node in (h for h in plan.hosts() if h.role == "node"):
        netns.add_bridge(node.netns, node_config.POD_BRIDGE)
        for family in ("ipv4", "ipv6"):
            for key, value in _POD_BRIDGE_NEIGHBOUR.items():
                netns.sysctl(node.netns, f"net.{family}.neigh.{node_config.POD_BRIDGE}.{key}", value)


def pod_routes(plan: topology.Plan) -> None:
    """Nodes forward for their pods; every node and the control plane route each node's pod ranges to it.

    The control plane needs them because pods reach the API server (through the `kubernetes`
    Service) with their own addresses.
    """
    nodes = [h for h in plan.hosts() if h.role == "node"]
    for node in nodes:
        netns.sysctl(node.netns, "net.ipv4.ip_forward", "1")
        netns.sysctl(node.netns, "net.ipv6.conf.all.forwarding", "1")
    for via in nodes:
        v4, v6 = plan.pod_cidrs(via.name)
        for host in [plan.host("cp"), *nodes]:
            if host != via:
                netns.add_route(host.netns, v4, via=via.ipv4)
                netns.add_route(host.netns, v6, via=via.ipv6)


def service_routes(plan: topology.Plan) -> None:
    """Nodes route the Service ranges to the LAN, as their default route would on a real network.

    kube-proxy's rules rewrite a Service address only after the kernel has found a route for it;
    without one a process in the node's own network namespace (a hostNetwork pod such as the
    speaker, reaching the API server through the `kubernetes` Service) gets "Network is
    unreachable". Pods have a default route through their node already.
    """
    for node in (h for h in plan.hosts() if h.role == "node"):
        for cidr in topology.SERVICE_CIDRS.split(","):
            netns.add_route(node.netns, cidr, dev=HOST_IF)


def _client_routes(plan: topology.Plan) -> None:
    """The client reaches the BGP pools through the FRR router, as a host behind a router would."""
    if "frr" not in plan.routers:
        return
    frr = plan.host("frr")
    client = plan.host("client").netns
    netns.add_route(client, topology.BGP_POOL4, via=frr.ipv4)
    netns.add_route(client, topology.BGP_POOL6, via=frr.ipv6)


def _host_link(plan: topology.Plan) -> None:
    """One veth from the root namespace to the control plane, so the API server can be reached."""
    root_side, cp_side = plan.host_link
    cp = plan.host("cp").netns
    netns.ip("link", "add", plan.root_ifname, "type", "veth", "peer", "name", "host", "netns", cp)
    # IPv4 only on the root side: no link-local IPv6 address appears in the root namespace.
    with open(f"/proc/sys/net/ipv6/conf/{plan.root_ifname}/disable_ipv6", "w") as knob:
        knob.write("1")
    netns.ip("addr", "add", f"{root_side}/30", "dev", plan.root_ifname)
    netns.ip("link", "set", plan.root_ifname, "up")
    netns.add_address(cp, "host", f"{cp_side}/30")
    netns.set_link(cp, "host", up=True)


def teardown(prefix: str, root_ifname: str | None) -> list[str]:
    """Delete every namespace whose name starts with `prefix` (and the host link); return their names."""
    names = netns.list_namespaces(prefix)
    for name in names:
        netns.delete(name)
    if root_ifname:
        # Normally gone with the control-plane namespace; this covers a half-built lab.
        netns.ip("link", "del", root_ifname, check=False)
    return names
