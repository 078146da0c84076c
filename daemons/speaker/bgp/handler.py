"""The BGP protocol handler: plan with ``bgp_plan``, turn BGPPeers into sessions, feed the engine.

The engine (:mod:`.engine`, a child process) runs the sessions and BFD; this handler decides,
from the speaker's :class:`~..handler.Situation`, which peers this node talks to with which
settings (passwords read from Secrets of the speaker's own namespace only) and which routes each
one carries, and reports what the node announces: Events, ServiceBGPStatus objects, metrics.

A BGPPeer field the speaker cannot honour (``vrf``, ``interface``, a password Secret outside the
speaker's namespace or without a ``password`` key) keeps that peer down, with a log line and an
Event on the peer that say which field and why; it is never silently ignored.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.baremetal.lb.plugins.module_utils import bgp_plan
from ansible_collections.baremetal.lb.plugins.module_utils.bgp_replan import BGPNodePlans
from ansible_collections.baremetal.lb.plugins.module_utils.config_model import BGPPeer, Config
from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import BGP_PEER
from ansible_collections.baremetal.lb.plugins.module_utils.session_states import (
    SessionState,
    node_sessions,
    pod_owner,
)
from ansible_collections.baremetal.lb.plugins.module_utils.status_objects import BGP_STATUS_KIND

from ...kube.events import WARNING
from ...kube.kubeapi import JSON
from .. import facts
from ..bfd.settings import BFDSettings
from ..engine_process import EngineProcess
from ..handler import Situation, SpeakerContext
from ..outputs import status_and_reporter
from .metrics import BGPMetrics
from .model import DynamicASN, PeerSettings, Route
from .orders import PeerOrder, routes_to_json
from .session_states import SessionStateWriter

ENGINE = f"{__package__}.engine"  # run with ``python -m`` under the speaker's own import root
DEFAULT_HOLD_TIME = 90  # seconds, as MetalLB
DEFAULT_CONNECT_TIME = 5.0  # seconds: the longest wait between connection attempts

log = logging.getLogger(__name__)


class PeerRefused(ValueError):
    """A BGPPeer this speaker cannot run; the message names the field and the fix."""


def router_id(peer: BGPPeer, node_ipv4: str | None, node: str) -> str:
    """The BGP identifier of a session.

    The peer's routerID, else the node's IPv4 InternalIP, else (an IPv6-only node) four bytes
    of sha256(node name), stable across restarts.
    """
    if peer.router_id is not None:
        return str(peer.router_id)
    if node_ipv4:
        return node_ipv4
    digest = hashlib.sha256(node.encode()).digest()
    return str(ipaddress.IPv4Address(digest[:4]))


def check_peer(peer: BGPPeer, config: Config, namespace: str) -> None:
    """Raise PeerRefused, naming the field and the fix, for a BGPPeer this speaker cannot run.

    ``namespace`` is the speaker's own: the only one it reads password Secrets from.
    """
    if peer.vrf:
        raise PeerRefused(f"vrf {peer.vrf!r}: VRFs are not supported by this speaker; remove vrf")
    if peer.interface or peer.address is None:
        raise PeerRefused("interface: unnumbered BGP is not supported; set peerAddress instead")
    if peer.bfd_profile and peer.bfd_profile not in config.bfd_profiles:
        raise PeerRefused(f"bfdProfile {peer.bfd_profile!r} names no BFDProfile; create it or remove it")
    if peer.bfd_profile and peer.ebgp_multihop:
        raise PeerRefused("bfdProfile: multi-hop BFD (ebgpMultiHop) is not supported; remove one of them")
    secret = peer.password_secret
    if not peer.password and secret and secret[1] and secret[1] != namespace:
        raise PeerRefused(
            f"passwordSecret {secret[1]}/{secret[0]}: the speaker reads Secrets only in its own "
            f"namespace {namespace}; put the Secret there"
        )


def peer_password(peer: BGPPeer, secret: Callable[[str], JSON | None], namespace: str) -> str:
    """The TCP MD5 key of ``peer``: its password, else the ``password`` key of its Secret.

    ``secret`` looks a Secret of the speaker's ``namespace`` up by name in the speaker's cache
    (no API request per plan); :func:`check_peer` has refused Secrets of other namespaces.
    """
    if peer.password or peer.password_secret is None:
        return str(peer.password)
    name, _namespace = peer.password_secret
    found = secret(name)
    if found is None:
        raise PeerRefused(f"passwordSecret {namespace}/{name} does not exist; create it")
    encoded = (found.get("data") or {}).get("password")
    if not encoded:
        raise PeerRefused(f"passwordSecret {namespace}/{name} has no key 'password'; add it")
    try:
        return base64.b64decode(str(encoded), validate=True).decode()
    except ValueError as invalid:  # binascii.Error and UnicodeDecodeError; the value is not shown
        raise PeerRefused(f"passwordSecret {namespace}/{name}: key 'password' is not text") from invalid


def wire_route(route: bgp_plan.Route) -> Route:
    """The planner's route as the session sends it (communities split into classic and large)."""
    classic = tuple(c.parts[0] << 16 | c.parts[1] for c in route.communities if not c.is_large)
    large = tuple((c.parts[0], c.parts[1], c.parts[2]) for c in route.communities if c.is_large)
    return Route(route.prefix, None, route.local_pref, classic, large)


class BGPHandler:
    """BGP (with BFD) behind the speaker's :class:`~..handler.ProtocolHandler` seam."""

    name = "bgp"

    def __init__(self, context: SpeakerContext) -> None:
        self._context = context
        self._statuses, self._reporter = status_and_reporter(context, self.name, "peers", BGP_STATUS_KIND)
        self._metrics = BGPMetrics(context.metrics.registry)
        self._engine = EngineProcess(
            ENGINE, self._report, lambda status: context.failed("the BGP engine", status)
        )
        self._refused: dict[str, str] = {}  # peer name -> why, as last logged
        self._plans = BGPNodePlans()  # plans again only the Services that changed
        options = context.options
        owner = pod_owner(options.pod_name, options.pod_uid) if options.pod_name and options.pod_uid else None
        self._session_states = SessionStateWriter(context.api, options.namespace, options.node_name, owner)
        self._sessions_lock = threading.Lock()  # apply() and the engine's reports come on two threads
        self._configured: dict[str, str] = {}  # this node's BGPPeers: name -> address
        self._reported: Mapping[str, Mapping[str, Any]] = {}  # the engine's latest sessions
        self._published: dict[str, SessionState] | None = None

    def start(self) -> str | None:
        """Start the engine and the ServiceBGPStatus writer."""
        if self._context.stop.is_set():
            return None
        self._engine.start({"log_level": self._context.options.log_level})  # from the main thread
        self._statuses.start(self._context.stop)
        self._session_states.start(self._context.stop)
        return "BGP engine started"

    def apply(self, situation: Situation) -> None:
        """Plan this node's sessions and routes; send the engine what changed; report."""
        plan = self._plans.plan(
            situation.config,
            situation.me,
            situation.nodes,
            situation.services,
            situation.ignore_exclude_label,
        )
        orders, refused = [], {}
        me = facts.node_named(self._context.nodes(), situation.me)
        node_ipv4 = facts.internal_ip(me, 4) if me else None
        for peer in plan.sessions:
            try:
                orders.append(self._order(peer, situation.config, node_ipv4))
            except PeerRefused as why:
                refused[peer.name] = str(why)
        self._log_refusals(refused)
        self._sessions_changed(
            configured={peer.name: str(peer.address or peer.interface or "") for peer in plan.sessions}
        )
        running = {order.settings.name for order in orders}
        self._engine.send_if_changed("peers", [order.to_json() for order in orders])
        routes = {
            peer: [wire_route(r) for r in items] for peer, items in plan.routes.items() if peer in running
        }
        self._engine.send_if_changed("routes", routes_to_json(routes))
        announced: dict[tuple[str, str], set[str]] = {}
        for item in plan.announcements:
            if item.peer in running:
                announced.setdefault((item.service, str(item.ip)), set()).add(item.peer)
        self._reporter.announcing({key: sorted(peers) for key, peers in announced.items()})

    def shutdown(self) -> None:
        """Stop the sessions (the engine decides how), then remove this node's status objects."""
        self._engine.stop()
        self._statuses.delete_all()
        self._session_states.delete_all()

    def _order(self, peer: BGPPeer, config: Config, node_ipv4: str | None) -> PeerOrder:
        check_peer(peer, config, self._context.options.namespace)
        profile = config.bfd_profiles.get(peer.bfd_profile) if peer.bfd_profile else None
        bfd = BFDSettings.from_profile(profile) if profile else None
        try:
            settings = PeerSettings(
                name=peer.name,
                my_asn=peer.local_asn or peer.my_asn,
                peer_asn=peer.peer_asn,
                peer_address=str(peer.address),
                router_id=router_id(peer, node_ipv4, self._context.options.node_name),
                dynamic_asn=DynamicASN(peer.dynamic_asn) if peer.dynamic_asn else DynamicASN.NONE,
                peer_port=peer.port,
                source_address=str(peer.source_address) if peer.source_address else None,
                hold_time=int(peer.hold_time if peer.hold_time is not None else DEFAULT_HOLD_TIME),
                keepalive_time=int(peer.keepalive_time) if peer.keepalive_time is not None else None,
                connect_time=float(peer.connect_time or DEFAULT_CONNECT_TIME),
                ebgp_multihop=peer.ebgp_multihop,
                password=peer_password(peer, self._context.secret, self._context.options.namespace),
                graceful_restart=peer.graceful_restart,
            )
        except ValueError as invalid:
            raise PeerRefused(str(invalid)) from invalid
        return PeerOrder(settings, bfd)

    def _log_refusals(self, refused: Mapping[str, str]) -> None:
        for name, why in sorted(refused.items()):
            if self._refused.get(name) != why:
                log.warning("bgp peer %s stays down: %s", name, why, extra={"peer": name})
                self._event_on_peer(name, why)
        self._refused = dict(refused)

    def _event_on_peer(self, name: str, why: str) -> None:
        namespace = self._context.options.namespace
        peer = {
            "apiVersion": BGP_PEER.api_version,
            "kind": BGP_PEER.kind,
            "metadata": {"name": name, "namespace": namespace},
        }
        self._context.events.record(
            peer, WARNING, "PeerRefused", f"node {self._context.options.node_name}: {why}"
        )

    def _report(self, message: Mapping[str, Any]) -> None:
        sessions = message.get("sessions")
        if sessions is not None:
            self._metrics.set_sessions(sessions)
            self._sessions_changed(reported=sessions)

    def _sessions_changed(
        self,
        configured: Mapping[str, str] | None = None,
        reported: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Hand the writer this node's session states when they changed (counters alone do not)."""
        with self._sessions_lock:
            if configured is not None:
                self._configured = dict(configured)
            if reported is not None:
                self._reported = reported
            states = node_sessions(self._context.options.node_name, self._configured, self._reported)
            if states != self._published:
                self._published = states
                self._session_states.want(states)  # under the lock: never an older state last
