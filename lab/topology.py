"""The lab's address plan: which namespace gets which name and address.

Only documentation prefixes are used (RFC 5737, RFC 3849):

| prefix              | use                                                        |
|---------------------|------------------------------------------------------------|
| 192.0.2.0/26        | the lab LAN: control plane, nodes, client, routers         |
| 192.0.2.64/26       | suggested layer-2 pool (on-link, answered by ARP)          |
| 2001:db8:1::/64     | the lab LAN, IPv6; 2001:db8:1::1:0/112 the layer-2 pool    |
| 203.0.113.0/26      | suggested BGP pool (off-link, reached through a router)    |
| 2001:db8:2::/64     | suggested BGP pool, IPv6                                   |
| 203.0.113.64/26     | pod addresses: a /28 per real node (kwok's fakes share it) |
| 2001:db8:4::/64     | pod addresses, IPv6: a /80 per real node                   |
| 203.0.113.128/25    | /30 links from the root namespace to a lab's control plane |
| 198.51.100.0/24     | Service cluster IPs (IPv4)                                 |
| 2001:db8:5e::/108   | Service cluster IPs (IPv6)                                 |
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field
from pathlib import Path

LAN4 = ipaddress.ip_network("192.0.2.0/24")
LAN_HOSTS4 = "192.0.2.0/26"
LAN6 = ipaddress.ip_network("2001:db8:1::/64")
L2_POOL4 = "192.0.2.64/26"
L2_POOL6 = "2001:db8:1::1:0/112"
BGP_POOL4 = "203.0.113.0/26"
BGP_POOL6 = "2001:db8:2::/64"
POD_CIDR = "203.0.113.64/26"
POD_CIDR6 = "2001:db8:4::/64"
NODE_POD_PREFIX = (28, 80)  # each real node's share of POD_CIDR and POD_CIDR6
HOST_LINKS = ipaddress.IPv4Network("203.0.113.128/25")
SERVICE_CIDRS = "198.51.100.0/24,2001:db8:5e::/108"
NAMESPACE_PREFIX = "bmlb-"
NODE_ASN = 64500
API_PORT = 6443

# Routers on the LAN, each speaking BGP with every node (dynamic neighbours).
ROUTERS = {"bird": (201, 64512), "frr": (202, 64513), "gobgp": (203, 64514)}
CONTROL_PLANE_HOST = 2
CLIENT_HOST = 100
FIRST_NODE_HOST = 11
# Real nodes (kubelets) are limited by the pod range: POD_CIDR holds four /28s.
MAX_NODES = 2 ** (NODE_POD_PREFIX[0] - ipaddress.ip_network(POD_CIDR).prefixlen)


@dataclass(frozen=True)
class LanHost:
    """One namespace attached to the lab LAN."""

    role: str  # control-plane | node | client | router
    name: str  # short logical name: cp, node1, client, bird …
    netns: str
    host: int  # the host number on both LAN prefixes

    @property
    def ipv4(self) -> str:
        """The host's IPv4 address on the LAN."""
        return str(LAN4.network_address + self.host)

    @property
    def ipv6(self) -> str:
        """The host's IPv6 address on the LAN (host number written in hex digits as decimal)."""
        return str(ipaddress.ip_address(f"2001:db8:1::{self.host}"))


@dataclass(frozen=True)
class Plan:
    """Everything about a lab that follows from its id and size."""

    lab_id: str
    nodes: int
    host_link_slot: int
    routers: tuple[str, ...] = field(default=tuple(ROUTERS))

    @property
    def prefix(self) -> str:
        """The prefix of every namespace of this lab."""
        return f"{NAMESPACE_PREFIX}{self.lab_id}-"

    @property
    def runtime_dir(self) -> Path:
        """A directory every daemon user can reach (FRR drops root; test temp dirs are 0700)."""
        return Path("/run") / f"{NAMESPACE_PREFIX}{self.lab_id}"

    @property
    def switch_netns(self) -> str:
        """The namespace that holds the LAN bridge."""
        return f"{self.prefix}sw"

    @property
    def root_ifname(self) -> str:
        """The one interface this lab puts into the root namespace."""
        return f"bmlb{self.lab_id}"

    @property
    def host_link(self) -> tuple[str, str]:
        """(root side, control-plane side) addresses of the /30 host link."""
        net = list(HOST_LINKS.subnets(new_prefix=30))[self.host_link_slot]
        return str(net.network_address + 1), str(net.network_address + 2)

    def hosts(self) -> list[LanHost]:
        """Every namespace on the LAN, control plane first."""
        hosts = [LanHost("control-plane", "cp", f"{self.prefix}cp", CONTROL_PLANE_HOST)]
        hosts += [
            LanHost("node", f"node{i}", f"{self.prefix}node{i}", FIRST_NODE_HOST + i - 1)
            for i in range(1, self.nodes + 1)
        ]
        hosts.append(LanHost("client", "client", f"{self.prefix}client", CLIENT_HOST))
        hosts += [LanHost("router", r, f"{self.prefix}{r}", ROUTERS[r][0]) for r in self.routers]
        return hosts

    def pod_cidrs(self, node: str) -> tuple[str, str]:
        """The (IPv4, IPv6) pod ranges of a node (node1 gets the first of each)."""
        index = int(node.removeprefix("node")) - 1
        return _nth_subnet(POD_CIDR, NODE_POD_PREFIX[0], index), _nth_subnet(
            POD_CIDR6, NODE_POD_PREFIX[1], index
        )

    def host(self, name: str) -> LanHost:
        """The LAN host with this logical name."""
        for host in self.hosts():
            if host.name == name:
                return host
        raise KeyError(name)


def _nth_subnet(cidr: str, prefixlen: int, index: int) -> str:
    net = ipaddress.ip_network(cidr)
    size = 2 ** (net.max_prefixlen - prefixlen)
    return str(ipaddress.ip_network(f"{net.network_address + index * size}/{prefixlen}"))


def new_lab_id() -> str:
    """A short random id; it makes every namespace and interface name of a lab unique."""
    return secrets.token_hex(2)


def free_host_link_slot(addresses_in_use: set[str]) -> int:
    """The first /30 of HOST_LINKS none of whose addresses is already used in the root namespace."""
    for slot, net in enumerate(HOST_LINKS.subnets(new_prefix=30)):
        if not any(ipaddress.ip_address(a) in net for a in addresses_in_use):
            return slot
    raise RuntimeError(f"all {HOST_LINKS.num_addresses // 4} lab host links are in use; run `make lab-down`")


def check_node_count(nodes: int) -> None:
    """Refuse node counts the address plan cannot hold."""
    if not 1 <= nodes <= MAX_NODES:
        raise ValueError(f"nodes must be between 1 and {MAX_NODES}, not {nodes}")
