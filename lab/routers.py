"""The lab's BGP routers: BIRD2, FRR and GoBGP from Debian, each in its own namespace.

Each router accepts BGP sessions from any node address on the LAN (dynamic neighbours), so the
speakers can peer with it without the lab reconfiguring anything; every daemon runs with private
paths under the lab's state directory. lab.json records each router's control endpoint, from
which lab/rib.py reads its RIB.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from . import netns, process, rib, topology

_NODE_RANGE = topology.LAN_HOSTS4


class RouterHost(Protocol):
    """Where a router runs: its namespace and addresses (a lab host or a test's host)."""

    @property
    def netns(self) -> str:
        """The namespace the router runs in."""

    @property
    def ipv4(self) -> str:
        """The router's IPv4 address (also its router ID)."""

    @property
    def ipv6(self) -> str:
        """The router's IPv6 address."""


@dataclass(frozen=True)
class Peering:
    """Whom a router accepts BGP sessions from (a prefix of dynamic neighbours) and how."""

    neighbors: str
    asn: int
    password: str = field(default="", repr=False)
    hold_time: int | None = None  # the router's default when None
    bfd: bool = False  # BIRD and FRR run BFD with every neighbour (GoBGP has no BFD)
    # GoBGP keeps a restarting neighbour's paths (RFC 4724 helper) only when configured to;
    # BIRD ("graceful restart aware") and FRR (helper mode) do it by default.
    gobgp_graceful_restart_helper: bool = False


# BFD as the lab's routers run it: a node whose BGPPeer has a bfdProfile gets a session; one
# without keeps its BGP session (neither router holds BGP down while BFD has never been up).
BFD_INTERVAL_MS = 100
BFD_MULTIPLIER = 3
_LAB_PEERING = Peering(_NODE_RANGE, topology.NODE_ASN, bfd=True)
_FRR_BFD_PROFILE = "lab"
# FRR installs a route with up to this many next hops (one per node announcing it): ECMP.
_ECMP_PATHS = topology.MAX_NODES


def _bird_conf(host: RouterHost, asn: int, peering: Peering) -> str:
    options = f'  password "{peering.password}";\n' if peering.password else ""
    options += f"  hold time {peering.hold_time};\n" if peering.hold_time else ""
    options += "  direct;\n" if peering.asn == asn else ""  # iBGP neighbours are on the LAN too
    options += "  bfd on;\n" if peering.bfd else ""
    bfd = (
        f'protocol bfd {{ interface "*" {{ min rx interval {BFD_INTERVAL_MS} ms; '
        f"min tx interval {BFD_INTERVAL_MS} ms; multiplier {BFD_MULTIPLIER}; }}; }}\n"
        if peering.bfd
        else ""
    )
    return f"""\
router id {host.ipv4};
protocol device {{ }}
{bfd}
protocol kernel kernel4 {{ ipv4 {{ export all; import none; }}; merge paths on; }}
protocol kernel kernel6 {{ ipv6 {{ export all; import none; }}; merge paths on; }}
template bgp lab_nodes {{
  local {host.ipv4} as {asn};
  error wait time 1, 5;
  connect retry time 1;
{options}  ipv4 {{ import all; export none; gateway direct; }};
  ipv6 {{ import all; export none; extended next hop on; gateway direct; }};
}}
protocol bgp nodes from lab_nodes {{
  neighbor range {peering.neighbors} as {peering.asn};
  dynamic name "node";
}}
"""


def _frr_conf(host: RouterHost, asn: int, peering: Peering) -> str:
    options = f" neighbor NODES password {peering.password}\n" if peering.password else ""
    if peering.hold_time:
        options += f" neighbor NODES timers {max(1, peering.hold_time // 3)} {peering.hold_time}\n"
    options += f" neighbor NODES bfd profile {_FRR_BFD_PROFILE}\n" if peering.bfd else ""
    return f"""\
frr defaults traditional
hostname lab-frr
log file {{log}}
router bgp {asn}
 bgp router-id {host.ipv4}
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor NODES peer-group
 neighbor NODES remote-as {peering.asn}
 neighbor NODES timers connect 1
{options} bgp listen range {peering.neighbors} peer-group NODES
 address-family ipv4 unicast
  neighbor NODES activate
  maximum-paths {_ECMP_PATHS}
 exit-address-family
 address-family ipv6 unicast
  neighbor NODES activate
  maximum-paths {_ECMP_PATHS}
 exit-address-family
"""


def _frr_bfd_conf() -> str:
    """The configuration of FRR's bfdd: the profile bgpd's neighbours use."""
    return f"""\
bfd
 profile {_FRR_BFD_PROFILE}
  receive-interval {BFD_INTERVAL_MS}
  transmit-interval {BFD_INTERVAL_MS}
  detect-multiplier {BFD_MULTIPLIER}
 exit
exit
"""


def _gobgp_conf(host: RouterHost, asn: int, peering: Peering) -> str:
    helper = peering.gobgp_graceful_restart_helper
    families = "".join(
        f'  [[peer-groups.afi-safis]]\n    [peer-groups.afi-safis.config]\n      afi-safi-name = "{f}"\n'
        + ("    [peer-groups.afi-safis.mp-graceful-restart.config]\n      enabled = true\n" if helper else "")
        for f in ("ipv4-unicast", "ipv6-unicast")
    )
    options = f'    auth-password = "{peering.password}"\n' if peering.password else ""
    timers = (
        f"  [peer-groups.timers.config]\n    hold-time = {peering.hold_time}\n"
        f"    keepalive-interval = {max(1, peering.hold_time // 3)}\n"
        if peering.hold_time
        else ""
    )
    if helper:
        timers += "  [peer-groups.graceful-restart.config]\n    enabled = true\n    helper-only = true\n"
    return f"""\
[global.config]
  as = {asn}
  router-id = "{host.ipv4}"
  local-address-list = ["{host.ipv4}"]
[[peer-groups]]
  [peer-groups.config]
    peer-group-name = "nodes"
    peer-as = {peering.asn}
{options}{timers}{families}{_gobgp_neighbors(peering)}"""


def _gobgp_neighbors(peering: Peering) -> str:
    """The neighbour section of GoBGP's configuration.

    GoBGP installs TCP MD5 keys only for configured neighbours, so a keyed single-address
    peering becomes one passive neighbour; everything else stays a dynamic-neighbour range.
    """
    network = ipaddress.ip_network(peering.neighbors)
    if peering.password and network.num_addresses == 1:
        return f"""\
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{network.network_address}"
    peer-group = "nodes"
  [neighbors.transport.config]
    passive-mode = true
"""
    return f"""\
[[dynamic-neighbors]]
  [dynamic-neighbors.config]
    prefix = "{peering.neighbors}"
    peer-group = "nodes"
"""


def start(plan: topology.Plan, state_dir: Path) -> tuple[list[process.Started], dict[str, dict[str, object]]]:
    """Start every router of the plan; return the processes and the lab.json facts per router."""
    started: list[process.Started] = []
    facts: dict[str, dict[str, object]] = {}
    log_dir = state_dir / "logs"
    for name in plan.routers:
        host = plan.host(name)
        asn = topology.ROUTERS[name][1]
        work = (plan.runtime_dir if name == "frr" else state_dir / "routers") / name
        work.mkdir(parents=True, exist_ok=True)
        procs, control = start_router(name, host, asn, _LAB_PEERING, work=work, log_dir=log_dir)
        started += procs
        facts[name] = {
            "kind": name,
            "netns": host.netns,
            "ipv4": host.ipv4,
            "ipv6": host.ipv6,
            "asn": asn,
            "control": control,
        }
    return started, facts


def start_router(
    kind: str, host: RouterHost, asn: int, peering: Peering, *, work: Path, log_dir: Path
) -> tuple[list[process.Started], str]:
    """Start one router (``bird``, ``frr`` or ``gobgp``) in ``host``'s namespace.

    Its files live under ``work``; returns its processes and its control endpoint (BIRD's control
    socket, FRR's vty directory, GoBGP's API ``host:port``), what lab/rib.py talks to.
    """
    return _STARTERS[kind](host, asn, peering, work, log_dir)


def _start_bird(
    host: RouterHost, asn: int, peering: Peering, work: Path, log_dir: Path
) -> tuple[list[process.Started], str]:
    conf, sock = work / "bird.conf", work / "bird.ctl"
    conf.write_text(_bird_conf(host, asn, peering))
    bird = process.start("bird", host.netns, ["bird", "-f", "-c", str(conf), "-s", str(sock)], log_dir)
    process.wait_until("BIRD's control socket", sock.exists, 20, bird)
    return [bird], str(sock)


def _start_frr(
    host: RouterHost, asn: int, peering: Peering, work: Path, log_dir: Path
) -> tuple[list[process.Started], str]:
    # FRR drops privileges to user frr: its directory must belong to that user.
    conf = work / "frr.conf"
    conf.write_text(_frr_conf(host, asn, peering).replace("{log}", str(work / "bgpd.log")))
    for path in (work, conf):
        shutil.chown(path, "frr", "frr")
    zapi = str(work / "zserv.api")
    common = ["--vty_socket", str(work), "-z", zapi, "-u", "frr", "-g", "frr"]

    def daemon(name: str, config: Path | str) -> process.Started:
        started = process.start(
            f"frr-{name}",
            host.netns,
            [f"/usr/lib/frr/{name}", "-i", str(work / f"{name}.pid"), *common, "-f", str(config)],
            log_dir,
        )
        process.wait_until(f"{name}'s vty socket", (work / f"{name}.vty").exists, 20, started)
        return started

    daemons = [daemon("zebra", "/dev/null"), daemon("bgpd", conf)]
    if peering.bfd:
        bfd_conf = work / "bfdd.conf"
        bfd_conf.write_text(_frr_bfd_conf())
        shutil.chown(bfd_conf, "frr", "frr")
        daemons.append(daemon("bfdd", bfd_conf))
    return daemons, str(work)


def _start_gobgp(
    host: RouterHost, asn: int, peering: Peering, work: Path, log_dir: Path
) -> tuple[list[process.Started], str]:
    conf = work / "gobgpd.toml"
    conf.write_text(_gobgp_conf(host, asn, peering))
    api = "127.0.0.1:50051"
    return [start_gobgpd("gobgpd", host.netns, conf, api, log_dir)], api


def start_gobgpd(name: str, namespace: str, conf: Path, api: str, log_dir: Path) -> process.Started:
    """Start gobgpd from ``conf`` in ``namespace`` with its API on ``api`` (``host:port``).

    Returns once its CLI answers (20 s at most). A gobgpd that exits, e.g. because its API port
    is taken, fails at once with its log; one whose wait fails in any way (a timeout, Ctrl-C) is
    stopped before the error goes on.
    """
    gobgpd = process.start(
        name,
        namespace,
        ["gobgpd", "-f", str(conf), "-p", f"--api-hosts={api}", "--pprof-disable"],
        log_dir,
    )
    try:
        process.wait_until(
            f"{name}'s API", lambda: answers(namespace, [*rib.gobgp_cli(api), "global"]), 20, gobgpd
        )
    except BaseException:
        process.stop([gobgpd.pid])
        raise
    return gobgpd


def answers(namespace: str, argv: list[str]) -> bool:
    """Tell whether ``argv`` run in ``namespace`` succeeds (a router's CLI answering).

    A CLI still waiting after 5 s has not answered yet: the caller's bounded wait tries again.
    """
    try:
        netns.exec_in(namespace, argv, timeout=5)
    except (netns.NetnsError, OSError, subprocess.TimeoutExpired):
        return False
    return True


_STARTERS = {"bird": _start_bird, "frr": _start_frr, "gobgp": _start_gobgp}


def missing_binaries() -> list[str]:
    """Router programs that are not installed (the lab installs them with `make deps`)."""
    needed = ["bird", "birdc", "/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "/usr/lib/frr/bfdd", "vtysh"]
    needed += ["gobgpd", "gobgp"]
    return [b for b in needed if not (shutil.which(b) or os.access(b, os.X_OK))]
